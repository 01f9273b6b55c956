#include "probe.h"

#include <chrono>
#include <cmath>

#include "facepay/biometrics/enrollment.h"
#include "facepay/vision/image_decode.h"

namespace facepay::service {
namespace {

using biometrics::ProbeState;
using Clock = std::chrono::steady_clock;

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

nlohmann::json Probe::ToJson(bool scores) const {
  nlohmann::json j = {{"frames", frames}, {"face_frames", face_frames}, {"liveness_mode", liveness_mode}};
  if (scores) {
    j["liveness"] = liveness;
    j["quality_score"] = quality_score;
  }
  return j;
}

StatusOr<Probe> ProbeFromFrames(const ProbeContext& ctx, const std::vector<std::string>& frames) {
  if (frames.empty()) return InvalidArgument("missing_frames", "send 'frames' or 'template'");
  const auto t0 = Clock::now();
  Probe p;
  p.frames = static_cast<int>(frames.size());
  std::vector<vision::FrameCue> cues;
  int best = -1;
  float best_q = -1;
  bool multiple = false;
  std::vector<vision::FaceAnalysis> analyses;
  vision::AnalyzeOptions ao;
  ao.single_subject = true;
  for (size_t i = 0; i < frames.size(); ++i) {
    FACEPAY_ASSIGN_OR_RETURN(cv::Mat img, vision::DecodeImage(Bytes(frames[i]),
                                                              ctx.pipeline->options().decode));
    FACEPAY_ASSIGN_OR_RETURN(auto a, ctx.pipeline->Analyze(img, ao));
    if (a.status == vision::FaceStatus::kMultipleFaces) multiple = true;
    if (a.status == vision::FaceStatus::kOk && !a.faces.empty()) {
      ++p.face_frames;
      cues.push_back(vision::MakeFrameCue(img, a.faces[0], ctx.frame_interval_ms * i));
      const float q = biometrics::QualityScore(a.faces[0].quality);
      if (q > best_q) {
        best_q = q;
        best = static_cast<int>(analyses.size());
      }
    }
    analyses.push_back(std::move(a));
  }
  p.analyze_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (best < 0) {
    p.state = multiple ? ProbeState::kMultipleFaces : ProbeState::kNoFace;
    p.liveness_mode = "none";
    return p;
  }
  const vision::FaceResult& face = analyses[best].faces[0];
  p.embedding = face.embedding;
  p.quality_score = best_q;
  bool live = false;
  if (ctx.sequence != nullptr && p.face_frames >= kMinSequenceFrames) {
    const auto v = vision::FuseWindow(*ctx.sequence,
                                      vision::ComputeWindowSignals(cues, ctx.cnn_logit_offset));
    p.liveness = v.score;
    live = v.live;
    p.liveness_mode = "sequence";
  } else {
    p.liveness = face.liveness.score;
    live = face.liveness.live;
    p.liveness_mode = "single_frame";
  }
  if (multiple) {
    p.state = ProbeState::kMultipleFaces;
  } else if (!live) {
    p.state = ProbeState::kSpoof;
  } else if (!face.quality.ok()) {
    p.state = ProbeState::kLowQuality;
  } else {
    p.state = ProbeState::kOk;
  }
  return p;
}

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
