// facepay liveness [--video FILE | IMG...] | liveness calibrate | liveness fit
#include <algorithm>
#include <cstdio>

#include "cli_common.h"
#include "commands.h"
#include "facepay/eval/metrics.h"
#include "facepay/eval/sequence_data.h"
#include "facepay/vision/active_challenge.h"

namespace facepay::cli {
namespace {

using nlohmann::json;

struct LivenessArgs {
  std::vector<std::string> live, attack, synthetic, inputs;
  std::string labels, models, out, camera = "default";
  std::vector<std::string> camera_profiles;  // NAME=FILE or FILE (applies to camera "default")
  std::string signals = "cnn,planarity,blink,mouth,identity,bezel,jitter";
  eval::WindowOptions win;
  int threads = 0;
  float l2 = 0.05f;
  float max_apcer = 0.01f;
  bool json_out = false;
  bool compare = false;
};

StatusOr<std::vector<eval::PadSample>> Samples(const LivenessArgs& a) {
  return eval::CollectSamples(a.live, a.attack, a.labels);
}

// Camera name -> CNN logit offset from --camera-profile NAME=FILE (or FILE: its own name).
StatusOr<std::map<std::string, float>> CameraOffsets(const std::vector<std::string>& specs) {
  std::map<std::string, float> out;
  for (const auto& spec : specs) {
    const auto eq = spec.find('=');
    const std::string file = eq == std::string::npos ? spec : spec.substr(eq + 1);
    FACEPAY_ASSIGN_OR_RETURN(vision::CameraProfile p, vision::LoadCameraProfile(file));
    out[eq == std::string::npos ? p.camera : spec.substr(0, eq)] = p.cnn_logit_offset;
  }
  return out;
}

// Cameras of `tracks` with no profile, each with the offset it is judged at (a warning on
// every report that contains one).
json UncalibratedCameras(const std::vector<eval::CueTrack>& tracks,
                         const std::map<std::string, float>& offsets, const vision::SequenceModel& m) {
  json out = json::object();
  for (const auto& t : tracks) {
    if (offsets.count(t.camera) == 0) out[t.camera] = m.uncalibrated_cnn_logit_offset;
  }
  return out;
}

// facepay liveness: windows of one video or one image sequence, each with its verdict.
int Score(LivenessArgs& a) {
  const int threads = ResolveThreads(a.threads);
  ConfigureThreads(threads);
  auto pipeline = LoadPipeline(a.models, threads, false);
  if (!pipeline) return 1;
  auto model = vision::SequenceModelFromJson(pipeline->pack().manifest().value("sequence_liveness", json::object()));
  if (!model.ok()) return Fail(model.status());
  std::vector<eval::PadSample> samples;
  for (const auto& p : a.inputs) {
    auto spec = eval::ParseSampleSpec(p, "input");
    if (!spec.ok()) return Fail(spec.status());
    samples.push_back(*spec);
  }
  auto offsets = CameraOffsets(a.camera_profiles);
  if (!offsets.ok()) return Fail(offsets.status());
  std::vector<std::string> failures;
  auto tracks = eval::TracksFromSamples(*pipeline, samples, a.win, threads, true, &failures);
  const auto windows =
      eval::WindowsFromTracks(tracks, a.win, *offsets, model->uncalibrated_cnn_logit_offset);
  json out = json::array();
  int live = 0;
  for (const auto& w : windows) {
    const auto v = vision::FuseWindow(*model, w.signals);
    live += v.live;
    json sig = json::object();
    for (const auto& s : v.signals) sig[s.name] = {{"value", s.value}, {"contribution", s.contribution}};
    out.push_back({{"window", w.source}, {"score", v.score}, {"live", v.live},
                   {"frames", w.signals.frames}, {"face_frames", w.signals.face_frames},
                   {"signals", sig}});
  }
  const bool decision = !windows.empty() && live * 2 > static_cast<int>(windows.size());
  PrintJson({{"windows", out}, {"live_windows", live}, {"threshold", model->threshold},
             {"uncalibrated_cameras", UncalibratedCameras(tracks, *offsets, *model)},
             {"decision", windows.empty() ? "no_face" : decision ? "live" : "attack"},
             {"failures", failures}});
  return 0;
}

int Calibrate(LivenessArgs& a) {
  const int threads = ResolveThreads(a.threads);
  ConfigureThreads(threads);
  auto pipeline = LoadPipeline(a.models, threads, false);
  if (!pipeline) return 1;
  auto samples = Samples(a);
  if (!samples.ok()) return Fail(samples.status());
  if (samples->empty()) return Fail(InvalidArgument("usage", "give --live with genuine passages"));
  std::vector<std::string> failures;
  const auto tracks = eval::TracksFromSamples(*pipeline, *samples, a.win, threads, true, &failures);
  std::vector<float> p;
  for (const auto& t : tracks) {
    for (const auto& c : t.cues) {
      if (c.has_face) p.push_back(c.cnn_p_live);
    }
  }
  if (p.size() < 20) {
    return Fail(FailedPrecondition("too_few_frames", "need at least 20 genuine frames with a face, got " +
                                                         std::to_string(p.size())));
  }
  const auto prof = vision::CalibrateCamera(a.camera, p, /*target_logit=*/2.0f);
  if (!a.out.empty()) {
    Status s = vision::SaveCameraProfile(prof, a.out);
    if (!s.ok()) return Fail(s);
  }
  PrintJson({{"camera", prof.camera}, {"cnn_logit_offset", prof.cnn_logit_offset},
             {"frames_used", prof.frames_used}, {"written_to", a.out}});
  return 0;
}

}  // namespace

// Shared by `liveness fit` and `eval pad --window-ms`: per-signal and fused PAD report.
json WindowPadReport(const std::vector<eval::WindowSample>& w, const vision::SequenceModel& m) {
  std::vector<float> live, attack;
  std::map<std::string, std::vector<float>> by_type;
  for (const auto& s : w) {
    const float v = vision::FuseWindow(m, s.signals).score;
    (s.label == "live" ? live : attack).push_back(v);
    if (s.label != "live") by_type[s.label].push_back(v);
  }
  json r{{"windows_bona_fide", live.size()}, {"windows_attack", attack.size()}};
  const auto at = eval::PadAt(live, attack, m.threshold);
  r["fused"] = {{"threshold", m.threshold}, {"apcer", at.apcer}, {"bpcer", at.bpcer},
                {"bpcer_at_apcer_1pct", eval::BpcerAtApcer(live, attack, 0.01).bpcer},
                {"auc", eval::AreaUnderCurve(eval::ComputeRoc(live, attack))}};
  json per_type = json::object();
  for (const auto& [t, v] : by_type) per_type[t] = {{"apcer", eval::PadAt(live, v, m.threshold).apcer}, {"n", v.size()}};
  r["fused"]["per_attack_type"] = per_type;
  json per_signal = json::object();
  for (const auto& name : vision::SignalNames()) {
    std::vector<float> sl, sa;
    for (const auto& s : w) (s.label == "live" ? sl : sa).push_back(s.signals.values.at(name));
    double auc = eval::AreaUnderCurve(eval::ComputeRoc(sl, sa));
    const bool flip = auc < 0.5;  // orient each signal so that higher = more live
    if (flip) {
      for (auto& x : sl) x = -x;
      for (auto& x : sa) x = -x;
      auc = 1 - auc;
    }
    per_signal[name] = {{"auc", auc}, {"higher_is_live", !flip},
                        {"bpcer_at_apcer_1pct", eval::BpcerAtApcer(sl, sa, 0.01).bpcer},
                        {"bpcer_at_apcer_5pct", eval::BpcerAtApcer(sl, sa, 0.05).bpcer}};
  }
  r["per_signal"] = per_signal;
  return r;
}

namespace {

std::vector<vision::WindowSignals> SignalsOf(const std::vector<eval::WindowSample>& ws) {
  std::vector<vision::WindowSignals> out;
  for (const auto& w : ws) out.push_back(w.signals);
  return out;
}

// Fits on all windows (threshold: lowest with APCER <= max_apcer) and reports in-sample and
// leave-one-source-out results.
json FitAndReport(const std::vector<eval::WindowSample>& windows, const std::vector<std::string>& use,
                  const LivenessArgs& a) {
  std::vector<bool> live;
  for (const auto& w : windows) live.push_back(w.label == "live");
  vision::SequenceModel m = vision::FitSequenceModel(SignalsOf(windows), live, use, a.l2);
  // Security first: APCER <= max_apcer for EVERY attack type (the worst-case species), not
  // just pooled, so an easy attack type cannot hide a weak one.
  std::vector<float> ls;
  std::map<std::string, std::vector<float>> by_type;
  for (const auto& w : windows) {
    const float v = vision::FuseWindow(m, w.signals).score;
    (w.label == "live" ? ls : by_type[w.label]).push_back(v);
  }
  float t = 0.001f;
  for (const auto& [type, scores] : by_type) t = std::max(t, eval::BpcerAtApcer(ls, scores, a.max_apcer).threshold);
  m.threshold = std::min(t, 0.999f);
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t i = 0; i < windows.size(); ++i) groups[windows[i].group].push_back(i);
  std::vector<float> cl, ca;
  for (const auto& [g, idx] : groups) {
    std::vector<eval::WindowSample> train;
    std::vector<bool> tl;
    for (size_t i = 0; i < windows.size(); ++i) {
      if (windows[i].group == g) continue;
      train.push_back(windows[i]);
      tl.push_back(live[i]);
    }
    const auto mg = vision::FitSequenceModel(SignalsOf(train), tl, use, a.l2);
    for (size_t i : idx) (live[i] ? cl : ca).push_back(vision::FuseWindow(mg, windows[i].signals).score);
  }
  json report = WindowPadReport(windows, m);
  report["leave_one_source_out"] = {
      {"bpcer_at_apcer_1pct", eval::BpcerAtApcer(cl, ca, 0.01).bpcer},
      {"auc", eval::AreaUnderCurve(eval::ComputeRoc(cl, ca))},
      {"at_fitted_threshold", {{"apcer", eval::PadAt(cl, ca, m.threshold).apcer},
                               {"bpcer", eval::PadAt(cl, ca, m.threshold).bpcer}}}};
  report["model"] = vision::SequenceModelToJson(m);
  return report;
}

int Fit(LivenessArgs& a) {
  const int threads = ResolveThreads(a.threads);
  ConfigureThreads(threads);
  auto pipeline = LoadPipeline(a.models, threads, false);
  if (!pipeline) return 1;
  std::vector<std::string> failures;
  auto samples = Samples(a);
  if (!samples.ok()) return Fail(samples.status());
  auto offsets = CameraOffsets(a.camera_profiles);
  if (!offsets.ok()) return Fail(offsets.status());
  auto tracks = eval::TracksFromSamples(*pipeline, *samples, a.win, threads, true, &failures);
  std::vector<std::string> synth;
  for (const auto& p : a.synthetic) {
    auto f = eval::ListImages(p);
    if (!f.ok()) return Fail(f.status());
    synth.insert(synth.end(), f->begin(), f->end());
  }
  auto st = eval::SyntheticPhotoTracks(*pipeline, synth, a.win, 20261122u, threads, true);
  tracks.insert(tracks.end(), st.begin(), st.end());
  // Fitting sees raw CNN logits from cameras without a profile (offset 0), as the shipped fit
  // did; deciding never does (SequenceModel::uncalibrated_cnn_logit_offset).
  const auto windows = eval::WindowsFromTracks(tracks, a.win, *offsets, 0.f);
  const std::vector<std::string> use = SplitCommas(a.signals);
  for (const auto& n : use) {
    if (std::find(vision::SignalNames().begin(), vision::SignalNames().end(), n) ==
        vision::SignalNames().end()) {
      return Fail(InvalidArgument("usage", "unknown signal '" + n + "'"));
    }
  }
  json report = FitAndReport(windows, use, a);
  report["failures"] = failures.size();
  if (a.compare) {
    // Each signal alone, the CNN with each other signal, and everything: keep what helps.
    std::vector<std::vector<std::string>> subsets;
    for (const auto& n : vision::SignalNames()) subsets.push_back({n});
    for (const auto& n : vision::SignalNames()) {
      if (n != "cnn") subsets.push_back({"cnn", n});
    }
    subsets.push_back(vision::SignalNames());
    json table = json::array();
    for (const auto& sub : subsets) {
      const json r = FitAndReport(windows, sub, a);
      std::string name;
      for (const auto& n : sub) name += (name.empty() ? "" : "+") + n;
      table.push_back({{"signals", name},
                       {"in_sample_bpcer_at_apcer_1pct", r["fused"]["bpcer_at_apcer_1pct"]},
                       {"in_sample_auc", r["fused"]["auc"]},
                       {"loso_bpcer_at_apcer_1pct", r["leave_one_source_out"]["bpcer_at_apcer_1pct"]},
                       {"loso_auc", r["leave_one_source_out"]["auc"]}});
    }
    report["compare"] = table;
  }
  PrintJson(report);
  return 0;
}

void AddWindowOptions(CLI::App* c, LivenessArgs& a) {
  c->add_option("--window-ms", a.win.window_ms, "Window length")->check(CLI::Range(100.0, 10000.0));
  c->add_option("--stride-ms", a.win.stride_ms, "Videos: window start step")->check(CLI::Range(10.0, 10000.0));
  c->add_option("--frames", a.win.frames, "Frames analysed per window")->check(CLI::Range(2, 60));
  c->add_option("--threads", a.threads, "Worker threads (default: all cores)")->check(CLI::Range(0, 64));
  c->add_option("--models", a.models, "Model pack folder");
  c->add_option("--camera-profile", a.camera_profiles,
                "Camera calibration NAME=FILE (from liveness calibrate --out); repeatable");
}

}  // namespace

