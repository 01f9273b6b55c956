#include "facepay/flows/records.h"

namespace facepay::flows {

using nlohmann::json;

json DecisionJson(const biometrics::Decision& d, bool scores) {
  json j = {{"outcome", biometrics::OutcomeName(d.outcome)}, {"second_factor", d.second_factor}};
  if (scores) {
    j["score"] = d.score;
    j["margin"] = d.margin;
    j["rule"] = d.rule;
  }
  if (d.outcome == biometrics::Outcome::kReject) j["reason"] = biometrics::RejectReasonName(d.reason);
  if (d.outcome == biometrics::Outcome::kAccept) j["subject_id"] = d.subject_id;
  return j;
}

json CandidatesJson(const std::vector<biometrics::Candidate>& c) {
  json a = json::array();
  for (const auto& x : c) a.push_back({{"subject_id", x.subject_id}, {"score", x.score}});
  return a;
}

std::vector<biometrics::Candidate> CandidatesFrom(const json& a) {
  std::vector<biometrics::Candidate> out;
  for (const auto& x : a) out.push_back({x.at("subject_id").get<std::string>(), x.at("score").get<float>()});
  return out;
}

}  // namespace facepay::flows
