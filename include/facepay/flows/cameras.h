// Terminal cameras (docs/liveness.md, "Calibrating a camera on the server"): which liveness
// calibration each one is judged with, how an operator calibrates it, how confirmed passages
// refine it, and whether its genuine scores have drifted.
//
// A camera is named by its terminal: "gate:g1", "till:t1", "atm:a1", "border:b1", "kiosk:k1".
// Its profile is, in order: a calibration the server stored (guided calibration or a
// refinement, kept in the FlowStore so every node sees it), else the terminals config's
// "camera_profile", else none (uncalibrated: the model's conservative offset and unsure band).
//
// Nothing an attacker can replay moves a calibration:
// - a guided calibration takes only passages that passed an active liveness challenge (random
//   movements a photo or a recorded video cannot follow: LivenessChallengeFlow), at least
//   kMinCalibrationPassages of them and kMinCalibrationFrames frames;
// - a refinement takes only passages confirmed by a second factor or a passed challenge, moves
//   the offset at most kRefineStepLogits per kRefineEvery of them, never more than
//   kRefineBoundLogits away from the last guided (or configured) calibration, and never on an
//   uncalibrated camera;
// - every change is audited (action "camera_calibration"), with the offsets before and after.
//
// Drift: each judged burst's calibrated CNN logit is kept per camera in memory (this node, the
// last kDriftWindow bursts with a matched face); a median more than kDriftAlertLogits from the
// calibration target is an alert (/healthz, /metrics, dashboard). Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "facepay/flows/flow_store.h"
#include "facepay/flows/sinks.h"
#include "facepay/flows/terminals.h"
#include "facepay/payments/clock.h"
#include "facepay/vision/sequence_liveness.h"

namespace facepay::flows {

inline constexpr float kCalibrationTargetLogit = 2.0f;  // as `facepay liveness calibrate`
inline constexpr int kMinCalibrationPassages = 3;
inline constexpr int kMinCalibrationFrames = 20;
inline constexpr int kMaxCalibrationFrames = 1500;  // kept per calibration in progress
inline constexpr int kMaxCalibrationPassages = 100;
inline constexpr int64_t kCalibrationTtlMs = 30 * 60'000;  // a calibration in progress lapses
inline constexpr int kRefineEvery = 10;
inline constexpr float kRefineStepLogits = 0.25f;
inline constexpr float kRefineBoundLogits = 1.5f;
inline constexpr int kDriftWindow = 64;
inline constexpr int kDriftMinBursts = 20;
inline constexpr float kDriftAlertLogits = 2.0f;
// Histogram of judged bursts' calibrated CNN logits (Prometheus upper bounds, +Inf last).
inline constexpr std::array<float, 9> kLogitBuckets = {-8, -6, -4, -2, 0, 2, 4, 6, 8};

struct CameraView {
  std::string camera;
  std::optional<vision::CameraProfile> profile;  // none: uncalibrated
  std::string source;          // "calibration" | "refinement" | "config" | "" (none)
  float judged_offset = 0;     // what its bursts are judged with (CnnLogitOffsetFor)
  std::optional<float> base_offset;  // the guided/config calibration refinements stay near
  int refinements = 0;
  int confirmed_pending = 0;   // confirmed passages towards the next refinement step
  int64_t calibrated_at_ms = 0;
  int calibration_passages = 0, calibration_frames = 0;  // a calibration in progress
  // This node's drift monitor.
  int bursts = 0;                     // judged bursts in the window
  std::optional<float> median_logit;  // of bursts with a matched face
  std::optional<float> drift_logits;  // median - target, once kDriftMinBursts are in
  bool drift_alert = false;
  std::array<int64_t, kLogitBuckets.size() + 1> histogram{};  // all judged bursts, cumulative no
  int64_t bursts_total = 0;
  double logit_sum = 0;
};

struct CalibrationProgress {
  int passages = 0, frames = 0;
  int passages_needed = kMinCalibrationPassages, frames_needed = kMinCalibrationFrames;
  bool ready() const { return passages >= passages_needed && frames >= frames_needed; }
};

class CameraBook {
 public:
  // `store`, `clock` and `audit` outlive the book; the cameras are read from `terminals` now.
  // `sequence` may be null (no sequence liveness: nothing is judged, so nothing is calibrated).
  CameraBook(const Terminals& terminals, FlowStore& store, payments::Clock& clock, AuditSink& audit,
             const vision::SequenceModel* sequence);

  // Every camera the terminals config names, sorted.
  const std::vector<std::string>& Names() const { return names_; }
  bool Known(const std::string& camera) const;

  // The profile a burst of `camera` is judged with now; nullopt: uncalibrated. Store errors.
  StatusOr<std::optional<vision::CameraProfile>> ProfileOf(const std::string& camera) const;

  // Adds the face frames of a passage that passed an active challenge to `camera`'s
  // calibration in progress (starting one). NotFound("unknown_camera"); InvalidArgument
  // ("calibration_no_frames") for a passage without a face frame.
  StatusOr<CalibrationProgress> AddCalibrationPassage(const Caller& who, const std::string& camera,
                                                      const std::vector<float>& cnn_p_live);
  // Writes the profile from the calibration in progress and ends it. FailedPrecondition
  // ("calibration_not_ready") with too few passages or frames: nothing changes. Audited.
  StatusOr<CameraView> CommitCalibration(const Caller& who, const std::string& camera);
  // Forgets the server's calibration: the camera goes back to its config profile (or none).
  Status ResetCalibration(const Caller& who, const std::string& camera);

  // A passage of `camera` confirmed by a second factor or a passed challenge, with the raw
  // (offset 0) median CNN logit of its burst: may refine the profile (bounded, audited).
  Status Confirmed(const Caller& who, const std::string& camera, float raw_median_logit);

  // One judged burst of `camera`: its calibrated median CNN logit (the score histogram), or with
  // `matched` (ObserveMatched) the drift window only.
  void Observe(const std::string& camera, float calibrated_logit, bool matched);
  // A burst whose face matched an enrolled person (genuine, nearly always): the drift monitor
  // follows these. Not counted in the histogram again.
  void ObserveMatched(const std::string& camera, float calibrated_logit) {
    Observe(camera, calibrated_logit, true);
  }

  StatusOr<CameraView> View(const std::string& camera) const;
  StatusOr<std::vector<CameraView>> Views() const;

 private:
  struct Drift {
    std::deque<float> matched;  // the last kDriftWindow matched bursts' logits
    std::array<int64_t, kLogitBuckets.size() + 1> histogram{};
    int64_t total = 0;
    double sum = 0;
  };
  void FillDrift(CameraView& v) const;

  FlowStore& store_;
  payments::Clock& clock_;
  AuditSink& audit_;
  const vision::SequenceModel* sequence_;
  std::map<std::string, std::optional<vision::CameraProfile>> configured_;
  std::vector<std::string> names_;
  mutable std::mutex mu_;                 // guards drift_
  std::map<std::string, Drift> drift_;
};

// The raw (offset 0) median CNN logit of a burst's face frames; nullopt for none.
std::optional<float> RawMedianLogit(const std::vector<vision::FrameCue>& cues);

}  // namespace facepay::flows