// facepay liveness challenge: checks a recorded response against a prompted order.
int Challenge(LivenessArgs& a, const std::string& order_text, uint64_t seed, int steps) {
  std::vector<vision::ChallengeAction> order;
  for (const auto& name : SplitCommas(order_text)) {
    vision::ChallengeAction act;
    if (!vision::ParseChallengeAction(name, &act)) {
      return Fail(InvalidArgument("usage", "unknown action '" + name +
                                               "' (blink, turn_left, turn_right, smile)"));
    }
    order.push_back(act);
  }
  vision::ActiveChallenge ch = order.empty() ? vision::ActiveChallenge::Random(seed, steps, {})
                                             : vision::ActiveChallenge(order, {});
  if (a.inputs.size() != 1) return Fail(InvalidArgument("usage", "give one video"));
  const int n = ResolveThreads(a.threads);
  ConfigureThreads(n);
  auto pipeline = LoadPipeline(a.models, n, false);
  if (!pipeline) return 1;
  auto spec = eval::ParseSampleSpec(a.inputs[0], "input");
  if (!spec.ok()) return Fail(spec.status());
  a.win.window_ms = 1000;
  a.win.frames = 10;  // 10 frames per second of video
  a.win.max_windows = 10000;
  const auto tracks = eval::TracksFromSamples(*pipeline, {*spec}, a.win, n, true, nullptr);
  for (const auto& t : tracks) {
    for (const auto& c : t.cues) ch.Observe(c);
  }
  json prompts = json::array();
  for (auto act : ch.order()) prompts.push_back(vision::ChallengeActionName(act));
  const bool passed = ch.state() == vision::ChallengeState::kPassed;
  PrintJson({{"order", prompts}, {"completed", ch.completed()},
             {"result", passed ? "passed" : "failed"},
             {"failure", passed ? "" : ch.failure().empty() ? "incomplete" : ch.failure()}});
  return 0;
}

