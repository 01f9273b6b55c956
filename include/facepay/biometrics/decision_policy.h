// The payment-grade decision: accept, step_up or reject, as a value (never an error).
//
// Rules (thresholds are cosine similarities; candidates are ranked per SUBJECT, best first):
//  1. A probe that is not usable is rejected first: no_face, multiple_faces, spoof, then
//     low_quality.
//  2. accept(best) when best >= accept AND best - (best score of any OTHER subject) >= margin.
//  3. step_up(candidates >= step_up) when best >= step_up but rule 2 failed (the best is in
//     the band [step_up, accept) or the margin is too small).
//  4. reject(no_match) otherwise.
// With a second factor (phone last-4 / PIN typed at the terminal) the candidates are first
// narrowed to subjects whose factor matches, then decided at the lower second_factor
// threshold with the same margin rule inside the narrowed set: accept, step_up (two narrowed
// subjects still too close: ask for a PIN) or reject(no_match). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace facepay::biometrics {

struct PolicyThresholds {
  // Defaults before calibration: the model's 1:1 operating points on LFW all-vs-all
  // (FAR 1e-5 = 0.48, FAR 1e-3 = 0.335; docs/accuracy.md). `facepay calibrate` replaces them.
  float accept = 0.48f;
  float step_up = 0.335f;
  float second_factor = 0.335f;
  float margin = 0.05f;
  int max_candidates = 5;  // step_up candidate list length
};

// Thresholds as calibrated for one embedder model (stored with its model id).
struct StoredPolicy {
  std::string model_id;
  PolicyThresholds thresholds;
  bool calibrated = false;    // false = defaults
  double target_fpir = 0;     // target false-positive identification rate
  int64_t gallery_size = 0;   // subjects in the gallery when calibrated
  int64_t impostor_probes = 0;
  double measured_fpir = 0;   // FPIR of the accept threshold on the calibration probes
  int64_t calibrated_at_ms = 0;
};

enum class Outcome { kAccept, kStepUp, kReject };
enum class RejectReason { kNone, kNoMatch, kSpoof, kLowQuality, kNoFace, kMultipleFaces };
enum class ProbeState { kOk, kNoFace, kMultipleFaces, kSpoof, kLowQuality };

const char* OutcomeName(Outcome o);            // "accept" | "step_up" | "reject"
const char* RejectReasonName(RejectReason r);  // "" | "no_match" | "spoof" | ...

struct Candidate {
  std::string subject_id;
  float score = 0;
};

struct Decision {
  Outcome outcome = Outcome::kReject;
  RejectReason reason = RejectReason::kNoMatch;
  std::string subject_id;  // accept only
  float score = 0;         // best score considered (-1 when none)
  float margin = 0;        // best minus best other subject (1 + best when there is no other)
  std::vector<Candidate> candidates;  // step_up only
  bool second_factor = false;
  std::string rule;  // which rule decided, for the audit log
};

// `ranked` must hold one entry per subject; it is sorted defensively.
Decision Decide(ProbeState state, std::vector<Candidate> ranked, const PolicyThresholds& t);
// Same, with a second factor: `matches(subject_id)` tells whether the typed factor matches.
Decision DecideWithSecondFactor(ProbeState state, std::vector<Candidate> ranked,
                                const PolicyThresholds& t,
                                const std::function<bool(const std::string&)>& matches);

nlohmann::json DecisionToJson(const Decision& d);
nlohmann::json PolicyToJson(const StoredPolicy& p);

}  // namespace facepay::biometrics
