#include "facepay/biometrics/decision_policy.h"

#include <algorithm>

namespace facepay::biometrics {
namespace {

void SortRanked(std::vector<Candidate>& c) {
  std::stable_sort(c.begin(), c.end(),
                   [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
}

Decision Unusable(ProbeState state) {
  Decision d;
  d.outcome = Outcome::kReject;
  d.score = -1;
  switch (state) {
    case ProbeState::kNoFace: d.reason = RejectReason::kNoFace; break;
    case ProbeState::kMultipleFaces: d.reason = RejectReason::kMultipleFaces; break;
    case ProbeState::kSpoof: d.reason = RejectReason::kSpoof; break;
    case ProbeState::kLowQuality: d.reason = RejectReason::kLowQuality; break;
    case ProbeState::kOk: break;
  }
  d.rule = "probe_unusable";
  return d;
}

// Rules 2-4 over an already narrowed, sorted candidate list.
Decision DecideRanked(const std::vector<Candidate>& ranked, float accept, float step_up,
                      const PolicyThresholds& t) {
  Decision d;
  if (ranked.empty()) {
    d.outcome = Outcome::kReject;
    d.reason = RejectReason::kNoMatch;
    d.score = -1;
    d.rule = "no_candidates";
    return d;
  }
  const float best = ranked[0].score;
  const float other = ranked.size() > 1 ? ranked[1].score : -1.0f;
  d.score = best;
  d.margin = best - other;
  if (best >= accept && d.margin >= t.margin) {
    d.outcome = Outcome::kAccept;
    d.reason = RejectReason::kNone;
    d.subject_id = ranked[0].subject_id;
    d.rule = "best>=accept and margin>=min_margin";
    return d;
  }
  if (best >= step_up) {
    d.outcome = Outcome::kStepUp;
    d.reason = RejectReason::kNone;
    for (const auto& c : ranked) {
      if (c.score < step_up || static_cast<int>(d.candidates.size()) >= t.max_candidates) break;
      d.candidates.push_back(c);
    }
    d.rule = best >= accept ? "margin<min_margin" : "step_up<=best<accept";
    return d;
  }
  d.outcome = Outcome::kReject;
  d.reason = RejectReason::kNoMatch;
  d.rule = "best<step_up";
  return d;
}

}  // namespace

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kAccept: return "accept";
    case Outcome::kStepUp: return "step_up";
    case Outcome::kReject: return "reject";
  }
  return "reject";
}

const char* RejectReasonName(RejectReason r) {
  switch (r) {
    case RejectReason::kNone: return "";
    case RejectReason::kNoMatch: return "no_match";
    case RejectReason::kSpoof: return "spoof";
    case RejectReason::kLowQuality: return "low_quality";
    case RejectReason::kNoFace: return "no_face";
    case RejectReason::kMultipleFaces: return "multiple_faces";
  }
  return "no_match";
}

Decision Decide(ProbeState state, std::vector<Candidate> ranked, const PolicyThresholds& t) {
  if (state != ProbeState::kOk) return Unusable(state);
  SortRanked(ranked);
  return DecideRanked(ranked, t.accept, t.step_up, t);
}

Decision DecideWithSecondFactor(ProbeState state, std::vector<Candidate> ranked,
                                const PolicyThresholds& t,
                                const std::function<bool(const std::string&)>& matches) {
  if (state != ProbeState::kOk) return Unusable(state);
  SortRanked(ranked);
  std::vector<Candidate> narrowed;
  for (const auto& c : ranked)
    if (matches(c.subject_id)) narrowed.push_back(c);
  // Inside the narrowed set there is no separate step-up band: the second factor threshold
  // is both the accept and the step-up (ask for a PIN) threshold.
  Decision d = DecideRanked(narrowed, t.second_factor, t.second_factor, t);
  d.second_factor = true;
  d.rule = "second_factor: " + d.rule;
  return d;
}

nlohmann::json DecisionToJson(const Decision& d) {
  nlohmann::json j;
  j["decision"] = OutcomeName(d.outcome);
  if (d.outcome == Outcome::kReject) j["reason"] = RejectReasonName(d.reason);
  if (d.outcome == Outcome::kAccept) j["subject_id"] = d.subject_id;
  j["score"] = d.score;
  j["margin"] = d.margin;
  j["second_factor"] = d.second_factor;
  j["rule"] = d.rule;
  if (d.outcome == Outcome::kStepUp) {
    j["candidates"] = nlohmann::json::array();
    for (const auto& c : d.candidates)
      j["candidates"].push_back({{"subject_id", c.subject_id}, {"score", c.score}});
  }
  return j;
}

nlohmann::json PolicyToJson(const StoredPolicy& p) {
  const auto& t = p.thresholds;
  return {{"model_id", p.model_id},
          {"calibrated", p.calibrated},
          {"accept", t.accept},
          {"step_up", t.step_up},
          {"second_factor", t.second_factor},
          {"margin", t.margin},
          {"max_candidates", t.max_candidates},
          {"target_fpir", p.target_fpir},
          {"measured_fpir", p.measured_fpir},
          {"gallery_size", p.gallery_size},
          {"impostor_probes", p.impostor_probes},
          {"calibrated_at_ms", p.calibrated_at_ms}};
}

}  // namespace facepay::biometrics
