// facepay eval pad --sources FILE [--leave-one-source-out]: sequence liveness per development
// source, per attack type, uncalibrated and calibrated (include/facepay/eval/pad_loso.h).
#include <algorithm>
#include <cstdio>

#include "cli_common.h"
#include "commands.h"
#include "facepay/eval/pad_loso.h"

namespace facepay::cli {
namespace {

using nlohmann::json;

std::string Pct(const eval::RateCount& c) {
  char b[64];
  std::snprintf(b, sizeof(b), "%5.1f%% (%zu/%zu)", 100 * c.rate(), c.hits, c.n);
  return b;
}

void PrintTable(const eval::LosoReport& r, bool fitted_modes) {
  std::string name;
  for (const auto& s : r.signals) name += (name.empty() ? "" : "+") + s;
  std::printf("signals %s\n", name.c_str());
  for (const auto& s : r.sources) {
    for (const auto& m : s.modes) {
      const bool fitted = m.mode == "uncalibrated" || m.mode == "calibrated";
      if (fitted != fitted_modes && fitted) continue;
      std::string offs;
      for (const auto& [cam, o] : m.camera_offsets) {
        char b[64];
        std::snprintf(b, sizeof(b), "%s%s %+.2f", offs.empty() ? "" : ", ", cam.c_str(), o);
        offs += b;
      }
      std::printf("  %-12s %-21s thr %.3f  BPCER %s", s.source.c_str(), m.mode.c_str(), m.threshold,
                  Pct(m.bpcer).c_str());
      for (const auto& [type, c] : m.apcer)
        std::printf("  APCER[%s] %s", type.c_str(), Pct(c).c_str());
      if (m.live_unsure.hits > 0) std::printf("  unsure: live %s", Pct(m.live_unsure).c_str());
      for (const auto& [type, c] : m.attack_unsure) {
        if (c.hits > 0) std::printf(" %s %s", type.c_str(), Pct(c).c_str());
      }
      if (m.auc >= 0) {
        std::printf("  AUC %.3f  oracle BPCER@APCER<=1%% %.1f%%", m.auc,
                    100 * m.oracle_bpcer_at_apcer_1pct);
      }
      std::printf("  [%s]\n", offs.c_str());
    }
  }
  for (const auto& [who, d] : {std::pair{"fitted on all sources", r.all_sources_uncalibrated},
                               std::pair{"shipped", r.reference_uncalibrated}}) {
    std::printf(
        "  uncalibrated offset, %s model: %+.2f (attack bound %+.2f, lowest profile %+.2f: %s)\n",
        who, d.offset, d.attack_bound, d.lowest_profile, d.lowest_camera.c_str());
  }
}

}  // namespace

int EvalPadSources(const PadWindowArgs& a) {
  auto samples = eval::ReadPadSources(a.sources, a.data_dir);
  if (!samples.ok()) return Fail(samples.status());
  const int n = ResolveThreads(a.threads);
  ConfigureThreads(n);
  auto pipeline = LoadPipeline(a.models, n, false);
  if (!pipeline) return 1;
  auto model = vision::SequenceModelFromJson(
      pipeline->pack().manifest().value("sequence_liveness", json::object()));
  if (!model.ok()) return Fail(model.status());
  eval::WindowOptions win;
  win.window_ms = a.window_ms;
  win.stride_ms = a.stride_ms;
  win.frames = a.frames;
  std::vector<std::string> failures;
  const auto tracks = eval::TracksFromSamples(*pipeline, *samples, win, n, true, &failures);

  // --signals "cnn;cnn,moire_hf": several sets scored over the same tracks (computed once).
  std::vector<std::vector<std::string>> subsets;
  for (size_t start = 0; start <= a.signals.size();) {
    const size_t end = std::min(a.signals.find(';', start), a.signals.size());
    auto set = SplitCommas(a.signals.substr(start, end - start));
    if (!set.empty()) subsets.push_back(std::move(set));
    start = end + 1;
  }
  if (subsets.empty()) return Fail(InvalidArgument("usage", "--signals names no signal"));
  if (a.compare) {
    subsets.clear();
    for (const auto& s : vision::SignalNames()) subsets.push_back({s});
    for (const auto& s : vision::SignalNames()) {
      if (s != "cnn") subsets.push_back({"cnn", s});
    }
    subsets.push_back(vision::SignalNames());
  }
  for (const auto& sub : subsets) {
    for (const auto& s : sub) {
      if (std::find(vision::SignalNames().begin(), vision::SignalNames().end(), s) ==
          vision::SignalNames().end()) {
        return Fail(InvalidArgument("usage", "unknown signal '" + s + "'"));
      }
    }
  }
  const std::vector<std::string> calibrate = SplitCommas(a.calibrate_signals);
  for (const auto& s : calibrate) {
    const auto& ok = eval::CalibratableSignals();
    if (std::find(ok.begin(), ok.end(), s) == ok.end()) {
      return Fail(InvalidArgument("usage", "signal '" + s + "' cannot be calibrated per camera"));
    }
  }
  json reports = json::array();
  for (const auto& sub : subsets) {
    eval::LosoOptions o;
    o.signals = sub;
    o.calibrate_signals = calibrate;
    const eval::LosoReport r = eval::LeaveOneSourceOut(tracks, win, o, &*model);
    reports.push_back(eval::LosoReportToJson(r));
    if (!a.json_out) PrintTable(r, a.leave_one_source_out);
  }
  if (a.json_out) {
    PrintJson({{"window_ms", a.window_ms},
               {"frames_per_window", a.frames},
               {"sources_file", a.sources},
               {"shipped_uncalibrated_offset", model->uncalibrated_cnn_logit_offset},
               {"shipped_threshold", model->threshold},
               {"calibrate_signals", calibrate},
               {"frame_failures", failures.size()},
               {"reports", reports}});
  } else {
    std::printf("frame failures (no face / unreadable): %zu\n", failures.size());
  }
  return 0;
}

}  // namespace facepay::cli
