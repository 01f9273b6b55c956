// Biometric evaluation metrics over similarity scores (higher = more alike / more live).
// Pure functions, thread-safe. Conventions: a comparison is accepted when score >= threshold.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace facepay::eval {

struct ScoredPair {
  float score = 0;
  bool same = false;  // genuine (mated) pair
  int fold = 0;
};

struct RocPoint {
  double far = 0;  // false-accept rate
  double tar = 0;  // true-accept rate
  float threshold = 0;
};

// ROC from genuine and impostor scores, one point per distinct threshold, FAR ascending.
std::vector<RocPoint> ComputeRoc(std::vector<float> genuine, std::vector<float> impostor);
double AreaUnderCurve(const std::vector<RocPoint>& roc);

struct OperatingPoint {
  float threshold = 0;
  double tar = 0;
  double far = 0;
};
// Equal error rate: the point where FAR and FRR (= 1 - TAR) cross. `far` holds the EER.
OperatingPoint EqualErrorRate(const std::vector<float>& genuine, const std::vector<float>& impostor);
// Highest TAR with FAR <= target_far. nullopt when there are too few impostors to measure
// target_far (fewer than 1 / target_far).
std::optional<OperatingPoint> TarAtFar(const std::vector<float>& genuine,
                                       std::vector<float> impostor, double target_far);

// Threshold that maximises accuracy on `pairs` (midpoint between adjacent scores).
float BestAccuracyThreshold(const std::vector<ScoredPair>& pairs);
double AccuracyAt(const std::vector<ScoredPair>& pairs, float threshold);

struct KFoldResult {
  double mean_accuracy = 0;
  double std_accuracy = 0;
  std::vector<double> fold_accuracy;
  std::vector<float> fold_threshold;
};
// LFW protocol: for each fold, the threshold is chosen on the other folds and applied to it.
// Pairs carry their fold in [0, k).
KFoldResult KFoldAccuracy(const std::vector<ScoredPair>& pairs, int k);
// Assigns folds 0..k-1 in contiguous blocks within each class, as LFW's 10 sets do.
void AssignFolds(std::vector<ScoredPair>& pairs, int k);

// Presentation-attack detection (ISO/IEC 30107-3). Score = probability of a live face.
struct PadPoint {
  float threshold = 0;
  double apcer = 0;  // attacks accepted as live
  double bpcer = 0;  // live (bona fide) refused as attacks
  double acer() const { return (apcer + bpcer) / 2; }
};
PadPoint PadAt(const std::vector<float>& bona_fide, const std::vector<float>& attacks,
               float threshold);
// The lowest-BPCER threshold whose APCER <= max_apcer.
PadPoint BpcerAtApcer(const std::vector<float>& bona_fide, std::vector<float> attacks,
                      double max_apcer);

// Exact (Clopper-Pearson) two-sided confidence interval of a binomial rate: `k` events in
// `n` trials at confidence 1 - alpha. {0, 0} when n == 0.
struct RateInterval {
  double low = 0, high = 0;
};
RateInterval ClopperPearson(int64_t k, int64_t n, double alpha = 0.05);

}  // namespace facepay::eval
