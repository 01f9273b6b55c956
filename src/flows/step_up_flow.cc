#include "facepay/flows/step_up_flow.h"

#include <spdlog/spdlog.h>

#include "facepay/flows/cameras.h"
#include "facepay/flows/guess_budgets.h"
#include "facepay/flows/records.h"

namespace facepay::flows {

using biometrics::Outcome;
using nlohmann::json;

StatusOr<std::optional<StepUpOutcome>> StepUpFlow::Run(const Caller& who, const StepUpRequest& r,
                                                       CompletedStepUps& completed) const {
  const int64_t now_ms = deps_.clock->NowMs();
  const std::string& cid = r.challenge_id;
  const std::string action = std::string(PayingFlowName(r.flow)) + "_step_up";
  FACEPAY_ASSIGN_OR_RETURN(auto peek, deps_.store->GetChallenge(cid));
  if (!peek || peek->terminal != r.terminal ||
      ParseChallengeKind(peek->kind) != StepUpKindOf(r.flow)) {
    return NotFound("challenge_not_found", "no such challenge at this terminal");
  }
  if (peek->used) {
    FACEPAY_ASSIGN_OR_RETURN(bool kept, completed.Kept(cid));
    if (kept) return std::optional<StepUpOutcome>();
  }
  const GuessBudgets budgets(deps_);
  const std::string key_scope = KeyScope(who.actor);
  FACEPAY_ASSIGN_OR_RETURN(bool key_locked, budgets.Locked(key_scope, now_ms));
  if (key_locked) {
    return ResourceExhausted("second_factor_locked",
                             "too many wrong codes at this terminal; ask staff for help");
  }
  json payload = json::parse(peek->payload_json, nullptr, false);
  if (payload.is_discarded()) return DataLoss("bad_challenge", "stored challenge is not JSON");
  std::vector<biometrics::Candidate> cands;
  PayingRequest request;
  try {
    for (const auto& x : CandidatesFrom(payload.at("candidates"))) {
      FACEPAY_ASSIGN_OR_RETURN(bool locked, budgets.Locked(SubjectScope(x.subject_id), now_ms));
      if (!locked) cands.push_back(x);
    }
    request = PayingRequestFrom(r.flow, r.terminal, payload.at("request"));
  } catch (const json::exception&) {
    return DataLoss("bad_challenge", "stored challenge is malformed");
  }
  if (cands.empty()) {
    deps_.audit->Audit(who, now_ms, action, "", "locked", {{"challenge", cid}});
    return ResourceExhausted("second_factor_locked",
                             "too many wrong codes for this person; ask staff for help");
  }
  const Identifier identifier(deps_);
  std::function<bool(const std::string&)> matches = [&](const std::string& subject) {
    return identifier.HasSecondFactor(subject, r.factor);
  };
  StepUpOutcome out;
  out.decision = biometrics::DecideWithSecondFactor(biometrics::ProbeState::kOk, cands,
                                                    deps_.policy.thresholds, matches);
  const biometrics::Decision& d = out.decision;
  // The attempt is taken once the code is checked, atomically: a guess counts, and takes
  // effect, only with an attempt of its own (parallel guesses cannot outrun the limit), and a
  // crash while checking costs the person no attempt.
  FACEPAY_ASSIGN_OR_RETURN(Challenge ch, deps_.store->TakeChallengeAttempt(cid, now_ms, false));
  json audit = {{"challenge", cid}, {"factor", r.factor.Name()}, {"decision", DecisionJson(d)}};
  if (d.outcome == Outcome::kAccept) {
    budgets.CountSuccess(SubjectScope(d.subject_id), now_ms);
    FACEPAY_ASSIGN_OR_RETURN(out.settlement, Settle(deps_, request, d.subject_id));
    audit["settlement"] = SettlementJson(*out.settlement, r.flow);
    completed.Keep(cid, out);
    FACEPAY_RETURN_IF_ERROR(deps_.store->MarkChallengeUsed(cid));
    const json cam = payload.value("camera", json::object());
    if (deps_.cameras != nullptr && cam.is_object() && cam.value("name", json()).is_string() &&
        cam.value("cnn_raw", json()).is_number()) {
      Status refined = deps_.cameras->Confirmed(who, cam["name"].get<std::string>(),
                                                cam["cnn_raw"].get<float>());
      if (!refined.ok()) spdlog::warn("camera refinement not stored: {}", refined.ToString());
    }
  } else {
    for (const auto& x : cands) budgets.CountFailure(who, SubjectScope(x.subject_id), false, now_ms);
    budgets.CountFailure(who, key_scope, true, now_ms);
    out.attempts_left = std::max(0, ch.attempts_left - 1);
  }
  deps_.counter->CountDecision(action, biometrics::OutcomeName(d.outcome),
                               biometrics::RejectReasonName(d.reason));
  deps_.audit->Audit(who, now_ms, action, d.subject_id, biometrics::OutcomeName(d.outcome), audit);
  return std::optional<StepUpOutcome>(std::move(out));
}

}  // namespace facepay::flows
