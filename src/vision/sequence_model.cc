// The fused sequence-liveness model: JSON form, scoring, fitting, camera profiles.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <utility>

#include "facepay/vision/image_decode.h"
#include "facepay/vision/sequence_liveness.h"
#include "json_int.h"

namespace facepay::vision {

using nlohmann::json;

StatusOr<SequenceModel> SequenceModelFromJson(const json& j) {
  SequenceModel m;
  try {
    m.bias = j.at("bias").get<float>();
    m.threshold = j.at("threshold").get<float>();
    for (const auto& [name, w] : j.at("weights").items()) {
      if (std::find(SignalNames().begin(), SignalNames().end(), name) == SignalNames().end()) {
        return InvalidArgument("sequence_model_invalid", "unknown liveness signal '" + name + "'");
      }
      m.weight[name] = w.get<float>();
      m.mean[name] = j.at("mean").at(name).get<float>();
      m.stddev[name] = std::max(1e-6f, j.at("std").at(name).get<float>());
    }
    if (j.contains("texture")) {
      m.texture_live_mean = j.at("texture").at("live_mean").get<std::vector<float>>();
      m.texture_attack_mean = j.at("texture").at("attack_mean").get<std::vector<float>>();
    }
  } catch (const json::exception& e) {
    return InvalidArgument("sequence_model_invalid", e.what());
  }
  if (j.contains("texture")) {
    for (const std::vector<float>* h : {&m.texture_live_mean, &m.texture_attack_mean}) {
      if (h->size() != kTextureBins ||
          !std::all_of(h->begin(), h->end(), [](float x) { return std::isfinite(x) && x > 0; })) {
        return InvalidArgument("sequence_model_invalid",
                               "texture means must hold 354 positive numbers each");
      }
    }
  }
  for (const auto& [name, w] : m.weight) {
    if (IsTextureSignal(name) && m.texture_live_mean.empty()) {
      return InvalidArgument("sequence_model_invalid", "signal '" + name + "' needs \"texture\"");
    }
  }
  if (!(m.threshold > 0 && m.threshold < 1)) {
    return InvalidArgument("sequence_model_invalid", "threshold must be in (0, 1)");
  }
  for (const auto& [name, field] : {std::pair{"uncalibrated_cnn_logit_offset", &m.uncalibrated_cnn_logit_offset},
                                     std::pair{"uncalibrated_unsure_cnn_logit_offset",
                                               &m.uncalibrated_unsure_cnn_logit_offset}}) {
    if (!j.contains(name)) continue;
    const json& u = j.at(name);
    if (!u.is_number() || !std::isfinite(u.get<double>()) ||
        std::abs(u.get<double>()) > kMaxCnnLogitOffset) {
      return InvalidArgument("sequence_model_invalid", std::string(name) + " must be a number in [-20, 20]");
    }
    *field = u.get<float>();
  }
  return m;
}

json SequenceModelToJson(const SequenceModel& m) {
  json j{{"bias", m.bias}, {"threshold", m.threshold}, {"weights", m.weight},
         {"mean", m.mean}, {"std", m.stddev},
         {"uncalibrated_cnn_logit_offset", m.uncalibrated_cnn_logit_offset},
         {"uncalibrated_unsure_cnn_logit_offset", m.uncalibrated_unsure_cnn_logit_offset}};
  if (!m.texture_live_mean.empty()) {
    j["texture"] = {{"live_mean", m.texture_live_mean}, {"attack_mean", m.texture_attack_mean}};
  }
  return j;
}

void ApplyTextureModel(const SequenceModel& m, WindowSignals& s) {
  if (s.texture.size() != kTextureBins || m.texture_live_mean.size() != kTextureBins ||
      m.texture_attack_mean.size() != kTextureBins) {
    return;
  }
  double llr = 0, chi2 = 0;
  for (size_t i = 0; i < kTextureBins; ++i) {
    const double h = s.texture[i], l = m.texture_live_mean[i], a = m.texture_attack_mean[i];
    llr += h * std::log(l / a);
    chi2 += (h - l) * (h - l) / (h + l);
  }
  s.values["lbp_llr"] = static_cast<float>(llr / kTextureChannels);
  s.values["lbp_chi2"] = static_cast<float>(chi2 / kTextureChannels);
}

void FitTextureModel(const std::vector<WindowSignals>& windows, const std::vector<bool>& live,
                     SequenceModel& m) {
  // A floor per bin keeps the log-likelihood ratio finite for patterns one class never showed.
  constexpr double kFloor = 1e-4;
  std::vector<double> sum[2] = {std::vector<double>(kTextureBins, 0.0),
                                std::vector<double>(kTextureBins, 0.0)};
  size_t n[2] = {0, 0};
  for (size_t i = 0; i < windows.size() && i < live.size(); ++i) {
    if (windows[i].texture.size() != kTextureBins) continue;
    const int c = live[i] ? 1 : 0;
    for (size_t k = 0; k < kTextureBins; ++k) sum[c][k] += windows[i].texture[k];
    ++n[c];
  }
  m.texture_live_mean.clear();
  m.texture_attack_mean.clear();
  if (n[0] == 0 || n[1] == 0) return;
  for (int c = 0; c < 2; ++c) {
    std::vector<float>& out = c == 1 ? m.texture_live_mean : m.texture_attack_mean;
    out.assign(kTextureBins, 0.f);
    for (int ch = 0; ch < kTextureChannels; ++ch) {
      double total = 0;
      for (int b = 0; b < kLbpBins; ++b) total += sum[c][static_cast<size_t>(ch * kLbpBins + b)] / static_cast<double>(n[c]) + kFloor;
      for (int b = 0; b < kLbpBins; ++b) {
        const size_t k = static_cast<size_t>(ch * kLbpBins + b);
        out[k] = static_cast<float>((sum[c][k] / static_cast<double>(n[c]) + kFloor) / total);
      }
    }
  }
}

float CnnLogitOffsetFor(const SequenceModel& m, const CameraProfile* profile) {
  return profile != nullptr ? profile->cnn_logit_offset : m.uncalibrated_cnn_logit_offset;
}

LivenessVerdict JudgeWindow(const SequenceModel& m, const std::vector<FrameCue>& cues,
                            const CameraProfile* profile) {
  return JudgeRawWindow(m, ComputeWindowSignals(cues, 0), profile);
}

WindowSignals WithCnnOffset(WindowSignals s, float cnn_logit_offset) {
  if (s.face_frames > 0) s.values["cnn"] += cnn_logit_offset;
  return s;
}

LivenessVerdict JudgeRawWindow(const SequenceModel& m, const WindowSignals& raw,
                               const CameraProfile* profile) {
  LivenessVerdict v = FuseWindow(m, WithCnnOffset(raw, CnnLogitOffsetFor(m, profile)));
  if (profile == nullptr && !v.live && m.uncalibrated_unsure_cnn_logit_offset > m.uncalibrated_cnn_logit_offset) {
    v.unsure = FuseWindow(m, WithCnnOffset(raw, m.uncalibrated_unsure_cnn_logit_offset)).live;
  }
  return v;
}

LivenessVerdict FuseWindow(const SequenceModel& m, const WindowSignals& window) {
  WindowSignals textured;
  const bool has_texture = !m.texture_live_mean.empty() && window.texture.size() == kTextureBins;
  if (has_texture) {
    textured = window;
    ApplyTextureModel(m, textured);
  }
  const WindowSignals& s = has_texture ? textured : window;
  LivenessVerdict v;
  double z = m.bias;
  for (size_t i = 0; i < SignalNames().size(); ++i) {
    const std::string& name = SignalNames()[i];
    const auto it = s.values.find(name);
    const float x = it == s.values.end() ? 0.f : it->second;
    float contribution = 0;
    const auto w = m.weight.find(name);
    if (w != m.weight.end()) {
      contribution = w->second * (x - m.mean.at(name)) / m.stddev.at(name);
    }
    z += contribution;
    // The verdict (audit log, answers) lists the seven original signals and any other the model
    // weights: the crop signals a model does not use would only lengthen every record.
    if (i < 7 || w != m.weight.end()) v.signals.push_back({name, x, contribution});
  }
  v.score = static_cast<float>(1 / (1 + std::exp(-z)));
  v.live = s.face_frames > 0 && v.score >= m.threshold;
  return v;
}

namespace {
// Logistic regression of `use` over `windows` into `m` (whose texture means are kept).
SequenceModel FitLogistic(const std::vector<WindowSignals>& windows, const std::vector<bool>& live,
                          const std::vector<std::string>& use, float l2, SequenceModel m);
}  // namespace

SequenceModel FitSequenceModel(const std::vector<WindowSignals>& windows,
                               const std::vector<bool>& live, const std::vector<std::string>& use,
                               float l2) {
  SequenceModel m;
  if (std::any_of(use.begin(), use.end(), IsTextureSignal)) {
    FitTextureModel(windows, live, m);
    std::vector<WindowSignals> textured = windows;
    for (WindowSignals& s : textured) ApplyTextureModel(m, s);
    return FitLogistic(textured, live, use, l2, std::move(m));
  }
  return FitLogistic(windows, live, use, l2, std::move(m));
}

namespace {
SequenceModel FitLogistic(const std::vector<WindowSignals>& windows, const std::vector<bool>& live,
                          const std::vector<std::string>& use, float l2, SequenceModel m) {
  const size_t n = windows.size(), d = use.size();
  std::vector<std::vector<double>> x(n, std::vector<double>(d));
  for (size_t k = 0; k < d; ++k) {
    double mean = 0, var = 0;
    for (size_t i = 0; i < n; ++i) mean += windows[i].values.at(use[k]);
    mean /= std::max<size_t>(n, 1);
    for (size_t i = 0; i < n; ++i) {
      const double t = windows[i].values.at(use[k]) - mean;
      var += t * t;
    }
    const double sd = std::max(1e-6, std::sqrt(var / std::max<size_t>(n, 1)));
    m.mean[use[k]] = static_cast<float>(mean);
    m.stddev[use[k]] = static_cast<float>(sd);
    for (size_t i = 0; i < n; ++i) x[i][k] = (windows[i].values.at(use[k]) - mean) / sd;
  }
  // Balanced classes: each class carries half of the loss.
  size_t n_live = 0;
  for (bool b : live) n_live += b;
  const double w_live = n_live ? 0.5 / static_cast<double>(n_live) : 0;
  const double w_att = n > n_live ? 0.5 / static_cast<double>(n - n_live) : 0;
  std::vector<double> w(d, 0.0);
  double b = 0;
  for (int it = 0; it < 3000; ++it) {
    std::vector<double> g(d, 0.0);
    double gb = 0;
    for (size_t i = 0; i < n; ++i) {
      double z = b;
      for (size_t k = 0; k < d; ++k) z += w[k] * x[i][k];
      const double p = 1 / (1 + std::exp(-z));
      const double err = (p - (live[i] ? 1.0 : 0.0)) * (live[i] ? w_live : w_att);
      for (size_t k = 0; k < d; ++k) g[k] += err * x[i][k];
      gb += err;
    }
    for (size_t k = 0; k < d; ++k) w[k] -= 0.5 * (g[k] + l2 * w[k]);
    b -= 0.5 * gb;
  }
  m.bias = static_cast<float>(b);
  for (size_t k = 0; k < d; ++k) m.weight[use[k]] = static_cast<float>(w[k]);
  return m;
}
}  // namespace

CameraProfile CalibrateCamera(const std::string& camera, const std::vector<float>& genuine_p_live,
                              float target_logit) {
  CameraProfile p;
  p.camera = camera;
  p.frames_used = static_cast<int>(genuine_p_live.size());
  if (genuine_p_live.empty()) return p;
  std::vector<float> l;
  for (float v : genuine_p_live) l.push_back(Logit(v));
  std::nth_element(l.begin(), l.begin() + static_cast<long>(l.size() / 2), l.end());
  p.cnn_logit_offset = target_logit - l[l.size() / 2];
  return p;
}

StatusOr<CameraProfile> LoadCameraProfile(const std::string& path) {
  FACEPAY_ASSIGN_OR_RETURN(std::string text, ReadFileBounded(path, 1 << 16));
  try {
    const json j = json::parse(text);
    CameraProfile p;
    p.camera = j.at("camera").get<std::string>();
    p.cnn_logit_offset = j.at("cnn_logit_offset").get<float>();
    p.frames_used = j.contains("frames_used") ? JsonInt(j.at("frames_used")) : 0;
    if (!std::isfinite(p.cnn_logit_offset) || std::abs(p.cnn_logit_offset) > kMaxCnnLogitOffset) {
      return InvalidArgument("camera_profile_invalid", "cnn_logit_offset out of range");
    }
    return p;
  } catch (const json::exception& e) {
    return InvalidArgument("camera_profile_invalid", path + ": " + e.what());
  }
}

Status SaveCameraProfile(const CameraProfile& p, const std::string& path) {
  std::ofstream out(path);
  if (!out) return InvalidArgument("write_failed", "cannot write " + path);
  out << json{{"camera", p.camera}, {"cnn_logit_offset", p.cnn_logit_offset},
              {"frames_used", p.frames_used}}
             .dump(2)
      << "\n";
  return out ? Status::Ok() : InvalidArgument("write_failed", "cannot write " + path);
}

}  // namespace facepay::vision