int EvalPadWindows(const PadWindowArgs& args) {
  LivenessArgs a;
  a.live = args.live;
  a.attack = args.attack;
  a.labels = args.labels;
  a.models = args.models;
  a.camera_profiles = args.camera_profiles;
  a.win.window_ms = args.window_ms;
  a.win.stride_ms = args.stride_ms;
  a.win.frames = args.frames;
  const double window_ms = args.window_ms;
  const int frames = args.frames;
  const std::string& scores_out = args.scores_out;
  const int n = ResolveThreads(args.threads);
  ConfigureThreads(n);
  auto samples = Samples(a);
  if (!samples.ok()) return Fail(samples.status());
  if (samples->empty()) return Fail(InvalidArgument("usage", "give --live/--attack or --labels"));
  for (auto& s : *samples) s.fps = args.fps;
  auto offsets = CameraOffsets(a.camera_profiles);
  if (!offsets.ok()) return Fail(offsets.status());
  auto pipeline = LoadPipeline(a.models, n, false);
  if (!pipeline) return 1;
  auto model = vision::SequenceModelFromJson(
      pipeline->pack().manifest().value("sequence_liveness", json::object()));
  if (!model.ok()) return Fail(model.status());
  std::vector<std::string> failures;
  const auto tracks = eval::TracksFromSamples(*pipeline, *samples, a.win, n, true, &failures);
  // Cameras without a profile are judged as a deployment judges them: at the safe default.
  const auto windows =
      eval::WindowsFromTracks(tracks, a.win, *offsets, model->uncalibrated_cnn_logit_offset);
  json r = WindowPadReport(windows, *model);
  r["uncalibrated_cameras"] = UncalibratedCameras(tracks, *offsets, *model);
  r["window_ms"] = window_ms;
  r["frames_per_window"] = frames;
  r["frame_failures"] = failures.size();
  if (!scores_out.empty()) {
    std::FILE* f = std::fopen(scores_out.c_str(), "w");
    if (!f) return Fail(InvalidArgument("write_failed", "cannot write " + scores_out));
    for (const auto& w : windows) {
      std::fprintf(f, "%s\t%s\t%.6f\n", w.source.c_str(), w.label.c_str(),
                   vision::FuseWindow(*model, w.signals).score);
    }
    std::fclose(f);
  }
  PrintJson(r);
  return 0;
}

