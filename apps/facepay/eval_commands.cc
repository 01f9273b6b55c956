// facepay eval verify | eval pad
#include <cstdio>

#include "cli_common.h"
#include "commands.h"
#include "facepay/common/env.h"
#include "facepay/eval/pad_eval.h"
#include "facepay/eval/verify_eval.h"

namespace facepay::cli {
namespace {

using nlohmann::json;

struct VerifyArgs {
  std::string pairs, images, train_pairs, roc_png, models;
  std::string select = "central";
  int folds = 10;
  int threads = 0;
  float threshold = -2;
  float min_accuracy = -1;
  bool json_out = false, all_vs_all = false, flip = false;
};

std::string Pct(double v) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.2f%%", 100 * v);
  return b;
}

void PrintVerifyText(const std::string& title, const eval::VerifyReport& r) {
  std::printf("%s\n", title.c_str());
  std::printf("  pairs %zu (genuine %zu, impostor %zu), failed pairs %zu, failures to detect %zu\n",
              r.pairs, r.genuine, r.impostor, r.failed_pairs, r.failures.size());
  if (!r.kfold.fold_accuracy.empty()) {
    std::printf("  %zu-fold accuracy %s +- %s\n", r.kfold.fold_accuracy.size(),
                Pct(r.kfold.mean_accuracy).c_str(), Pct(r.kfold.std_accuracy).c_str());
  }
  if (!r.threshold_source.empty()) {
    std::printf("  accuracy at threshold %.4f (%s): %s\n", r.threshold, r.threshold_source.c_str(),
                Pct(r.accuracy_at_threshold).c_str());
  }
  std::printf("  AUC %.5f, EER %s (threshold %.4f)\n", r.auc, Pct(r.eer.far).c_str(), r.eer.threshold);
  const std::pair<const char*, const std::optional<eval::OperatingPoint>*> ops[] = {
      {"1e-2", &r.tar_at_far_1e2}, {"1e-3", &r.tar_at_far_1e3},
      {"1e-4", &r.tar_at_far_1e4}, {"1e-5", &r.tar_at_far_1e5}};
  for (const auto& [name, op] : ops) {
    if (*op) {
      std::printf("  TAR at FAR %s: %s (threshold %.4f)\n", name, Pct((*op)->tar).c_str(),
                  (*op)->threshold);
    }
  }
}

int EvalVerify(VerifyArgs& a) {
  a.threads = ResolveThreads(a.threads);
  if (a.pairs.empty() && !a.all_vs_all) {
    return Fail(InvalidArgument("usage", "give --pairs FILE or --all-vs-all"));
  }
  std::vector<eval::LfwPair> pairs, train;
  std::vector<std::string> paths;
  if (!a.pairs.empty()) {
    auto p = eval::ReadLfwPairs(a.pairs, a.images);
    if (!p.ok()) return Fail(p.status());
    pairs = std::move(p).value();
  }
  if (!a.train_pairs.empty()) {
    auto p = eval::ReadLfwPairs(a.train_pairs, a.images);
    if (!p.ok()) return Fail(p.status());
    train = std::move(p).value();
  }
  for (const auto* list : {&pairs, &train}) {
    for (const auto& p : *list) {
      paths.push_back(p.a);
      paths.push_back(p.b);
    }
  }
  if (a.all_vs_all) {
    auto all = eval::ListImages(a.images);
    if (!all.ok()) return Fail(all.status());
    paths.insert(paths.end(), all->begin(), all->end());
  }
  ConfigureThreads(a.threads);
  auto pipeline = LoadPipeline(a.models, a.threads, a.flip);
  if (!pipeline) return 1;
  const auto selection = vision::ParseFaceSelection(a.select);
  const eval::EmbeddingSet set = eval::EmbedAll(*pipeline, paths, a.threads, true, *selection);
  json out = json::object();
  int rc = 0;
  if (!pairs.empty()) {
    size_t failed = 0;
    const auto scored = eval::ScorePairs(set, pairs, &failed);
    eval::VerifyReport r = eval::EvaluatePairs(scored, a.folds);
    r.failed_pairs = failed;
    for (const auto& f : set.failures) {
      for (const auto& p : pairs) {
        if (f.rfind(p.a + ":", 0) == 0 || f.rfind(p.b + ":", 0) == 0) {
          r.failures.push_back(f);
          break;
        }
      }
    }
    if (!train.empty()) {
      r.threshold = eval::BestAccuracyThreshold(eval::ScorePairs(set, train, nullptr));
      r.threshold_source = "best accuracy on " + a.train_pairs;
    } else if (a.threshold >= -1) {
      r.threshold = a.threshold;
      r.threshold_source = "--threshold";
    } else {
      r.threshold = pipeline->pack().params().verify_cosine;
      r.threshold_source = "manifest verify_cosine";
    }
    r.accuracy_at_threshold = eval::AccuracyAt(scored, r.threshold);
    out["pairs_file"] = a.pairs;
    out["verification"] = eval::VerifyReportToJson(r);
    if (!a.json_out) PrintVerifyText("verification: " + a.pairs, r);
    if (!a.roc_png.empty()) {
      Status s = eval::WriteRocPng(r.roc, "ROC " + a.pairs, a.roc_png);
      if (!s.ok()) return Fail(s);
    }
    const double acc = train.empty() && a.threshold < -1 ? r.kfold.mean_accuracy : r.accuracy_at_threshold;
    if (a.min_accuracy >= 0 && acc < a.min_accuracy) {
      std::fprintf(stderr, "facepay: accuracy %.4f is below the floor %.4f\n", acc, a.min_accuracy);
      rc = 1;
    }
  }
  if (a.all_vs_all) {
    const eval::VerifyReport r = eval::EvaluateAllVsAll(set);
    out["all_vs_all"] = eval::VerifyReportToJson(r);
    out["all_vs_all"].erase("failures");
    if (!a.json_out) PrintVerifyText("all-vs-all: " + a.images, r);
    if (!a.roc_png.empty() && pairs.empty()) {
      Status s = eval::WriteRocPng(r.roc, "ROC all-vs-all " + a.images, a.roc_png);
      if (!s.ok()) return Fail(s);
    }
  }
  out["model"] = pipeline->pack().params().embedder_model_id;
  out["flip"] = a.flip;
  out["select"] = a.select;
  if (a.json_out) PrintJson(out);
  return rc;
}

struct PadArgs {
  std::vector<std::string> live, attack;
  std::string labels, models;
  float threshold = -1;
  int threads = 0;
  eval::PadEvalOptions opt;
  bool json_out = false;
  std::string scores_out;
  PadWindowArgs win;  // sequence mode
};

int EvalPad(PadArgs& a) {
  if (!a.win.sources.empty() || a.win.window_ms > 0) {
    PadWindowArgs w = a.win;
    w.live = a.live;
    w.attack = a.attack;
    w.labels = a.labels;
    w.models = a.models;
    w.threads = a.threads;
    w.scores_out = a.scores_out;
    w.json_out = a.json_out;
    if (!w.sources.empty()) {
      if (w.window_ms <= 0) w.window_ms = 1000;
      if (w.data_dir.empty()) w.data_dir = DataDir();
      return EvalPadSources(w);
    }
    return EvalPadWindows(w);
  }
  a.threads = ResolveThreads(a.threads);
  auto collected = eval::CollectSamples(a.live, a.attack, a.labels);
  if (!collected.ok()) return Fail(collected.status());
  const std::vector<eval::PadSample>& samples = *collected;
  if (samples.empty()) return Fail(InvalidArgument("usage", "give --live/--attack or --labels"));
  ConfigureThreads(a.threads);
  auto pipeline = LoadPipeline(a.models, a.threads, false);
  if (!pipeline) return 1;
  if (a.threshold < 0) a.threshold = pipeline->pack().params().liveness_live;
  a.opt.threads = a.threads;
  const eval::PadScores scores = eval::ScorePad(*pipeline, samples, a.opt);
  const eval::PadReport r = eval::EvaluatePad(scores, a.threshold);
  json out = eval::PadReportToJson(r);
  out["failures"] = scores.failures;
  if (!a.scores_out.empty()) {
    std::FILE* f = std::fopen(a.scores_out.c_str(), "w");
    if (!f) return Fail(InvalidArgument("write_failed", "cannot write " + a.scores_out));
    for (const auto& s : scores.scored) {
      std::fprintf(f, "%s\t%s\t%.6f\n", s.source.c_str(), s.label.c_str(), s.score);
    }
    std::fclose(f);
  }
  if (a.json_out) {
    PrintJson(out);
  } else {
    std::printf("presentation attack detection: %zu bona fide, %zu attack samples, %zu failures\n",
                r.bona_fide, r.attacks, r.failures);
    std::printf("  at threshold %.3f: APCER %s, BPCER %s, ACER %s\n", a.threshold,
                Pct(r.at_threshold.apcer).c_str(), Pct(r.at_threshold.bpcer).c_str(),
                Pct(r.at_threshold.acer()).c_str());
    for (const auto& [type, p] : r.per_attack) {
      std::printf("    APCER[%s] %s\n", type.c_str(), Pct(p.apcer).c_str());
    }
    std::printf("  BPCER at APCER<=1%%: %s (threshold %.4f)\n", Pct(r.bpcer_at_apcer_1pct.bpcer).c_str(),
                r.bpcer_at_apcer_1pct.threshold);
    std::printf("  BPCER at APCER<=5%%: %s (threshold %.4f)\n", Pct(r.bpcer_at_apcer_5pct.bpcer).c_str(),
                r.bpcer_at_apcer_5pct.threshold);
    std::printf("  AUC %.4f\n", r.auc);
  }
  return 0;
}

}  // namespace

