#include "flow_answers.h"

#include "facepay/flows/liveness_challenge_flow.h"
#include "facepay/flows/records.h"

namespace facepay::service {

using nlohmann::json;

json IdentificationTimings(const flows::Identification& id) {
  return {{"analyze", id.probe.analyze_ms}, {"search", id.search_ms}, {"decide", id.decide_ms}};
}

json PaidIdentificationJson(const flows::PaidIdentification& p, flows::PayingFlow f, bool scores) {
  json body = {{"decision", flows::DecisionJson(p.id.decision, scores)},
               {"probe", p.id.probe.ToJson(scores)}};
  json timings = IdentificationTimings(p.id);
  if (p.settlement) body["settlement"] = flows::SettlementJson(*p.settlement, f);
  if (p.settle_ms) timings["settle"] = *p.settle_ms;
  if (p.challenge) {
    body["challenge"] = {{"id", p.challenge->id},
                         {"expires_at_ms", p.challenge->expires_at_ms},
                         {"attempts", p.challenge->attempts},
                         {"factors", json::array({"phone_last4", "pin"})}};
    if (!p.challenge->actions.empty()) {
      // The movements the terminal may prompt instead of asking for a code (one response).
      const vision::ChallengeConfig config;
      body["challenge"]["factors"].push_back("movements");
      body["challenge"]["movements"] = {{"actions", flows::ChallengeActionsJson(p.challenge->actions)},
                                        {"step_timeout_ms", config.step_timeout_ms},
                                        {"baseline_frames", config.baseline_frames},
                                        {"max_frames", flows::kMaxChallengeFrames}};
    }
  }
  timings["total"] = p.total_ms;
  body["timings_ms"] = timings;
  return body;
}

json StepUpJson(const flows::StepUpOutcome& o, flows::PayingFlow f,
                const std::string& challenge_id, bool scores) {
  json body = {{"decision", flows::DecisionJson(o.decision, scores)},
               {"challenge_id", challenge_id}};
  if (o.settlement) {
    body["settlement"] = flows::SettlementJson(*o.settlement, f);
  } else {
    body["attempts_left"] = o.attempts_left;
  }
  if (o.movements) {
    // What was seen, never a score: a terminal learns whether the movements were followed.
    body["movements"] = {{"result", flows::ChallengeResultName(o.movements->result)},
                         {"failure", o.movements->failure},
                         {"completed", o.movements->completed},
                         {"frames", o.movements->frames},
                         {"face_frames", o.movements->face_frames}};
    if (o.movements->result == flows::ChallengeResult::kPassed && !o.settlement) {
      body["movements"]["result"] = "failed";  // followed, by another face
      body["movements"]["failure"] = "face_mismatch";
    }
  }
  return body;
}

}  // namespace facepay::service
