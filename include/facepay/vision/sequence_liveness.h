// Sequence liveness: presentation-attack detection over a short burst of frames (0.5-2 s).
//
// One frame and one network are not enough on plain RGB webcams (the passive CNN scores real
// webcam users as attacks), so a window of frames is scored from several named signals, each
// measured per frame (FrameCue) and aggregated over the window (WindowSignals), then fused by a
// small logistic model whose coefficients live in the model manifest ("sequence_liveness"):
//
//   cnn         mean calibrated logit of the passive CNN (per-camera offset, see CameraProfile)
//   planarity   how well a homography explains the landmark motion compared with a similarity:
//               a photo or screen moves as a plane (ratio ~0), a head does not (~1); weighted
//               by how much out-of-plane motion there was, neutral when there was none
//   blink       largest relative drop of the eye aspect ratio in the window
//   mouth       spread of the mouth aspect ratio (speech, smiles)
//   identity    lowest cosine similarity of frame embeddings to the window's first (a swap)
//   bezel       straight edges framing the face on both sides (a phone, a tablet, paper)
//   jitter      landmark noise after removing rigid motion (a re-captured still is smooth)
//
// Thread-safe: SequenceLiveness is immutable after construction.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "facepay/common/status_or.h"
#include "facepay/vision/face_pipeline.h"
#include "facepay/vision/liveness.h"

namespace facepay::vision {

// What one frame contributes (computed from the frame and its FaceResult).
struct FrameCue {
  bool has_face = false;
  float cnn_p_live = 0;
  Landmarks68 landmarks{};
  float eye_aspect = 0;    // mean EAR of both eyes
  float mouth_aspect = 0;  // inner-lip height / mouth width
  float bezel = 0;         // 0..1
  Embedding embedding;     // may be empty (identity signal then neutral)
  double t_ms = 0;         // capture time
};

FrameCue MakeFrameCue(const cv::Mat& bgr, const FaceResult& face, double t_ms);

// Raw window features, in the order of kSignalNames.
struct WindowSignals {
  int frames = 0;       // frames in the window
  int face_frames = 0;  // frames with a face
  std::map<std::string, float> values;
};
inline const std::vector<std::string>& SignalNames() {
  static const std::vector<std::string> k = {"cnn",      "planarity", "blink", "mouth",
                                             "identity", "bezel",     "jitter"};
  return k;
}

// `cnn_logit_offset` is the camera's calibration (added to every frame's CNN logit).
WindowSignals ComputeWindowSignals(const std::vector<FrameCue>& cues, float cnn_logit_offset);

// Per-camera calibration: fitted from genuine passages (facepay liveness calibrate).
struct CameraProfile {
  std::string camera = "default";
  float cnn_logit_offset = 0;  // shifts the camera's genuine median CNN logit to the target
  int frames_used = 0;
};
StatusOr<CameraProfile> LoadCameraProfile(const std::string& path);
Status SaveCameraProfile(const CameraProfile& p, const std::string& path);
// Offset that moves the median genuine logit to `target_logit`.
CameraProfile CalibrateCamera(const std::string& camera, const std::vector<float>& genuine_p_live,
                              float target_logit);

// Logistic fusion over standardised signals: z = bias + sum w_i (x_i - mean_i) / std_i.
struct SequenceModel {
  float bias = 0;
  std::map<std::string, float> weight, mean, stddev;
  float threshold = 0.5f;  // on the fused probability
};
// Reads the manifest's "sequence_liveness" object; reason sequence_model_invalid.
StatusOr<SequenceModel> SequenceModelFromJson(const nlohmann::json& j);
nlohmann::json SequenceModelToJson(const SequenceModel& m);

LivenessVerdict FuseWindow(const SequenceModel& model, const WindowSignals& s);

// Fits the model by L2-regularised logistic regression (gradient descent on standardised
// features). `live` labels: true = bona fide. Only the signals in `use` get weights.
SequenceModel FitSequenceModel(const std::vector<WindowSignals>& windows,
                               const std::vector<bool>& live, const std::vector<std::string>& use,
                               float l2);

}  // namespace facepay::vision
