// 1:N identification evaluation (NIST FRTE 1:N style) on an LFW-style image folder.
//
// Protocol (deterministic; identities sorted by name):
//  - identities with >= 2 images alternate: even positions are ENROLLED (their first image in
//    name order goes to the gallery, every other image is a MATED probe), odd positions are
//    HELD OUT (all their images are NON-MATED probes);
//  - every single-image identity is enrolled as a distractor (gallery only);
//  - held-out identities alternate again: even ones CALIBRATE the decision policy, odd ones
//    TEST it (the outcome split is measured on mated probes + the test half only).
// Metrics: rank-1 hit rate; FNIR at FPIR (threshold from all non-mated top-1 scores; a mated
// probe counts as found only when its mate is rank 1 AND reaches the threshold); the
// accept / step_up / reject split of the decision policy, face only and with the simulated
// phone-digit second factor (each subject gets random digits; a mated probe types its own
// subject's, a non-mated probe random ones; the factor is asked only after a step_up).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "facepay/biometrics/decision_policy.h"
#include "facepay/eval/verify_eval.h"

namespace facepay::eval {

struct IdentifyProtocol {
  std::vector<std::string> gallery_paths;  // one per enrolled subject
  std::vector<std::string> gallery_ids;
  struct Probe {
    std::string path;
    std::string identity;
    bool mated = false;
    bool calibration = false;  // non-mated probe of the calibration half
  };
  std::vector<Probe> probes;
  size_t distractors = 0;  // single-image identities in the gallery
};

// From `<images>/<Name>/<files>`. Reason: dataset_missing (no identities).
StatusOr<IdentifyProtocol> BuildLfwIdentifyProtocol(const std::string& images_dir);

struct IdentifyEvalOptions {
  std::vector<double> fpirs = {1e-2, 1e-3};
  double policy_target_fpir = 1e-2;  // for the outcome split (calibrated on the calib half)
  float margin = 0.05f;
  int candidates = 200;  // per-probe search depth (calibration tail, second-factor narrowing)
  uint64_t seed = 7;
};

struct OutcomeSplit {
  // mated: accept_correct, accept_wrong, step_up, reject; non-mated: accept (false), ...
  std::map<std::string, int64_t> mated, nonmated;
};

struct IdentifyReport {
  size_t gallery = 0, distractors = 0, mated = 0, nonmated = 0, calibration = 0;
  size_t failures = 0;
  double rank1 = 0;
  struct Point {
    double target_fpir = 0, fpir = 0, fnir = 0;
    float threshold = 0;
  };
  std::vector<Point> points;
  biometrics::StoredPolicy policy;
  OutcomeSplit face_only, with_phone_digits;
};

// Scores every probe against the gallery with a real FAISS Flat index over `set`.
StatusOr<IdentifyReport> EvaluateIdentification(const EmbeddingSet& set,
                                                const IdentifyProtocol& protocol,
                                                const IdentifyEvalOptions& options);
nlohmann::json IdentifyReportToJson(const IdentifyReport& r);

}  // namespace facepay::eval
