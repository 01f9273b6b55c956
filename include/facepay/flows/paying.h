// What the paying flows share (a gate passage, a till payment): the request that is settled
// once the payer is known, the settlement, and identify-and-settle itself. A step-up challenge
// keeps the request until the second factor names the payer (step_up_flow.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "facepay/flows/challenge.h"
#include "facepay/flows/flow_deps.h"
#include "facepay/flows/identifier.h"
#include "facepay/payments/ledger_types.h"
#include "facepay/vision/active_challenge.h"

namespace facepay::flows {

enum class PayingFlow { kPassage, kPayment };
// "passage" | "payment": the audit action and the metrics' flow label.
const char* PayingFlowName(PayingFlow f);
ChallengeKind StepUpKindOf(PayingFlow f);
// The id of the movements a step-up offers (ChallengeKind::kStepUpLiveness).
std::string StepUpMovesId(const std::string& step_up_id);

struct PayingRequest {
  PayingFlow flow = PayingFlow::kPassage;
  std::string terminal;  // the gate or till id (must be configured)
  std::string event_id;  // passage: the gate's event id (fare idempotency: gate:{gate}:{event})
  std::string order_id;  // payment: the till's order id (charge idempotency)
  int64_t amount_minor = 0;
  std::string currency;
  const std::string& Key() const { return flow == PayingFlow::kPassage ? event_id : order_id; }
};
// Stored in a challenge: {"event_id"} | {"order_id", "amount_minor", "currency"}.
nlohmann::json PayingRequestJson(const PayingRequest& r);
// The inverse; throws nlohmann::json::exception on a malformed record.
PayingRequest PayingRequestFrom(PayingFlow f, const std::string& terminal, const nlohmann::json& j);

enum class SettlementKind {
  kNoLinkedAccount,  // the payer has no account: nothing moved (gate stays shut / declined)
  kFare,             // a passage's tap: `tap`
  kCharge,           // a till's purchase: `charge`
};
struct Settlement {
  SettlementKind kind = SettlementKind::kNoLinkedAccount;
  payments::TapResult tap;
  payments::ChargeResult charge;
};
// TapToJson / ChargeResultToJson; no account: {"open_gate": false, "reason":
// "no_linked_account"} at a gate, {"outcome": "declined", "decline_reason": ...} at a till.
nlohmann::json SettlementJson(const Settlement& s, PayingFlow f);

// Idempotent on the request's event id / order id: settling again returns the first result.
StatusOr<Settlement> Settle(const FlowDeps& deps, const PayingRequest& r,
                            const std::string& subject_id);

struct IssuedChallenge {
  std::string id;
  int64_t expires_at_ms = 0;
  int attempts = 0;
  // Liveness unsure at a terminal that shows prompts: the movements the step-up may be
  // answered with instead of a code (StepUpFlow::RunMoves); empty: a code only.
  std::vector<vision::ChallengeAction> actions;
};

struct PaidIdentification {
  Identification id;
  std::optional<Settlement> settlement;     // on accept
  std::optional<IssuedChallenge> challenge;  // on step_up
  std::optional<double> settle_ms;
  double total_ms = 0;
};

// Probe, identify, then settle (accept) or open a step-up challenge (step_up); counts and
// audits the decision with its scores. Not idempotent by itself: the caller replays answers.
StatusOr<PaidIdentification> IdentifyAndSettle(const FlowDeps& deps, const Caller& who,
                                               const PayingRequest& r, const Sighting& sighting,
                                               const std::string& camera);

}  // namespace facepay::flows
