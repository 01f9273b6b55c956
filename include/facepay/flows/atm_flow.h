// An ATM session: 1:1 verification of the live face against the subject of the account the
// customer's ATM card names (never an account the ATM chooses), then one withdrawal within the
// verification's lifetime. Failed verifications are budgeted per account and per ATM key
// (factor_budget.h), as are card tokens that name no card. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "facepay/flows/flow_deps.h"
#include "facepay/flows/identifier.h"
#include "facepay/flows/probe.h"

namespace facepay::flows {

struct AtmVerifyRequest {
  std::string atm;  // a configured ATM
  // BLAKE2b-256 hex of the card token; nullopt when the token has not the shape of a card (no
  // store lookup: refused as card_not_found).
  std::optional<std::string> card_token_hash;
  // The account the ATM says the card names, when it says one (checked against the card).
  std::optional<std::string> account_id;
  // The live frames as read, or why they could not be read (reported once the card is checked).
  StatusOr<Sighting> sighting = Sighting{};
};

struct AtmVerification {
  std::string account_id, card_id;
  Probe probe;
  bool verified = false;
  // The probe's reject reason, or kNoMatch below the threshold; nullopt when verified.
  std::optional<biometrics::RejectReason> reason;
  std::optional<float> score;  // with a usable probe: the best score (-1 without templates)
  float threshold = 0;
  std::string verification_id;  // when verified: what the withdrawal names
  int64_t expires_at_ms = 0;
};

// {"account_id", "card_id", "probe", "verified", ["reason"], ["score", "threshold"],
// ["verification_id", "expires_at_ms"]}; with `scores` false (terminal answers) no score,
// threshold or probe scores. The audit log keeps the form with scores.
nlohmann::json AtmVerificationJson(const AtmVerification& v, bool scores);

struct WithdrawalRequest {
  std::string atm;
  std::string verification_id;
  std::string request_id;  // the ledger's idempotency key (with the ATM id)
  int64_t amount_minor = 0;
};

class AtmFlow {
 public:
  explicit AtmFlow(const FlowDeps& deps) : deps_(deps) {}

  // Errors: ResourceExhausted("verification_locked") (the key's or the account's budget is
  // spent), NotFound("card_not_found" | "no_enrolled_subject"), PermissionDenied("card_revoked"),
  // InvalidArgument("card_account_mismatch"), the sighting's and the ledger's errors. A face that
  // does not match is an outcome (verified false), not an error.
  StatusOr<AtmVerification> Verify(const Caller& who, const AtmVerifyRequest& r) const;
  // Takes the verification (once) and withdraws from its account into the ATM's cash account.
  // NotFound("verification_not_found") (also another ATM's), FailedPrecondition
  // ("challenge_used" | "challenge_expired"), DataLoss("bad_challenge"), the ledger's errors. A
  // withdrawal the ledger declines is an outcome. Answering a retried request again is the
  // caller's (the service replays its stored answer).
  StatusOr<payments::ChargeResult> Withdraw(const Caller& who, const WithdrawalRequest& r) const;

 private:
  const FlowDeps& deps_;
};

}  // namespace facepay::flows
