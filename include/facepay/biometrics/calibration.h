// Threshold calibration from measured impostor scores at the current gallery size.
//
// Input: for each non-mated probe (a person NOT in the gallery) its highest impostor scores
// against the gallery (the top-k of a search; exact for the tail as long as fewer than k
// gallery scores of one probe exceed the thresholds). Then:
//  - accept = the lowest threshold whose FPIR (share of non-mated probes whose top score
//    reaches it) is <= target_fpir;
//  - second_factor = the lowest threshold whose false-match rate per comparison, times the
//    expected number of impostor subjects left after a 4-digit narrowing
//    (max(1, gallery_size / 10^4)), is <= target_fpir;
//  - step_up = the lowest threshold whose FPIR is <= step_up_fpir (default 10 x target: at
//    most that share of strangers is asked for a second factor), never below second_factor
//    (so every step_up can still be completed) and never above accept.
// The margin is configured, not calibrated.
// Pure; thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "facepay/biometrics/decision_policy.h"
#include "facepay/common/status_or.h"

namespace facepay::biometrics {

struct CalibrationInput {
  std::vector<std::vector<float>> nonmated_top_scores;  // per probe, any order
  int64_t gallery_size = 0;                             // subjects in the gallery
  double target_fpir = 1e-3;
  float margin = 0.05f;
  double step_up_fpir = 0;  // 0 = min(0.5, 10 x target_fpir)
};

// InvalidArgument("too_few_impostor_probes") with fewer than 1/target_fpir probes;
// InvalidArgument("invalid_fpir") unless 0 < target_fpir < 1; "empty_gallery".
StatusOr<StoredPolicy> Calibrate(const CalibrationInput& in);

// From impostor PAIRS instead of probes searched against the gallery (e.g. the mismatched
// pairs of an LFW pair list): each score is one impostor comparison, so the per-comparison
// false-match rate FMR(t) is measured and FPIR at gallery size N is taken as N x FMR(t) (the
// union bound; exact enough while N x FMR << 1). Thresholds:
//  - accept: lowest t with N x FMR(t) <= target_fpir;
//  - step_up: lowest t with N x FMR(t) <= step_up_fpir (default 10 x target), clamped into
//    [second_factor, accept];
//  - second_factor: as in Calibrate, FMR(t) x max(1, N / 10^4) <= target_fpir.
// measured_fpir is N x FMR(accept) on these pairs; impostor_probes holds the pair count.
// InvalidArgument("too_few_impostor_pairs") with fewer than N / target_fpir pairs (the
// target FMR would be below 1 / pairs: not measurable); "invalid_fpir"; "empty_gallery".
StatusOr<StoredPolicy> CalibrateFromPairs(const std::vector<float>& impostor_scores,
                                          int64_t gallery_size, double target_fpir,
                                          float margin, double step_up_fpir = 0);

// Lowest threshold t with (count of scores >= t) <= allowed: just above the
// (allowed+1)-th highest score, or -1 when there are at most `allowed` scores.
float ThresholdAllowing(std::vector<float> scores, int64_t allowed);

}  // namespace facepay::biometrics
