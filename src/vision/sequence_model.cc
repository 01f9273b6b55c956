// The fused sequence-liveness model: JSON form, scoring, fitting, camera profiles.
#include <algorithm>
#include <cmath>
#include <fstream>

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
  } catch (const json::exception& e) {
    return InvalidArgument("sequence_model_invalid", e.what());
  }
  if (!(m.threshold > 0 && m.threshold < 1)) {
    return InvalidArgument("sequence_model_invalid", "threshold must be in (0, 1)");
  }
  return m;
}

json SequenceModelToJson(const SequenceModel& m) {
  return json{{"bias", m.bias}, {"threshold", m.threshold}, {"weights", m.weight},
              {"mean", m.mean}, {"std", m.stddev}};
}

LivenessVerdict FuseWindow(const SequenceModel& m, const WindowSignals& s) {
  LivenessVerdict v;
  double z = m.bias;
  for (const auto& name : SignalNames()) {
    const auto it = s.values.find(name);
    const float x = it == s.values.end() ? 0.f : it->second;
    float contribution = 0;
    if (const auto w = m.weight.find(name); w != m.weight.end()) {
      contribution = w->second * (x - m.mean.at(name)) / m.stddev.at(name);
    }
    z += contribution;
    v.signals.push_back({name, x, contribution});
  }
  v.score = static_cast<float>(1 / (1 + std::exp(-z)));
  v.live = s.face_frames > 0 && v.score >= m.threshold;
  return v;
}

SequenceModel FitSequenceModel(const std::vector<WindowSignals>& windows,
                               const std::vector<bool>& live, const std::vector<std::string>& use,
                               float l2) {
  SequenceModel m;
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
    if (!std::isfinite(p.cnn_logit_offset) || std::abs(p.cnn_logit_offset) > 20) {
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
