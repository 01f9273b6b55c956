// 1:N identification evaluation (NIST FRTE 1:N style).
//
// LFW protocol (BuildLfwIdentifyProtocol; deterministic; identities sorted by name):
//  - identities with >= 2 images alternate: even positions are ENROLLED (their first image in
//    name order goes to the gallery, every other image is a MATED probe), odd positions are
//    HELD OUT (all their images are NON-MATED probes);
//  - every single-image identity is enrolled as a distractor (gallery only);
//  - held-out identities alternate again: even ones CALIBRATE the decision policy, odd ones
//    TEST it (the outcome split is measured on mated probes + the test half only).
// Explicit protocol (BuildIdentifyProtocol): a gallery sample list and a probe sample list;
// each gallery identity is enrolled from its first sample; a probe is mated when its identity
// is enrolled; non-mated probe identities alternate into calibration / test halves.
// Leave-one-out non-mated probes (AddLeaveOneOutProbes): every enrolled identity's samples are
// searched again with that identity removed from the candidates, which makes each of them a
// non-mated probe against a gallery one subject smaller. This multiplies the non-mated probes
// (FPIR is per probe, so more probes, not more comparisons, tighten a 1e-3 estimate).
// Metrics: rank-1 hit rate; FNIR at FPIR (threshold from all non-mated top-1 scores; a mated
// probe counts as found only when its mate is rank 1 AND reaches the threshold); the
// accept / step_up / reject split of the decision policy, face only and with the simulated
// phone-digit second factor (each subject gets random digits; a mated probe types its own
// subject's, a non-mated probe random ones; the factor is asked only after a step_up).
#pragma once

#include <map>
#include <set>
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
    bool exclude_own = false;  // leave-one-out: non-mated with its own identity removed
  };
  std::vector<Probe> probes;
  size_t distractors = 0;  // single-image identities in the gallery
};

// From `<images>/<Name>/<files>`. Reason: dataset_missing (no identities).
StatusOr<IdentifyProtocol> BuildLfwIdentifyProtocol(const std::string& images_dir);

struct Sample {
  std::string identity, path;
};
// A folder (each subfolder one identity, its images the samples) or a list file: one sample a
// line, "identity<TAB>path" or just "path" (identity = the image's folder name); relative
// paths are resolved against the list's folder; '#' lines are comments. Samples sorted by
// identity then path. Reasons: dataset_missing, samples_malformed (with the line number).
StatusOr<std::vector<Sample>> ReadSamples(const std::string& folder_or_list);
// Reason: dataset_missing when the gallery is empty.
StatusOr<IdentifyProtocol> BuildIdentifyProtocol(const std::vector<Sample>& gallery,
                                                 const std::vector<Sample>& probes);
// Lines of two or more names (whitespace-separated) that are one person; '#' comments.
// Reasons: file_not_found, same_person_malformed.
StatusOr<std::map<std::string, std::set<std::string>>> ReadSamePerson(const std::string& file);
// Adds the leave-one-out non-mated probes (see above); calibration / test halves alternate
// over the enrolled identities in gallery order.
void AddLeaveOneOutProbes(IdentifyProtocol& protocol);

struct IdentifyEvalOptions {
  std::vector<double> fpirs = {1e-2, 1e-3};
  // One policy each, calibrated on the calibration half, its outcome split measured on the
  // mated probes and the test half. A target the calibration half cannot support is reported
  // with its refusal, not dropped.
  std::vector<double> policy_target_fpirs = {1e-2};
  float margin = 0.05f;
  int candidates = 200;  // per-probe search depth (calibration tail, second-factor narrowing)
  // Names that are the same person (data-set label noise, e.g. LFW's "Sepp_Blatter" and
  // "Joseph_Blatter"): dropped from each other's candidate lists, so such a match counts
  // neither as a false positive nor as a hit.
  std::map<std::string, std::set<std::string>> same_person;
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
  size_t leave_one_out = 0;  // of the non-mated probes
  size_t nonmated_test = 0;  // non-mated probes of the test half
  struct Point {
    double target_fpir = 0, fpir = 0, fnir = 0;
    int64_t false_positives = 0;
    double fpir_low = 0, fpir_high = 0;  // 95% Clopper-Pearson interval of the measured FPIR
    double fnir_low = 0, fnir_high = 0;
    float threshold = 0;
  };
  std::vector<Point> points;
  struct PolicyRun {
    double target_fpir = 0;
    std::string refused;  // the calibration's refusal, empty when calibrated
    biometrics::StoredPolicy policy;
    OutcomeSplit face_only, with_phone_digits;
  };
  std::vector<PolicyRun> policies;
};

// Scores every probe against the gallery with a real FAISS Flat index over `set`.
StatusOr<IdentifyReport> EvaluateIdentification(const EmbeddingSet& set,
                                                const IdentifyProtocol& protocol,
                                                const IdentifyEvalOptions& options);
nlohmann::json IdentifyReportToJson(const IdentifyReport& r);

}  // namespace facepay::eval
