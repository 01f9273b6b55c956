// A probe: what a flow decides on, from camera frames or from an edge gate's template.
//
// Frames: each is decoded (pipeline limits) and analysed; the embedding comes from the frame
// whose face has the best quality score. Liveness is judged over the burst with the sequence
// model when at least kMinSequenceFrames frames have a face (with the terminal's camera
// calibration), otherwise on the chosen frame alone. A decode error of any frame fails the
// request (bad input, not a decision). Templates are read by the service (an edge gate's
// request, src/service/probe.h) into the same Probe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "facepay/biometrics/decision_policy.h"
#include "facepay/vision/face_pipeline.h"
#include "facepay/vision/sequence_liveness.h"

namespace facepay::flows {

inline constexpr int kMinSequenceFrames = 3;

struct Probe {
  biometrics::ProbeState state = biometrics::ProbeState::kNoFace;
  vision::Embedding embedding;
  int frames = 0, face_frames = 0;
  float liveness = 0;
  std::string liveness_mode;  // "sequence" | "single_frame" | "edge" | "none"
  // An uncalibrated camera's burst that is not live at the conservative offset but would be on a
  // friendlier camera: state kOk for the search, but the decision may not be a silent accept
  // (Identifier::Identify answers step_up).
  bool liveness_unsure = false;
  // Sequence liveness: the burst's raw (offset 0) median CNN logit and the camera offset it was
  // judged with (CameraBook: drift, refinement). Never in a terminal's answer.
  std::optional<float> cnn_raw_median;
  float cnn_offset = 0;
  float quality_score = 0;
  double analyze_ms = 0;
  // The probe's record (audit log, answers). With `scores` false (terminal answers): no
  // liveness probability or quality score, only counts and the liveness mode.
  nlohmann::json ToJson(bool scores = true) const;
};

struct ProbeContext {
  const vision::FacePipeline* pipeline = nullptr;
  const vision::SequenceModel* sequence = nullptr;  // may be null: single-frame liveness only
  // The camera's calibration; null: uncalibrated (the model's conservative offset, and the
  // unsure band: Probe::liveness_unsure).
  const vision::CameraProfile* camera = nullptr;
  double frame_interval_ms = 66;
};

// InvalidArgument("missing_frames") for no frames; decode errors of any frame.
StatusOr<Probe> ProbeFromFrames(const ProbeContext& ctx, const std::vector<std::string>& frames);

// The probe of a burst built frame by frame, from frames the caller has analysed
// (AnalyzeOptions::single_subject, with embedding): ProbeFromFrames uses it, and so does an
// edge gate on its own camera frames. Keeps per frame only what the decision needs (no image),
// so a burst costs the memory of one frame at a time. `analyze_ms` is left to the caller.
class ProbeBuilder {
 public:
  explicit ProbeBuilder(const ProbeContext& ctx) : ctx_(ctx) {}
  void Add(const cv::Mat& bgr, const vision::FaceAnalysis& analysis, double t_ms);
  Probe Finish() const;

 private:
  const ProbeContext& ctx_;
  int frames_ = 0;
  bool multiple_ = false;
  float best_q_ = -1;
  std::optional<vision::FaceResult> best_;  // the face of the best-quality frame
  std::vector<vision::FrameCue> cues_;
};

// Where no second factor can follow (ATM verification, border check, erasure by face): an
// unsure probe (Probe::liveness_unsure) is refused as a spoof.
inline void RefuseUnsure(Probe& p) {
  if (p.liveness_unsure) p.state = biometrics::ProbeState::kSpoof;
}

// What a terminal showed: camera frames (encoded images) or an edge gate's probe (template and
// liveness verdict, already read and checked).
struct Sighting {
  std::vector<std::string> frames;
  double frame_interval_ms = 66;
  std::optional<Probe> edge;
};

}  // namespace facepay::flows