void AddLivenessCommands(CLI::App& app, int& exit_code) {
  static LivenessArgs a;
  auto* l = app.add_subcommand("liveness", "Sequence liveness: fused score per window, with each signal");
  l->add_option("inputs", a.inputs, "Images or a folder of frames forming one sequence, or a video");
  l->add_option("--video", a.inputs, "A video: [@CAMERA:]PATH[#FROM-TO]");
  AddWindowOptions(l, a);
  auto* cal = l->add_subcommand("calibrate", "Per-camera calibration from genuine passages");
  cal->add_option("--camera", a.camera, "Camera name");
  cal->add_option("--live", a.live, "Genuine videos / frames from this camera")->required();
  cal->add_option("--out", a.out, "Write the profile (JSON) here");
  AddWindowOptions(cal, a);
  cal->callback([&] { exit_code = Calibrate(a); });
  auto* fit = l->add_subcommand("fit", "Fit the fusion model on development data");
  fit->add_option("--live", a.live, "Bona fide: [@CAMERA:]PATH[#FROM-TO] (video, images, folder)");
  fit->add_option("--attack", a.attack, "Attacks: [TYPE][@CAMERA]:PATH[#FROM-TO]");
  fit->add_option("--labels", a.labels, "Labels file: <path>TAB<live|attack type>");
  fit->add_option("--synthetic", a.synthetic, "Images to turn into still / hand-held photo attacks");
  fit->add_option("--signals", a.signals, "Comma-separated signals to use");
  fit->add_flag("--compare", a.compare, "Also fit each signal alone, CNN + each, and all");
  fit->add_option("--l2", a.l2, "L2 regularisation")->check(CLI::Range(0.0, 100.0));
  fit->add_option("--max-apcer", a.max_apcer, "Threshold keeps APCER at most this")->check(CLI::Range(0.0, 1.0));
  AddWindowOptions(fit, a);
  fit->callback([&] { exit_code = Fit(a); });
  static std::string order;
  static uint64_t seed = 0;
  static int steps = 3;
  auto* chal = l->add_subcommand("challenge", "Active liveness: check a recorded video against a prompted order");
  chal->add_option("video", a.inputs, "The recorded response")->required();
  chal->add_option("--order", order, "Prompted actions, e.g. blink,turn_left,smile (default: random)");
  chal->add_option("--seed", seed, "Seed of the random order");
  chal->add_option("--steps", steps, "Random order length")->check(CLI::Range(1, 8));
  AddWindowOptions(chal, a);
  chal->callback([&] { exit_code = Challenge(a, order, seed, steps); });
  // The plain `liveness` command: runs only when no sub-command was given.
  l->callback([&, cal, fit, chal] {
    if (cal->parsed() || fit->parsed() || chal->parsed()) return;
    if (a.inputs.empty()) {
      exit_code = Fail(InvalidArgument("usage", "give a video or images"));
      return;
    }
    exit_code = Score(a);
  });
}

}  // namespace facepay::cli
