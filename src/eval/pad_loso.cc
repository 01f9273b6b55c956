#include "facepay/eval/pad_loso.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "facepay/eval/metrics.h"

namespace facepay::eval {
namespace {

using Group = std::pair<std::string, std::string>;  // (source, attack type)

// A window's fused score; a window without a face scores 0 (never accepted).
float Score(const vision::SequenceModel& m, const vision::WindowSignals& s) {
  return s.face_frames > 0 ? vision::FuseWindow(m, s).score : 0.f;
}

bool Accepted(const vision::SequenceModel& m, const vision::WindowSignals& s) {
  return s.face_frames > 0 && vision::FuseWindow(m, s).live;
}

std::vector<vision::WindowSignals> SignalsOf(const std::vector<WindowSample>& ws) {
  std::vector<vision::WindowSignals> out;
  out.reserve(ws.size());
  for (const auto& w : ws) out.push_back(w.signals);
  return out;
}

// Scores `windows` (offset 0) with each camera moved to `offsets`; cameras not in it are
// judged as uncalibrated (vision::JudgeRawWindow, with m's uncalibrated offset and band).
ModeResult Evaluate(const std::string& mode, const vision::SequenceModel& m,
                    const std::vector<const WindowSample*>& windows,
                    const std::map<std::string, float>& offsets) {
  ModeResult r;
  r.mode = mode;
  r.threshold = m.threshold;
  std::vector<float> live, attack;
  std::map<std::string, std::vector<float>> by_type;
  for (const WindowSample* w : windows) {
    const auto it = offsets.find(w->camera);
    vision::CameraProfile profile;
    if (it != offsets.end()) profile.cnn_logit_offset = it->second;
    const vision::CameraProfile* p = it == offsets.end() ? nullptr : &profile;
    const float off = vision::CnnLogitOffsetFor(m, p);
    r.camera_offsets[w->camera] = off;
    const vision::WindowSignals s = vision::WithCnnOffset(w->signals, off);
    const vision::LivenessVerdict v = vision::JudgeRawWindow(m, w->signals, p);
    const bool ok = w->signals.face_frames > 0 && v.live;
    if (w->label == "live") {
      ++r.bpcer.n;
      r.bpcer.hits += !ok;
      ++r.live_unsure.n;
      r.live_unsure.hits += v.unsure;
      live.push_back(Score(m, s));
    } else {
      RateCount& c = r.apcer[w->label];
      ++c.n;
      c.hits += ok;
      RateCount& u = r.attack_unsure[w->label];
      ++u.n;
      u.hits += v.unsure;
      attack.push_back(Score(m, s));
      by_type[w->label].push_back(attack.back());
    }
  }
  if (!live.empty() && !attack.empty()) {
    r.auc = AreaUnderCurve(ComputeRoc(live, attack));
    float t = 0;
    for (const auto& [type, v] : by_type) t = std::max(t, BpcerAtApcer(live, v, 0.01).threshold);
    r.oracle_bpcer_at_apcer_1pct = PadAt(live, attack, t).bpcer;
  }
  return r;
}

std::vector<WindowSample> Shifted(const std::vector<WindowSample>& raw,
                                  const std::map<std::string, vision::CameraProfile>& profiles) {
  std::vector<WindowSample> out;
  for (const auto& w : raw) {
    const auto p = profiles.find(w.camera);
    if (p == profiles.end() || w.signals.face_frames == 0) continue;
    WindowSample s = w;
    s.signals = vision::WithCnnOffset(w.signals, p->second.cnn_logit_offset);
    out.push_back(std::move(s));
  }
  return out;
}

float CueValue(const vision::CropTexture& t, const std::string& name) {
  if (name == "specular") return t.specular;
  if (name == "sharpness") return t.sharpness;
  if (name == "sat_mean") return t.sat_mean;
  if (name == "sat_std") return t.sat_std;
  if (name == "val_skew") return t.val_skew;
  if (name == "colour_diversity") return t.colour_diversity;
  if (name == "moire_hf") return t.moire_hf;
  return t.moire_peak;
}

float MedianOf(std::vector<float> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

using SignalCentres = std::map<std::string, float>;

// `w` with o.calibrate_signals moved by `centre` (signals it does not hold are left alone).
WindowSample Centred(WindowSample w, const SignalCentres& centre, const LosoOptions& o) {
  if (w.signals.face_frames == 0) return w;
  for (const std::string& name : o.calibrate_signals) {
    if (const auto it = centre.find(name); it != centre.end()) w.signals.values[name] -= it->second;
  }
  return w;
}

vision::SequenceModel FitOn(const std::vector<WindowSample>& calibrated, const LosoOptions& o) {
  std::vector<bool> live;
  for (const auto& w : calibrated) live.push_back(w.label == "live");
  vision::SequenceModel m = vision::FitSequenceModel(SignalsOf(calibrated), live, o.signals, o.l2);
  m.threshold = WorstSpeciesThreshold(m, calibrated, o.max_apcer);
  return m;
}

}  // namespace

CalibrationSplit SplitForCalibration(const std::vector<CueTrack>& tracks, const WindowOptions& w,
                                     const LosoOptions& o) {
  CalibrationSplit out;
  std::map<std::string, std::vector<float>> p_live;
  std::map<std::string, std::map<std::string, std::vector<float>>> crop_values;
  std::map<std::string, int> short_seen;
  const double share = std::clamp(o.calibration_share, 0.01, 1.0);
  const int every = std::max(1, static_cast<int>(std::lround(1 / share)));
  const size_t long_len = 3 * static_cast<size_t>(std::max(1, w.frames));
  for (const CueTrack& t : tracks) {
    if (t.label != "live") {
      out.scoring.push_back(t);
      continue;
    }
    size_t k = 0;  // cues [0, k) calibrate
    if (t.cues.size() >= long_len) {
      k = std::max<size_t>(
          1, static_cast<size_t>(std::ceil(share * static_cast<double>(t.cues.size()))));
    } else if (short_seen[t.camera]++ % every == 0) {
      k = t.cues.size();
    }
    for (size_t i = 0; i < k; ++i) {
      if (t.cues[i].has_face) p_live[t.camera].push_back(t.cues[i].cnn_p_live);
      // The same calibration cues give the camera's genuine level of each crop signal.
      if (!t.cues[i].has_face || !t.cues[i].texture.valid) continue;
      for (const std::string& name : CalibratableSignals())
        crop_values[t.camera][name].push_back(CueValue(t.cues[i].texture, name));
    }
    if (k < t.cues.size()) {
      CueTrack rest = t;
      rest.cues.assign(t.cues.begin() + static_cast<long>(k), t.cues.end());
      out.scoring.push_back(std::move(rest));
    }
  }
  for (const auto& [cam, p] : p_live) {
    if (!p.empty()) out.profiles[cam] = vision::CalibrateCamera(cam, p, o.calibration_target_logit);
  }
  for (auto& [cam, by_name] : crop_values) {
    for (auto& [name, v] : by_name) out.signal_medians[cam][name] = MedianOf(std::move(v));
  }
  return out;
}

const std::vector<std::string>& CalibratableSignals() {
  static const std::vector<std::string> k = {"specular", "sharpness",        "sat_mean", "sat_std",
                                             "val_skew", "colour_diversity", "moire_hf", "moire_peak"};
  return k;
}

float WorstSpeciesThreshold(const vision::SequenceModel& m,
                            const std::vector<WindowSample>& windows, float max_apcer) {
  std::vector<float> live;
  std::map<Group, std::vector<float>> attacks;
  for (const auto& w : windows) {
    const float s = Score(m, w.signals);
    if (w.label == "live") {
      live.push_back(s);
    } else {
      attacks[{w.origin, w.label}].push_back(s);
    }
  }
  if (attacks.empty()) return 0.5f;
  float t = 0.001f;
  for (const auto& [g, v] : attacks) t = std::max(t, BpcerAtApcer(live, v, max_apcer).threshold);
  return std::min(t, 0.999f);
}

UncalibratedDerivation UncalibratedOffset(
    const vision::SequenceModel& m, const std::vector<WindowSample>& raw_windows,
    const std::map<std::string, vision::CameraProfile>& profiles, float max_apcer) {
  std::map<Group, std::vector<const vision::WindowSignals*>> attacks;
  for (const auto& w : raw_windows) {
    if (w.label != "live") attacks[{w.origin, w.label}].push_back(&w.signals);
  }
  // Every attack group keeps APCER <= max_apcer at offset u.
  auto safe = [&](float u) {
    for (const auto& [g, v] : attacks) {
      size_t accepted = 0;
      for (const auto* s : v) accepted += Accepted(m, vision::WithCnnOffset(*s, u));
      const auto allowed =
          static_cast<size_t>(std::floor(max_apcer * static_cast<double>(v.size())));
      if (accepted > allowed) return false;
    }
    return true;
  };
  // Acceptance grows with the offset (the CNN's weight is positive): bisect the highest safe one.
  float lo = -vision::kMaxCnnLogitOffset, hi = vision::kMaxCnnLogitOffset;
  float attack_bound = lo;
  if (safe(hi)) {
    attack_bound = hi;
  } else if (safe(lo)) {
    for (int i = 0; i < 40; ++i) {
      const float mid = (lo + hi) / 2;
      (safe(mid) ? lo : hi) = mid;
    }
    attack_bound = std::floor(lo * 100) / 100;  // rounded down: never above the bound
  }
  UncalibratedDerivation d;
  d.attack_bound = attack_bound;
  d.lowest_profile = vision::kMaxCnnLogitOffset;
  for (const auto& [cam, p] : profiles) {
    if (p.cnn_logit_offset < d.lowest_profile) {
      d.lowest_profile = p.cnn_logit_offset;
      d.lowest_camera = cam;
    }
  }
  d.offset = std::clamp(std::min(attack_bound, d.lowest_profile), -vision::kMaxCnnLogitOffset,
                        vision::kMaxCnnLogitOffset);
  return d;
}

LosoReport LeaveOneSourceOut(const std::vector<CueTrack>& tracks, const WindowOptions& w,
                             const LosoOptions& o, const vision::SequenceModel* reference) {
  LosoReport rep;
  rep.signals = o.signals;
  const CalibrationSplit split = SplitForCalibration(tracks, w, o);
  rep.profiles = split.profiles;
  const std::vector<WindowSample> full = WindowsFromTracks(tracks, w, {}, 0.f);
  const std::vector<WindowSample> scoring = WindowsFromTracks(split.scoring, w, {}, 0.f);
  std::vector<std::string> sources;
  for (const auto& s : full) {
    if (std::find(sources.begin(), sources.end(), s.origin) == sources.end())
      sources.push_back(s.origin);
  }
  std::map<std::string, float> profile_offsets;
  for (const auto& [cam, p] : split.profiles) profile_offsets[cam] = p.cnn_logit_offset;

  for (const std::string& left : sources) {
    std::vector<WindowSample> train_raw;
    std::map<std::string, vision::CameraProfile> train_profiles;
    for (const auto& s : full) {
      if (s.origin == left) continue;
      train_raw.push_back(s);
      if (const auto p = split.profiles.find(s.camera); p != split.profiles.end()) {
        train_profiles[s.camera] = p->second;
      }
    }
    // Crop signals centred per camera (o.calibrate_signals; no change when it is empty): each
    // training camera on its own genuine median, a camera without a profile on the median of
    // the training cameras' medians.
    SignalCentres pooled;
    for (const std::string& name : o.calibrate_signals) {
      std::vector<float> v;
      for (const auto& [cam, p] : train_profiles) {
        const auto c = split.signal_medians.find(cam);
        if (c != split.signal_medians.end() && c->second.count(name)) v.push_back(c->second.at(name));
      }
      pooled[name] = MedianOf(std::move(v));
    }
    auto own_centre = [&](const std::string& camera) -> const SignalCentres& {
      const auto c = split.signal_medians.find(camera);
      return c == split.signal_medians.end() ? pooled : c->second;
    };
    std::vector<WindowSample> train_cal = Shifted(train_raw, train_profiles);
    for (WindowSample& s : train_cal) s = Centred(std::move(s), own_centre(s.camera), o);
    std::vector<WindowSample> train_uncal;
    for (const WindowSample& s : train_raw) train_uncal.push_back(Centred(s, pooled, o));
    vision::SequenceModel m = FitOn(train_cal, o);
    m.uncalibrated_cnn_logit_offset =
        UncalibratedOffset(m, train_uncal, train_profiles, o.max_apcer).offset;
    // Uncalibrated: every window of the source. Calibrated: its attacks and the genuine windows
    // that did not calibrate its cameras.
    std::vector<WindowSample> all_windows, after_windows;
    for (const auto& s : full) {
      if (s.origin != left) continue;
      all_windows.push_back(Centred(s, pooled, o));
      if (s.label != "live") after_windows.push_back(Centred(s, own_centre(s.camera), o));
    }
    for (const auto& s : scoring) {
      if (s.origin == left && s.label == "live")
        after_windows.push_back(Centred(s, own_centre(s.camera), o));
    }
    std::vector<const WindowSample*> all, after_calibration;
    for (const auto& s : all_windows) all.push_back(&s);
    for (const auto& s : after_windows) after_calibration.push_back(&s);
    SourceResult r;
    r.source = left;
    // Cameras of the source, each at offset 0: the behaviour before a safe default existed.
    std::map<std::string, float> zero;
    for (const WindowSample* s : all) zero[s->camera] = 0;
    if (reference != nullptr)
      m.uncalibrated_unsure_cnn_logit_offset = reference->uncalibrated_unsure_cnn_logit_offset;
    r.modes.push_back(Evaluate("uncalibrated", m, all, {}));
    r.modes.push_back(Evaluate("calibrated", m, after_calibration, profile_offsets));
    if (reference != nullptr) {
      r.modes.push_back(Evaluate("shipped_offset0", *reference, all, zero));
      r.modes.push_back(Evaluate("shipped_uncalibrated", *reference, all, {}));
      r.modes.push_back(
          Evaluate("shipped_calibrated", *reference, after_calibration, profile_offsets));
    }
    rep.sources.push_back(std::move(r));
  }
  // Fitted on all sources, centred as in the folds (each camera on its own medians, the
  // uncalibrated derivation on the median of all cameras' medians).
  SignalCentres pooled_all;
  for (const std::string& name : o.calibrate_signals) {
    std::vector<float> v;
    for (const auto& [cam, c] : split.signal_medians) {
      if (split.profiles.count(cam) && c.count(name)) v.push_back(c.at(name));
    }
    pooled_all[name] = MedianOf(std::move(v));
  }
  std::vector<WindowSample> full_cal = Shifted(full, split.profiles), full_uncal;
  for (WindowSample& s : full_cal) {
    const auto c = split.signal_medians.find(s.camera);
    s = Centred(std::move(s), c == split.signal_medians.end() ? pooled_all : c->second, o);
  }
  for (const WindowSample& s : full) full_uncal.push_back(Centred(s, pooled_all, o));
  const vision::SequenceModel all_model = FitOn(full_cal, o);
  rep.all_sources_uncalibrated =
      UncalibratedOffset(all_model, full_uncal, split.profiles, o.max_apcer);
  if (reference != nullptr) {
    rep.reference_uncalibrated = UncalibratedOffset(*reference, full, split.profiles, o.max_apcer);
  }
  return rep;
}

nlohmann::json LosoReportToJson(const LosoReport& r) {
  using nlohmann::json;
  auto Derivation = [](const UncalibratedDerivation& d) {
    return json{{"offset", d.offset},
                {"attack_bound", d.attack_bound},
                {"lowest_profile", d.lowest_profile},
                {"lowest_camera", d.lowest_camera}};
  };
  json profiles = json::object();
  for (const auto& [cam, p] : r.profiles) {
    profiles[cam] = {{"cnn_logit_offset", p.cnn_logit_offset}, {"frames_used", p.frames_used}};
  }
  json sources = json::array();
  for (const auto& s : r.sources) {
    json modes = json::object();
    for (const auto& m : s.modes) {
      json apcer = json::object();
      for (const auto& [type, c] : m.apcer) {
        apcer[type] = {
            {"apcer", c.rate()},
            {"accepted", c.hits},
            {"windows", c.n},
            {"upper_95",
             ClopperPearson(static_cast<int64_t>(c.hits), static_cast<int64_t>(c.n)).high}};
      }
      json unsure = json::object();
      for (const auto& [type, c] : m.attack_unsure)
        unsure[type] = {{"share", c.rate()}, {"windows", c.hits}};
      modes[m.mode] = {{"threshold", m.threshold},
                       {"attack_unsure", unsure},
                       {"live_unsure", m.live_unsure.rate()},
                       {"camera_offsets", m.camera_offsets},
                       {"apcer", apcer},
                       {"bpcer", m.bpcer.rate()},
                       {"live_refused", m.bpcer.hits},
                       {"live_windows", m.bpcer.n},
                       {"auc", m.auc},
                       {"oracle_bpcer_at_apcer_1pct", m.oracle_bpcer_at_apcer_1pct}};
    }
    sources.push_back({{"source", s.source}, {"modes", modes}});
  }
  return {{"signals", r.signals},
          {"camera_profiles", profiles},
          {"all_sources_uncalibrated", Derivation(r.all_sources_uncalibrated)},
          {"reference_uncalibrated", Derivation(r.reference_uncalibrated)},
          {"sources", sources}};
}

}  // namespace facepay::eval
