#include "probe.h"

#include <cmath>

namespace facepay::service {

using biometrics::ProbeState;

StatusOr<Probe> ProbeFromTemplate(const nlohmann::json& f, int dim) {
  if (!f.contains("template")) return InvalidArgument("missing_frames", "send 'frames' or 'template'");
  const auto& t = f.at("template");
  if (!t.is_array() || static_cast<int>(t.size()) != dim) {
    return InvalidArgument("invalid_template",
                           "'template' must be an array of " + std::to_string(dim) + " numbers");
  }
  Probe p;
  p.embedding.resize(static_cast<size_t>(dim));
  double n2 = 0;
  for (int i = 0; i < dim; ++i) {
    if (!t[i].is_number()) return InvalidArgument("invalid_template", "'template' holds a non-number");
    const double v = t[i].get<double>();
    if (!std::isfinite(v)) return InvalidArgument("invalid_template", "'template' is not finite");
    p.embedding[i] = static_cast<float>(v);
    n2 += v * v;
  }
  const double n = std::sqrt(n2);
  if (n < 0.5 || n > 2) {
    return InvalidArgument("invalid_template", "'template' must be (close to) unit length");
  }
  for (float& v : p.embedding) v = static_cast<float>(v / n);
  if (!f.contains("liveness") || !f["liveness"].is_object() || !f["liveness"].contains("live") ||
      !f["liveness"]["live"].is_boolean()) {
    return InvalidArgument("missing_liveness",
                           "a template needs the edge's liveness verdict: {\"live\": bool}");
  }
  const bool live = f["liveness"]["live"].get<bool>();
  p.liveness = live ? 1.0f : 0.0f;
  if (f["liveness"].contains("score")) {  // the edge's own score: a number in [0, 1] or refused
    const auto& sc = f["liveness"]["score"];  // (a string or null threw: found by fuzzing)
    if (!sc.is_number() || !(sc.get<double>() >= 0 && sc.get<double>() <= 1)) {
      return InvalidArgument("invalid_template", "'liveness.score' must be a number in [0, 1]");
    }
    p.liveness = sc.get<float>();
  }
  p.liveness_mode = "edge";
  p.frames = 0;
  p.face_frames = 1;
  p.quality_score = 1;
  p.state = live ? ProbeState::kOk : ProbeState::kSpoof;
  return p;
}

}  // namespace facepay::service
