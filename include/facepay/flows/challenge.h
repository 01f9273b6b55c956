// The kinds of challenge a flow leaves open for a follow-up request, and their stored names.
#pragma once

#include <optional>
#include <string>

namespace facepay::flows {

enum class ChallengeKind {
  kPassageStepUp,    // "step_up:passage": a gate waits for a second factor
  kPaymentStepUp,    // "step_up:payment": a till waits for a second factor
  kAtmVerification,  // "atm_verification": a verified face may withdraw once
  kLiveness,         // "liveness_challenge": a kiosk waits for the response to its prompts
  kLivenessPassed,   // "liveness_challenge:passed": the face a passed response saw, for one enrolment
  kStepUpLiveness,   // "step_up:liveness": the movements a step-up (liveness unsure) may be answered with
};

// The name kept in Challenge::kind (stored: never rename).
const char* ChallengeKindName(ChallengeKind k);
// nullopt for a name no flow wrote.
std::optional<ChallengeKind> ParseChallengeKind(const std::string& name);

// "ch_" + 32 random hex digits (libsodium's generator): unguessable, not secret-bearing.
std::string NewChallengeId();

}  // namespace facepay::flows
