// The JSON answers of the flows (what a terminal or an operator is shown). With `scores` false
// (terminal keys) no scores, thresholds or margins: a terminal's answer is not a score oracle.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "facepay/flows/paying.h"
#include "facepay/flows/step_up_flow.h"

namespace facepay::service {

nlohmann::json IdentificationTimings(const flows::Identification& id);
// {"decision", "probe", ["settlement"], ["challenge"], "timings_ms"}
nlohmann::json PaidIdentificationJson(const flows::PaidIdentification& p, flows::PayingFlow f,
                                      bool scores);
// {"decision", "challenge_id", ["settlement"] | ["attempts_left"], ["movements"]}
nlohmann::json StepUpJson(const flows::StepUpOutcome& o, flows::PayingFlow f,
                          const std::string& challenge_id, bool scores);

}  // namespace facepay::service
