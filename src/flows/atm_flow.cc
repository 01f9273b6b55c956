#include "facepay/flows/atm_flow.h"

#include "facepay/flows/challenge.h"
#include "facepay/flows/guess_budgets.h"

namespace facepay::flows {

using nlohmann::json;

json AtmVerificationJson(const AtmVerification& v, bool scores) {
  json body = {{"account_id", v.account_id}, {"card_id", v.card_id},
               {"probe", v.probe.ToJson(scores)}, {"verified", v.verified}};
  if (v.reason) body["reason"] = biometrics::RejectReasonName(*v.reason);
  if (v.score && scores) {
    body["score"] = *v.score;
    body["threshold"] = v.threshold;
  }
  if (v.verified) {
    body["verification_id"] = v.verification_id;
    body["expires_at_ms"] = v.expires_at_ms;
  }
  return body;
}

StatusOr<AtmVerification> AtmFlow::Verify(const Caller& who, const AtmVerifyRequest& r) const {
  const int64_t now_ms = deps_.clock->NowMs();
  const GuessBudgets budgets(deps_);
  const std::string key_scope = KeyScope(who.actor);
  FACEPAY_ASSIGN_OR_RETURN(bool key_locked, budgets.Locked(key_scope, now_ms));
  if (key_locked) {
    return ResourceExhausted("verification_locked",
                             "too many failed checks at this ATM; ask the bank for help");
  }
  std::optional<CardRecord> card;
  if (r.card_token_hash) {
    FACEPAY_ASSIGN_OR_RETURN(card, deps_.store->FindCard(*r.card_token_hash));
  }
  if (!card || card->revoked_at_ms != 0) {
    budgets.CountFailure(who, key_scope, true, now_ms);  // guessing card tokens spends the key's budget
    deps_.audit->Audit(who, now_ms, "atm_card_refused", r.atm, "reject",
                       {{"reason", card ? "card_revoked" : "card_not_found"},
                        {"card_id", card ? card->card_id : ""}});
    return card ? PermissionDenied("card_revoked", "this card has been cancelled")
                : NotFound("card_not_found", "the bank does not know this card");
  }
  if (r.account_id && *r.account_id != card->account_id) {
    return InvalidArgument("card_account_mismatch",
                           "'account_id' is not the account this card names");
  }
  FACEPAY_ASSIGN_OR_RETURN(payments::Account a, deps_.ledger->GetAccount(card->account_id));
  FACEPAY_ASSIGN_OR_RETURN(auto subject, deps_.store->SubjectOfAccount(a.id));
  if (!subject) return NotFound("no_enrolled_subject", "no face is enrolled for this account");
  // A stolen card + a look-alike face is still a guess: budgeted per account and key.
  const std::string account_scope = AccountScope(a.id);
  FACEPAY_ASSIGN_OR_RETURN(bool account_locked, budgets.Locked(account_scope, now_ms));
  if (account_locked) {
    return ResourceExhausted("verification_locked",
                             "too many failed face checks; ask the bank for help");
  }
  if (!r.sighting.ok()) return r.sighting.status();
  const Identifier identifier(deps_);
  AtmVerification v;
  v.account_id = a.id;
  v.card_id = card->card_id;
  FACEPAY_ASSIGN_OR_RETURN(v.probe, identifier.ProbeOf(*r.sighting, "atm:" + r.atm));
  RefuseUnsure(v.probe);
  if (v.probe.state != biometrics::ProbeState::kOk) {
    v.reason = biometrics::Decide(v.probe.state, {}, deps_.policy.thresholds).reason;
  } else {
    FACEPAY_ASSIGN_OR_RETURN(auto score, identifier.Verify(*subject, v.probe.embedding));
    v.score = score ? *score : -1.0f;
    v.threshold = deps_.options.verify_threshold;
    if (score && *score >= deps_.options.verify_threshold) {
      Challenge ch;
      ch.id = NewChallengeId();
      ch.kind = ChallengeKindName(ChallengeKind::kAtmVerification);
      ch.terminal = r.atm;
      ch.expires_at_ms = now_ms + deps_.options.challenge_ttl_ms;
      ch.attempts_left = 1;
      ch.payload_json = json{{"account_id", a.id}, {"score", *score}}.dump();
      FACEPAY_RETURN_IF_ERROR(deps_.store->PutChallenge(ch));
      v.verified = true;
      v.verification_id = ch.id;
      v.expires_at_ms = ch.expires_at_ms;
    } else {
      v.reason = biometrics::RejectReason::kNoMatch;
    }
  }
  if (v.verified) {
    identifier.ObserveMatched("atm:" + r.atm, v.probe);
    budgets.CountSuccess(account_scope, now_ms);
  } else if (v.reason == biometrics::RejectReason::kNoMatch) {
    budgets.CountFailure(who, account_scope, false, now_ms);
    budgets.CountFailure(who, key_scope, true, now_ms);
  }
  const char* reason = v.reason ? biometrics::RejectReasonName(*v.reason) : "";
  deps_.counter->CountDecision("atm_verify", v.verified ? "accept" : "reject", reason);
  deps_.audit->Audit(who, now_ms, "atm_verify", a.id, v.verified ? "accept" : "reject",
                     AtmVerificationJson(v, true));
  return v;
}

StatusOr<payments::ChargeResult> AtmFlow::Withdraw(const Caller& who,
                                                   const WithdrawalRequest& r) const {
  const int64_t now_ms = deps_.clock->NowMs();
  FACEPAY_ASSIGN_OR_RETURN(auto peek, deps_.store->GetChallenge(r.verification_id));
  if (!peek || peek->terminal != r.atm ||
      ParseChallengeKind(peek->kind) != ChallengeKind::kAtmVerification) {
    return NotFound("verification_not_found", "no such verification at this ATM");
  }
  FACEPAY_ASSIGN_OR_RETURN(Challenge ch,
                           deps_.store->TakeChallengeAttempt(r.verification_id, now_ms, true));
  json payload = json::parse(ch.payload_json, nullptr, false);
  if (payload.is_discarded() || !payload.contains("account_id") ||
      !payload["account_id"].is_string()) {
    return DataLoss("bad_challenge", "stored verification is not JSON");
  }
  const std::string account = payload["account_id"].get<std::string>();
  FACEPAY_ASSIGN_OR_RETURN(payments::Account a, deps_.ledger->GetAccount(account));
  payments::Atm atm(*deps_.ledger, deps_.terminals->atms.at(r.atm).cash_account, {});
  FACEPAY_ASSIGN_OR_RETURN(
      auto res, atm.Withdraw("atm:" + r.atm + ":" + r.request_id, account, r.amount_minor, a.currency));
  deps_.audit->Audit(who, now_ms, "atm_withdrawal", account,
                     res.outcome == payments::Outcome::kApproved ? "approved" : "declined",
                     {{"amount_minor", r.amount_minor}, {"verification_id", r.verification_id}});
  return res;
}

}  // namespace facepay::flows
