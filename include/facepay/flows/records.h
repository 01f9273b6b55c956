// The JSON forms of flow values that are recorded: in the audit log, in a stored challenge's
// payload, and (the same forms) in the service's answers. Stored forms: never rename a field.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "facepay/biometrics/decision_policy.h"

namespace facepay::flows {

// {"outcome", "second_factor", ["score", "margin", "rule"], ["reason"], ["subject_id"]}; with
// `scores` false (terminal answers) no score, margin or rule.
nlohmann::json DecisionJson(const biometrics::Decision& d, bool scores = true);
// [{"subject_id", "score"}, ...]
nlohmann::json CandidatesJson(const std::vector<biometrics::Candidate>& c);
// The inverse; throws nlohmann::json::exception on a malformed array (callers catch it).
std::vector<biometrics::Candidate> CandidatesFrom(const nlohmann::json& a);

}  // namespace facepay::flows
