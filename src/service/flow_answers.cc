#include "flow_answers.h"

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
  return body;
}

}  // namespace facepay::service
