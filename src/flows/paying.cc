#include "facepay/flows/paying.h"

#include <algorithm>
#include <chrono>

#include "facepay/flows/liveness_challenge_flow.h"
#include "facepay/flows/records.h"
#include "facepay/payments/result_json.h"

namespace facepay::flows {
namespace {

using biometrics::Outcome;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

double MsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

// The terminal's screen can draw an active challenge's movements (terminals config).
bool ShowsPrompts(const FlowDeps& deps, const PayingRequest& r) {
  if (r.flow == PayingFlow::kPassage) {
    auto it = deps.terminals->gates.find(r.terminal);
    return it != deps.terminals->gates.end() && it->second.shows_prompts && !it->second.edge;
  }
  auto it = deps.terminals->tills.find(r.terminal);
  return it != deps.terminals->tills.end() && it->second.shows_prompts;
}

}  // namespace

std::string StepUpMovesId(const std::string& step_up_id) { return step_up_id + ".moves"; }

const char* PayingFlowName(PayingFlow f) { return f == PayingFlow::kPassage ? "passage" : "payment"; }

ChallengeKind StepUpKindOf(PayingFlow f) {
  return f == PayingFlow::kPassage ? ChallengeKind::kPassageStepUp : ChallengeKind::kPaymentStepUp;
}

json PayingRequestJson(const PayingRequest& r) {
  if (r.flow == PayingFlow::kPassage) return {{"event_id", r.event_id}};
  return {{"order_id", r.order_id}, {"amount_minor", r.amount_minor}, {"currency", r.currency}};
}

PayingRequest PayingRequestFrom(PayingFlow f, const std::string& terminal, const json& j) {
  PayingRequest r;
  r.flow = f;
  r.terminal = terminal;
  if (f == PayingFlow::kPassage) {
    r.event_id = j.at("event_id").get<std::string>();
  } else {
    r.order_id = j.at("order_id").get<std::string>();
    r.amount_minor = j.at("amount_minor").get<int64_t>();
    r.currency = j.at("currency").get<std::string>();
  }
  return r;
}

json SettlementJson(const Settlement& s, PayingFlow f) {
  switch (s.kind) {
    case SettlementKind::kFare: return payments::TapToJson(s.tap);
    case SettlementKind::kCharge: return payments::ChargeResultToJson(s.charge);
    case SettlementKind::kNoLinkedAccount: break;
  }
  if (f == PayingFlow::kPassage) return {{"open_gate", false}, {"reason", "no_linked_account"}};
  return {{"outcome", "declined"}, {"decline_reason", "no_linked_account"}};
}

StatusOr<Settlement> Settle(const FlowDeps& deps, const PayingRequest& r,
                            const std::string& subject_id) {
  Settlement s;
  FACEPAY_ASSIGN_OR_RETURN(auto account, deps.store->AccountOfSubject(subject_id));
  if (!account) return s;
  if (r.flow == PayingFlow::kPassage) {
    const GateConfig& g = deps.terminals->gates.at(r.terminal);
    payments::TapRequest tap;
    tap.event_id = "gate:" + g.id + ":" + r.event_id;
    tap.account_id = *account;
    tap.gate_id = g.id;
    tap.gate_group = g.gate_group;
    tap.station = g.station;
    tap.direction = g.direction;
    FACEPAY_ASSIGN_OR_RETURN(s.tap, deps.transit->Tap(tap));
    s.kind = SettlementKind::kFare;
    return s;
  }
  payments::Retail retail(*deps.ledger, deps.terminals->tills.at(r.terminal).merchant_account);
  FACEPAY_ASSIGN_OR_RETURN(s.charge,
                           retail.Purchase(r.order_id, *account, r.amount_minor, r.currency));
  s.kind = SettlementKind::kCharge;
  return s;
}

StatusOr<PaidIdentification> IdentifyAndSettle(const FlowDeps& deps, const Caller& who,
                                               const PayingRequest& r, const Sighting& sighting,
                                               const std::string& camera) {
  const auto t0 = SteadyClock::now();
  const int64_t now_ms = deps.clock->NowMs();
  const Identifier identifier(deps);
  PaidIdentification out;
  FACEPAY_ASSIGN_OR_RETURN(Probe probe, identifier.ProbeOf(sighting, camera));
  FACEPAY_ASSIGN_OR_RETURN(out.id, identifier.Identify(std::move(probe)));
  const Identification& id = out.id;
  if (id.decision.outcome == Outcome::kAccept || id.decision.outcome == Outcome::kStepUp) {
    identifier.ObserveMatched(camera, id.probe);
  }
  json audit = {{"key", r.Key()},
                {"decision", DecisionJson(id.decision)},
                {"top", CandidatesJson(std::vector<biometrics::Candidate>(
                            id.top.begin(), id.top.begin() + std::min<size_t>(3, id.top.size())))},
                {"probe", id.probe.ToJson()}};
  if (id.decision.outcome == Outcome::kAccept) {
    const auto ts = SteadyClock::now();
    FACEPAY_ASSIGN_OR_RETURN(out.settlement, Settle(deps, r, id.decision.subject_id));
    out.settle_ms = MsSince(ts);
    audit["settlement"] = SettlementJson(*out.settlement, r.flow);
  } else if (id.decision.outcome == Outcome::kStepUp) {
    Challenge ch;
    ch.id = NewChallengeId();
    ch.kind = ChallengeKindName(StepUpKindOf(r.flow));
    ch.terminal = r.terminal;
    ch.expires_at_ms = now_ms + deps.options.challenge_ttl_ms;
    ch.attempts_left = deps.options.step_up_attempts;
    json payload = {{"candidates", CandidatesJson(id.top)}, {"request", PayingRequestJson(r)}};
    // A right second factor confirms the burst was the person: it may refine the camera.
    if (id.probe.cnn_raw_median) payload["camera"] = {{"name", camera}, {"cnn_raw", *id.probe.cnn_raw_median}};
    ch.payload_json = payload.dump();
    IssuedChallenge issued{ch.id, ch.expires_at_ms, ch.attempts_left, {}};
    if (id.decision.rule == "liveness_unsure" && ShowsPrompts(deps, r)) {
      // The face matched one person; only liveness is in doubt. Movements drawn now, which a
      // replayed video cannot know, may answer it instead of a code (StepUpFlow::RunMoves).
      // Stored first: a step-up that offers a challenge always has one.
      issued.actions = DrawChallengeOrder(deps);
      Challenge moves;
      moves.id = StepUpMovesId(ch.id);
      moves.kind = ChallengeKindName(ChallengeKind::kStepUpLiveness);
      moves.terminal = r.terminal;
      moves.expires_at_ms = ch.expires_at_ms;
      moves.attempts_left = 1;
      moves.payload_json = json{{"actions", ChallengeActionsJson(issued.actions)}}.dump();
      FACEPAY_RETURN_IF_ERROR(deps.store->PutChallenge(moves));
      audit["challenge_actions"] = ChallengeActionsJson(issued.actions);
    }
    FACEPAY_RETURN_IF_ERROR(deps.store->PutChallenge(ch));
    out.challenge = std::move(issued);
    audit["challenge"] = ch.id;
  }
  out.total_ms = MsSince(t0);
  const char* flow = PayingFlowName(r.flow);
  deps.counter->CountDecision(flow, biometrics::OutcomeName(id.decision.outcome),
                              biometrics::RejectReasonName(id.decision.reason));
  deps.audit->Audit(who, now_ms, flow, id.decision.subject_id,
                    biometrics::OutcomeName(id.decision.outcome), audit);
  return out;
}

}  // namespace facepay::flows
