#include "facepay/flows/step_up_flow.h"

#include <spdlog/spdlog.h>

#include "facepay/flows/cameras.h"
#include "facepay/flows/guess_budgets.h"
#include "facepay/flows/identifier.h"
#include "facepay/flows/records.h"

namespace facepay::flows {

using biometrics::Outcome;
using nlohmann::json;

namespace {

// The step-up is answered for `out.decision.subject_id`: settle (idempotent), keep the answer,
// then close the step-up, so a crash anywhere is finished by a retry and never charges twice.
// A passage confirmed by something a replay cannot do may then refine its camera, from the
// burst's (or the movements') raw CNN logit.
Status Complete(const FlowDeps& deps, const Caller& who, const PayingRequest& request,
                const std::string& cid, const json& cam, std::optional<float> cnn_raw,
                int64_t now_ms, CompletedStepUps& completed, StepUpOutcome& out, json& audit) {
  const GuessBudgets budgets(deps);
  budgets.CountSuccess(SubjectScope(out.decision.subject_id), now_ms);
  FACEPAY_ASSIGN_OR_RETURN(out.settlement, Settle(deps, request, out.decision.subject_id));
  audit["settlement"] = SettlementJson(*out.settlement, request.flow);
  completed.Keep(cid, out);
  FACEPAY_RETURN_IF_ERROR(deps.store->MarkChallengeUsed(cid));
  if (deps.cameras != nullptr && cam.is_object() && cam.value("name", json()).is_string() && cnn_raw) {
    Status refined = deps.cameras->Confirmed(who, cam["name"].get<std::string>(), *cnn_raw);
    if (!refined.ok()) spdlog::warn("camera refinement not stored: {}", refined.ToString());
  }
  return Status::Ok();
}

}  // namespace

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
    const json cam = payload.value("camera", json::object());
    std::optional<float> raw;
    if (cam.is_object() && cam.value("cnn_raw", json()).is_number()) raw = cam["cnn_raw"].get<float>();
    FACEPAY_RETURN_IF_ERROR(
        Complete(deps_, who, request, cid, cam, raw, now_ms, completed, out, audit));
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

StatusOr<std::optional<StepUpOutcome>> StepUpFlow::RunMoves(const Caller& who,
                                                            const StepUpMovesRequest& r,
                                                            CompletedStepUps& completed) const {
  FACEPAY_RETURN_IF_ERROR(CheckChallengeResponse(r.response));
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
    return FailedPrecondition("challenge_used", "this step-up was answered already");
  }
  const std::string moves_id = StepUpMovesId(cid);
  FACEPAY_ASSIGN_OR_RETURN(auto moves, deps_.store->GetChallenge(moves_id));
  if (!moves || moves->terminal != r.terminal ||
      ParseChallengeKind(moves->kind) != ChallengeKind::kStepUpLiveness) {
    return FailedPrecondition("challenge_not_offered",
                              "this step-up takes a code: no movements were offered");
  }
  const GuessBudgets budgets(deps_);
  const std::string key_scope = KeyScope(who.actor);
  FACEPAY_ASSIGN_OR_RETURN(bool key_locked, budgets.Locked(key_scope, now_ms));
  if (key_locked) {
    return ResourceExhausted("second_factor_locked",
                             "too many failed checks at this terminal; ask staff for help");
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
                             "too many failed checks for this person; ask staff for help");
  }
  // Spent before it is judged (atomically): one response, even if judging fails on a frame.
  FACEPAY_ASSIGN_OR_RETURN(Challenge m, deps_.store->TakeChallengeAttempt(moves_id, now_ms, true));
  const json mp = json::parse(m.payload_json, nullptr, false);
  const auto actions = ChallengeActionsFrom(mp.is_object() ? mp.value("actions", json()) : json());
  if (actions.empty()) return DataLoss("bad_challenge", "stored movements are malformed");
  FACEPAY_ASSIGN_OR_RETURN(JudgedResponse j, JudgeChallengeResponse(deps_, actions, r.response, true));
  StepUpOutcome out;
  out.movements = j.outcome;
  const bool followed = j.outcome.result == ChallengeResult::kPassed;
  json audit = {{"challenge", cid}, {"factor", "movements"},
                {"movements", ChallengeOutcomeJson(j.outcome)}};
  // The face that followed the movements must be the person the burst matched.
  const Identifier identifier(deps_);
  std::optional<biometrics::Candidate> same;
  if (followed) {
    json scores = json::object();
    for (const auto& x : cands) {
      FACEPAY_ASSIGN_OR_RETURN(auto s, identifier.Verify(x.subject_id, j.face));
      if (!s) continue;
      scores[x.subject_id] = *s;
      if (*s >= deps_.options.verify_threshold && (!same || *s > same->score)) {
        same = biometrics::Candidate{x.subject_id, *s};
      }
    }
    audit["verify_scores"] = std::move(scores);
  }
  biometrics::Decision& d = out.decision;
  if (same) {
    d.outcome = Outcome::kAccept;
    d.subject_id = same->subject_id;
    d.score = same->score;
    d.rule = "liveness_challenge";
    FACEPAY_RETURN_IF_ERROR(Complete(deps_, who, request, cid, payload.value("camera", json::object()),
                                     MedianLogit(j.outcome.cnn_p_live), now_ms, completed, out,
                                     audit));
  } else {
    // Still a step-up: the keypad stays, with the codes it had.
    d.outcome = Outcome::kStepUp;
    d.candidates = cands;
    d.score = cands.front().score;
    d.rule = followed ? "challenge_face_mismatch" : "challenge_failed";
    for (const auto& x : cands) budgets.CountFailure(who, SubjectScope(x.subject_id), false, now_ms);
    budgets.CountFailure(who, key_scope, true, now_ms);
    out.attempts_left = peek->attempts_left;
  }
  deps_.counter->CountDecision(action, biometrics::OutcomeName(d.outcome),
                              biometrics::RejectReasonName(d.reason));
  deps_.audit->Audit(who, now_ms, action, d.subject_id, biometrics::OutcomeName(d.outcome), audit);
  return std::optional<StepUpOutcome>(std::move(out));
}

}  // namespace facepay::flows
