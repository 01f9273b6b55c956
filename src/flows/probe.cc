#include "facepay/flows/probe.h"

#include <chrono>
#include <cmath>

#include "facepay/biometrics/enrollment.h"
#include "facepay/flows/cameras.h"
#include "facepay/vision/image_decode.h"

namespace facepay::flows {
namespace {

using biometrics::ProbeState;
using Clock = std::chrono::steady_clock;

}  // namespace

nlohmann::json Probe::ToJson(bool scores) const {
  nlohmann::json j = {{"frames", frames}, {"face_frames", face_frames}, {"liveness_mode", liveness_mode}};
  if (scores) {
    j["liveness"] = liveness;
    j["quality_score"] = quality_score;
    if (liveness_unsure) j["liveness_unsure"] = true;
    if (cnn_raw_median) j["cnn_logit"] = *cnn_raw_median + cnn_offset;
  }
  return j;
}

StatusOr<Probe> ProbeFromFrames(const ProbeContext& ctx, const std::vector<std::string>& frames) {
  if (frames.empty()) return InvalidArgument("missing_frames", "send 'frames' or 'template'");
  const auto t0 = Clock::now();
  ProbeBuilder b(ctx);
  vision::AnalyzeOptions ao;
  ao.single_subject = true;
  for (size_t i = 0; i < frames.size(); ++i) {
    FACEPAY_ASSIGN_OR_RETURN(cv::Mat img, vision::DecodeImage(frames[i],
                                                              ctx.pipeline->options().decode));
    FACEPAY_ASSIGN_OR_RETURN(auto a, ctx.pipeline->Analyze(img, ao));
    b.Add(img, a, ctx.frame_interval_ms * static_cast<double>(i));
  }
  Probe p = b.Finish();
  p.analyze_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return p;
}

void ProbeBuilder::Add(const cv::Mat& bgr, const vision::FaceAnalysis& a, double t_ms) {
  ++frames_;
  if (a.status == vision::FaceStatus::kMultipleFaces) multiple_ = true;
  if (a.status != vision::FaceStatus::kOk || a.faces.empty()) return;
  cues_.push_back(vision::MakeFrameCue(bgr, a.faces[0], t_ms));
  const float q = biometrics::QualityScore(a.faces[0].quality);
  if (q > best_q_) {
    best_q_ = q;
    best_ = a.faces[0];
  }
}

Probe ProbeBuilder::Finish() const {
  Probe p;
  p.frames = frames_;
  p.face_frames = static_cast<int>(cues_.size());
  if (!best_) {
    p.state = multiple_ ? ProbeState::kMultipleFaces : ProbeState::kNoFace;
    p.liveness_mode = "none";
    return p;
  }
  const vision::FaceResult& face = *best_;
  p.embedding = face.embedding;
  p.quality_score = best_q_;
  bool live = false;
  if (ctx_.sequence != nullptr && p.face_frames >= kMinSequenceFrames) {
    const auto v = vision::JudgeWindow(*ctx_.sequence, cues_, ctx_.camera);
    p.cnn_raw_median = RawMedianLogit(cues_);
    p.cnn_offset = vision::CnnLogitOffsetFor(*ctx_.sequence, ctx_.camera);
    p.liveness = v.score;
    live = v.live || v.unsure;
    p.liveness_unsure = v.unsure;
    p.liveness_mode = "sequence";
  } else {
    p.liveness = face.liveness.score;
    live = face.liveness.live;
    p.liveness_mode = "single_frame";
  }
  if (multiple_) {
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

}  // namespace facepay::flows
