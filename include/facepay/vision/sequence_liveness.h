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
// Appended later (issue 16, item 3; include/facepay/vision/crop_texture.h), each the median over
// the window's frames of a cue of the face crop, except the two LBP signals:
//   lbp_llr     log-likelihood ratio of the window's mean LBP histogram (HSV + YCbCr) under the
//               live vs the attack class-mean histograms of SequenceModel::texture (per channel
//               mean); 0 when the model holds no texture means
//   lbp_chi2    chi-square distance of that histogram to the live class mean (per channel mean)
//   specular, sharpness, sat_mean, sat_std, val_skew, colour_diversity, moire_hf, moire_peak
//   scene_follow does the rest of the picture move with the face? Between consecutive frames,
//               the landmarks' similarity motion is applied to the previous frame's thumbnail
//               outside the face and body; +1 when that explains the background better than
//               "it stayed still" (a screen or photo moved by hand carries its scene along),
//               -1 when the background stayed still while the face moved (a head in front of
//               a fixed camera), 0 without face motion; motion-weighted mean over the window
// A model uses only the signals its manifest names; the order of SignalNames() never changes
// (new signals are appended).
//
// Thread-safe: SequenceLiveness is immutable after construction.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "facepay/common/status_or.h"
#include "facepay/vision/crop_texture.h"
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
  CropTexture texture;     // colour texture and distortion of the face box
  cv::Mat scene;           // grey thumbnail of the whole frame, kSceneWidth wide (CV_8U)
  float scene_scale = 0;   // thumbnail pixels per frame pixel
};
inline constexpr int kSceneWidth = 160;

FrameCue MakeFrameCue(const cv::Mat& bgr, const FaceResult& face, double t_ms);

// Raw window features, in the order of kSignalNames.
struct WindowSignals {
  int frames = 0;       // frames in the window
  int face_frames = 0;  // frames with a face
  std::map<std::string, float> values;
  // Mean LBP histogram of the frames with a valid crop (kTextureChannels * kLbpBins), empty
  // when none: lbp_llr and lbp_chi2 are computed from it by the model that holds the class means.
  std::vector<float> texture;
};
inline const std::vector<std::string>& SignalNames() {
  static const std::vector<std::string> k = {
      "cnn",      "planarity", "blink",    "mouth",    "identity",         "bezel",
      "jitter",   "lbp_llr",   "lbp_chi2", "specular", "sharpness",        "sat_mean",
      "sat_std",  "val_skew",  "colour_diversity",     "moire_hf",         "moire_peak",
      "scene_follow"};
  return k;
}
// Signals computed from WindowSignals::texture with a model's class-mean histograms.
inline bool IsTextureSignal(const std::string& name) {
  return name == "lbp_llr" || name == "lbp_chi2";
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

// The most negative (and most positive) CNN logit offset a profile or a model may hold.
inline constexpr float kMaxCnnLogitOffset = 20.f;

// Logistic fusion over standardised signals: z = bias + sum w_i (x_i - mean_i) / std_i.
struct SequenceModel {
  float bias = 0;
  std::map<std::string, float> weight, mean, stddev;
  float threshold = 0.5f;  // on the fused probability
  // The offset a camera WITHOUT a calibration profile is judged with. The CNN's scale moves by
  // several logits from camera to camera (docs/liveness.md), so an unknown camera is judged as
  // if it were the most attack-friendly camera measured: the manifest's
  // "uncalibrated_cnn_logit_offset" (chosen by `facepay eval pad --sources`); a manifest
  // without one refuses every window from an uncalibrated camera.
  float uncalibrated_cnn_logit_offset = -kMaxCnnLogitOffset;
  // An uncalibrated camera's window that is not live is "unsure" (active challenge, not
  // refused outright) when it would be live at this offset: the manifest's
  // "uncalibrated_unsure_cnn_logit_offset"; by default no band.
  float uncalibrated_unsure_cnn_logit_offset = -kMaxCnnLogitOffset;
  // Class-mean LBP histograms (kTextureChannels * kLbpBins each, every channel sums to 1),
  // fitted with the model on its training windows only; empty when no texture signal is used.
  // Manifest: "texture": {"live_mean": [...], "attack_mean": [...]}.
  std::vector<float> texture_live_mean, texture_attack_mean;
};
// Reads the manifest's "sequence_liveness" object; reason sequence_model_invalid.
StatusOr<SequenceModel> SequenceModelFromJson(const nlohmann::json& j);
nlohmann::json SequenceModelToJson(const SequenceModel& m);

LivenessVerdict FuseWindow(const SequenceModel& model, const WindowSignals& s);

// Fills lbp_llr and lbp_chi2 of `s` from its texture histogram and the model's class means
// (left unchanged when either is missing).
void ApplyTextureModel(const SequenceModel& model, WindowSignals& s);
// Class-mean LBP histograms of the live and the attack windows (with a small floor so that no
// bin is zero); empty when either class has no window with a texture histogram.
void FitTextureModel(const std::vector<WindowSignals>& windows, const std::vector<bool>& live,
                     SequenceModel& model);

// The CNN logit offset a camera is judged with: its profile's, or for a camera with no profile
// (`profile` null) the model's uncalibrated offset, never 0.
float CnnLogitOffsetFor(const SequenceModel& model, const CameraProfile* profile);

// The liveness decision for one window of frames from one camera (`profile` null: a camera
// that was never calibrated, judged at the conservative uncalibrated offset, `unsure` when the
// window falls in the model's uncalibrated band; a calibrated camera is never unsure).
LivenessVerdict JudgeWindow(const SequenceModel& model, const std::vector<FrameCue>& cues,
                            const CameraProfile* profile);

// Signals of a window computed with offset 0, moved to `cnn_logit_offset`: the same as
// ComputeWindowSignals(cues, cnn_logit_offset) (the cnn signal is a mean of shifted logits).
WindowSignals WithCnnOffset(WindowSignals s, float cnn_logit_offset);
// JudgeWindow on signals computed with offset 0.
LivenessVerdict JudgeRawWindow(const SequenceModel& model, const WindowSignals& raw,
                               const CameraProfile* profile);

// Fits the model by L2-regularised logistic regression (gradient descent on standardised
// features). `live` labels: true = bona fide. Only the signals in `use` get weights. When `use`
// names a texture signal, the class-mean histograms are fitted on `windows` first.
SequenceModel FitSequenceModel(const std::vector<WindowSignals>& windows,
                               const std::vector<bool>& live, const std::vector<std::string>& use,
                               float l2);

}  // namespace facepay::vision
