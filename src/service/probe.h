// A probe: what the service decides on, from camera frames or from an edge gate's template.
//
// Frames: each is decoded (pipeline limits) and analysed; the embedding comes from the frame
// whose face has the best quality score. Liveness is judged over the burst with the sequence
// model when at least kMinSequenceFrames frames have a face (with the terminal's camera
// calibration), otherwise on the chosen frame alone. A decode error of any frame fails the
// request (bad input, not a decision).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "facepay/biometrics/decision_policy.h"
#include "facepay/vision/face_pipeline.h"
#include "facepay/vision/sequence_liveness.h"

namespace facepay::service {

inline constexpr int kMinSequenceFrames = 3;

struct Probe {
  biometrics::ProbeState state = biometrics::ProbeState::kNoFace;
  vision::Embedding embedding;
  int frames = 0, face_frames = 0;
  float liveness = 0;
  std::string liveness_mode;  // "sequence" | "single_frame" | "edge" | "none"
  float quality_score = 0;
  double analyze_ms = 0;
  // With `scores` false (terminal answers): no liveness probability or quality score, only
  // counts and the liveness mode.
  nlohmann::json ToJson(bool scores = true) const;
};

struct ProbeContext {
  const vision::FacePipeline* pipeline = nullptr;
  const vision::SequenceModel* sequence = nullptr;  // may be null: single-frame liveness only
  float cnn_logit_offset = 0;
  double frame_interval_ms = 66;
};

StatusOr<Probe> ProbeFromFrames(const ProbeContext& ctx, const std::vector<std::string>& frames);
// An edge gate's template: {"template": [512 floats], "liveness": {"live": bool, "score": s}}.
// InvalidArgument("invalid_template") unless `dim` finite values with a norm in [0.5, 2]
// (normalised here); missing liveness is refused (missing_liveness): the edge must attest it.
StatusOr<Probe> ProbeFromTemplate(const nlohmann::json& fields, int dim);

}  // namespace facepay::service