void AddEvalCommands(CLI::App& app, int& exit_code) {
  auto* ev = app.add_subcommand("eval", "Measure accuracy on real data");
  ev->require_subcommand(1);

  static VerifyArgs va;
  auto* v = ev->add_subcommand("verify", "1:1 verification on LFW-format pair lists");
  v->add_option("--pairs", va.pairs, "LFW pair list (View 1 or View 2 format)");
  v->add_option("--images", va.images, "Image folder (Name/Name_NNNN.jpg)")->required();
  v->add_option("--folds", va.folds, "k for k-fold accuracy")->check(CLI::Range(2, 100));
  v->add_option("--train-pairs", va.train_pairs, "Choose the threshold on this pair list");
  v->add_option("--threshold", va.threshold, "Evaluate at this fixed cosine threshold");
  v->add_option("--threads", va.threads, "Worker threads (default: all cores)")->check(CLI::Range(0, 64));
  v->add_option("--roc", va.roc_png, "Write the ROC curve as a PNG");
  v->add_option("--min-accuracy", va.min_accuracy, "Exit 1 when accuracy is below this (0..1)");
  v->add_option("--select", va.select, "Face per image: central (default; LFW is framed on the named person) or largest")
      ->check(CLI::IsMember({"central", "largest"}));
  v->add_flag("--all-vs-all", va.all_vs_all, "Also compare every image pair under --images");
  v->add_flag("--flip", va.flip, "Average with the mirrored face's embedding");
  v->add_flag("--json", va.json_out, "JSON report on stdout");
  v->add_option("--models", va.models, "Model pack folder");
  v->callback([&] { exit_code = EvalVerify(va); });

  static PadArgs pa;
  auto* p = ev->add_subcommand("pad", "Presentation-attack detection: APCER/BPCER");
  p->add_option("--live", pa.live, "Bona fide images, folders or videos");
  p->add_option("--attack", pa.attack, "Attacks: [TYPE][@CAMERA]:PATH[#FROM-TO] (image, folder or video)");
  p->add_option("--labels", pa.labels, "Labels file: <path>TAB<live|attack type> per line");
  p->add_option("--threshold", pa.threshold, "Liveness threshold (default: the manifest's)");
  p->add_option("--threads", pa.threads, "Worker threads (default: all cores)")->check(CLI::Range(0, 64));
  p->add_option("--frame-step", pa.opt.frame_step, "Videos: score every Nth frame")->check(CLI::Range(1, 1000));
  p->add_option("--max-frames", pa.opt.max_frames, "Videos: at most N frames per file")->check(CLI::Range(1, 100000));
  p->add_option("--scores", pa.scores_out, "Write every sample's score (TSV)");
  p->add_option("--window-ms", pa.win.window_ms,
                 "Sequence mode: score windows of this length with the fused model (0 = per frame)")
      ->check(CLI::Range(0.0, 10000.0));
  p->add_option("--stride-ms", pa.win.stride_ms, "Sequence mode: window start step for videos")
      ->check(CLI::Range(10.0, 10000.0));
  p->add_option("--frames", pa.win.frames, "Sequence mode: frames analysed per window")->check(CLI::Range(2, 60));
  p->add_option("--fps", pa.win.fps,
                "Sequence mode: folders of numbered frames are a video captured at this rate")
      ->check(CLI::Range(0.0, 1000.0));
  p->add_option("--camera-profile", pa.win.camera_profiles, "Sequence mode: camera calibration NAME=FILE");
  p->add_option("--sources", pa.win.sources,
                "Sequence mode per development source: lines 'SOURCE SPEC [fps=N] [stills]' "
                "(config/cameras/dev-sources.txt)");
  p->add_option("--data-dir", pa.win.data_dir, "Folder the --sources paths are under (default: FACEPAY_DATA_DIR)");
  p->add_flag("--leave-one-source-out", pa.win.leave_one_source_out,
              "With --sources: fit on all sources but one, score the one left out, uncalibrated and calibrated");
  p->add_option("--signals", pa.win.signals, "With --leave-one-source-out: comma-separated fused signals; several sets separated by ';'");
  p->add_option("--calibrate-signals", pa.win.calibrate_signals,
                "With --leave-one-source-out: crop signals also calibrated per camera on its genuine "
                "median (experiment; the product calibrates the CNN only)");
  p->add_flag("--compare", pa.win.compare,
              "With --leave-one-source-out: each signal alone, the CNN with each other, and all");
  p->add_flag("--json", pa.json_out, "JSON report on stdout");
  p->add_option("--models", pa.models, "Model pack folder");
  p->callback([&] { exit_code = EvalPad(pa); });
}

}  // namespace facepay::cli
