#include "facepay/flows/challenge.h"

#include <sodium.h>

namespace facepay::flows {

const char* ChallengeKindName(ChallengeKind k) {
  switch (k) {
    case ChallengeKind::kPassageStepUp: return "step_up:passage";
    case ChallengeKind::kPaymentStepUp: return "step_up:payment";
    case ChallengeKind::kAtmVerification: return "atm_verification";
    case ChallengeKind::kLiveness: return "liveness_challenge";
    case ChallengeKind::kLivenessPassed: return "liveness_challenge:passed";
    case ChallengeKind::kStepUpLiveness: return "step_up:liveness";
  }
  return "";
}

std::optional<ChallengeKind> ParseChallengeKind(const std::string& name) {
  for (ChallengeKind k : {ChallengeKind::kPassageStepUp, ChallengeKind::kPaymentStepUp,
                          ChallengeKind::kAtmVerification, ChallengeKind::kLiveness,
                          ChallengeKind::kLivenessPassed, ChallengeKind::kStepUpLiveness}) {
    if (name == ChallengeKindName(k)) return k;
  }
  return std::nullopt;
}

std::string NewChallengeId() {
  unsigned char raw[16];
  randombytes_buf(raw, sizeof raw);
  char hex[2 * sizeof raw + 1];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  std::string id = "ch_";  // appended: GCC 12 warns falsely (-Wrestrict) on "lit" + string
  return id += hex;
}

}  // namespace facepay::flows
