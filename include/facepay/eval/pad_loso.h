// Leave-one-source-out evaluation of sequence liveness (`facepay eval pad --sources FILE
// --leave-one-source-out`): how the liveness decision generalises to a capture set-up it was
// not fitted on, per attack type (ISO/IEC 30107-3: the worst species counts), with and without
// calibrating the left-out camera.
//
// For each source S (PadSample::source): the fusion model is fitted on the windows of every
// other source (each camera shifted by its own calibration), its threshold is the lowest that
// keeps APCER <= max_apcer for every attack type of every training source, and the offset for
// a camera without a profile is derived from the training sources alone (UncalibratedOffset).
// S is then scored twice: "uncalibrated" (its cameras at that offset: what a new, never
// calibrated camera gets) and "calibrated" (its cameras at their own calibration, taken from a
// share of their genuine data that is then not scored).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "facepay/eval/sequence_data.h"
#include "facepay/vision/sequence_liveness.h"

namespace facepay::eval {

struct LosoOptions {
  std::vector<std::string> signals = {"cnn"};  // fused signals (vision::SignalNames)
  float l2 = 0.05f;
  float max_apcer = 0.01f;
  float calibration_target_logit = 2.0f;  // as `facepay liveness calibrate`
  // Share of each camera's genuine data used to calibrate it: the first part of each long
  // genuine sequence, or every k-th short one (stills, sequences shorter than 3 windows).
  double calibration_share = 1.0 / 3;
  // Crop signals (CalibratableSignals) also calibrated per camera, as an experiment: each
  // camera's genuine median of the per-frame value over its calibration share is subtracted, in
  // training and in "calibrated" scoring; a camera without a profile ("uncalibrated", and when
  // deriving its CNN offset) is centred on the median of the training cameras' medians. Empty:
  // only the CNN is calibrated (what the product does).
  std::vector<std::string> calibrate_signals;
};

// Window signals that are medians of a per-frame crop cue, so a camera's genuine median can
// centre them: specular, sharpness, sat_mean, sat_std, val_skew, colour_diversity, moire_hf,
// moire_peak.
const std::vector<std::string>& CalibratableSignals();

// Genuine data split into what calibrates each camera and what is scored afterwards.
struct CalibrationSplit {
  std::map<std::string, vision::CameraProfile> profiles;  // cameras with genuine frames only
  std::vector<CueTrack> scoring;  // attacks untouched; genuine tracks without calibration cues
  // camera -> crop signal -> median per-frame value of its calibration cues (every
  // CalibratableSignals() name, cameras with genuine crops only).
  std::map<std::string, std::map<std::string, float>> signal_medians;
};
CalibrationSplit SplitForCalibration(const std::vector<CueTrack>& tracks, const WindowOptions& w,
                                     const LosoOptions& o);

// Rejection threshold on the fused score: the lowest with APCER <= max_apcer for every
// (source, attack type) of `windows`, whose signals are already calibrated. 0.5 when there is
// no attack.
float WorstSpeciesThreshold(const vision::SequenceModel& m,
                            const std::vector<WindowSample>& windows, float max_apcer);

// The offset for a camera with no profile: the most conservative of (a) the lowest
// calibration offset among `profiles` and (b) the highest offset at which every
// (source, attack type) of `raw_windows` (signals with offset 0), judged by `m`, keeps
// APCER <= max_apcer. Clamped to [-kMaxCnnLogitOffset, kMaxCnnLogitOffset].
struct UncalibratedDerivation {
  float offset = 0;          // min(attack_bound, lowest_profile)
  float attack_bound = 0;    // (b)
  float lowest_profile = 0;  // (a), of `lowest_camera`
  std::string lowest_camera;
};
UncalibratedDerivation UncalibratedOffset(
    const vision::SequenceModel& m, const std::vector<WindowSample>& raw_windows,
    const std::map<std::string, vision::CameraProfile>& profiles, float max_apcer);

struct RateCount {
  size_t n = 0, hits = 0;  // hits: attacks accepted (APCER) / genuine windows refused (BPCER)
  double rate() const { return n == 0 ? 0 : static_cast<double>(hits) / static_cast<double>(n); }
};

struct ModeResult {
  std::string mode;  // uncalibrated | calibrated | shipped_offset0 | shipped_uncalibrated | ...
  float threshold = 0;
  std::map<std::string, float> camera_offsets;  // what each camera of the source was judged at
  std::map<std::string, RateCount> apcer;       // per attack type, at the threshold
  RateCount bpcer;                              // at the threshold
  // Uncalibrated modes: windows in the unsure band (active challenge instead of accept).
  std::map<std::string, RateCount> attack_unsure;
  RateCount live_unsure;
  double auc = -1;  // -1: only one class
  // Oracle: BPCER at the lowest threshold with APCER <= 1% for every attack type of this
  // source (chosen on the scored data itself: how far calibration can go, not a deployment).
  double oracle_bpcer_at_apcer_1pct = -1;
};

struct SourceResult {
  std::string source;
  std::vector<ModeResult> modes;
};

struct LosoReport {
  std::vector<std::string> signals;
  std::map<std::string, vision::CameraProfile> profiles;
  std::vector<SourceResult> sources;
  // The uncalibrated offset derived over ALL sources (by UncalibratedOffset): for the model
  // fitted on all of them, and for `reference` when one was given.
  UncalibratedDerivation all_sources_uncalibrated;
  UncalibratedDerivation reference_uncalibrated;
};

// `reference` (the shipped model, may be null) is also scored on every source: at offset 0 (the
// behaviour before a safe default existed), at its own uncalibrated offset, and calibrated.
LosoReport LeaveOneSourceOut(const std::vector<CueTrack>& tracks, const WindowOptions& w,
                             const LosoOptions& o, const vision::SequenceModel* reference);

nlohmann::json LosoReportToJson(const LosoReport& r);

}  // namespace facepay::eval
