#include "facepay/biometrics/decision_policy.h"

#include <gtest/gtest.h>

namespace facepay::biometrics {
namespace {

PolicyThresholds T() {
  PolicyThresholds t;
  t.accept = 0.5f;
  t.step_up = 0.3f;
  t.second_factor = 0.35f;
  t.margin = 0.1f;
  t.max_candidates = 3;
  return t;
}

struct Row {
  const char* name;
  ProbeState state;
  std::vector<Candidate> ranked;
  Outcome outcome;
  RejectReason reason;
  std::string subject;
  size_t candidates;
};

TEST(DecisionPolicy, FollowsTheRuleTable) {
  const std::vector<Row> rows = {
      {"clear winner", ProbeState::kOk, {{"a", 0.7f}, {"b", 0.2f}}, Outcome::kAccept,
       RejectReason::kNone, "a", 0},
      {"alone above accept", ProbeState::kOk, {{"a", 0.55f}}, Outcome::kAccept,
       RejectReason::kNone, "a", 0},
      {"exactly at accept", ProbeState::kOk, {{"a", 0.5f}, {"b", 0.375f}},
       Outcome::kAccept, RejectReason::kNone, "a", 0},
      {"lookalike too close", ProbeState::kOk, {{"a", 0.7f}, {"b", 0.65f}}, Outcome::kStepUp,
       RejectReason::kNone, "", 2},
      {"in the band", ProbeState::kOk, {{"a", 0.45f}, {"b", 0.1f}}, Outcome::kStepUp,
       RejectReason::kNone, "", 1},
      {"unsorted input is sorted", ProbeState::kOk, {{"b", 0.2f}, {"a", 0.7f}},
       Outcome::kAccept, RejectReason::kNone, "a", 0},
      {"below step_up", ProbeState::kOk, {{"a", 0.29f}}, Outcome::kReject, RejectReason::kNoMatch,
       "", 0},
      {"empty gallery", ProbeState::kOk, {}, Outcome::kReject, RejectReason::kNoMatch, "", 0},
      {"spoof beats a perfect match", ProbeState::kSpoof, {{"a", 0.99f}}, Outcome::kReject,
       RejectReason::kSpoof, "", 0},
      {"low quality", ProbeState::kLowQuality, {{"a", 0.99f}}, Outcome::kReject,
       RejectReason::kLowQuality, "", 0},
      {"no face", ProbeState::kNoFace, {}, Outcome::kReject, RejectReason::kNoFace, "", 0},
      {"multiple faces", ProbeState::kMultipleFaces, {}, Outcome::kReject,
       RejectReason::kMultipleFaces, "", 0},
  };
  for (const auto& r : rows) {
    Decision d = Decide(r.state, r.ranked, T());
    EXPECT_EQ(d.outcome, r.outcome) << r.name;
    EXPECT_EQ(d.reason, r.reason) << r.name;
    EXPECT_EQ(d.subject_id, r.subject) << r.name;
    EXPECT_EQ(d.candidates.size(), r.candidates) << r.name;
  }
}

TEST(DecisionPolicy, StepUpListsOnlyCandidatesAboveTheBandUpToTheLimit) {
  Decision d = Decide(ProbeState::kOk,
                      {{"a", 0.45f}, {"b", 0.44f}, {"c", 0.40f}, {"d", 0.35f}, {"e", 0.1f}}, T());
  ASSERT_EQ(d.outcome, Outcome::kStepUp);
  ASSERT_EQ(d.candidates.size(), 3u);
  EXPECT_EQ(d.candidates[0].subject_id, "a");
  EXPECT_EQ(d.candidates[2].subject_id, "c");
}

TEST(DecisionPolicy, SecondFactorNarrowsThenDecidesAtItsThreshold) {
  const std::vector<Candidate> ranked = {{"a", 0.40f}, {"b", 0.39f}, {"c", 0.2f}};
  auto only_b = [](const std::string& s) { return s == "b"; };
  Decision d = DecideWithSecondFactor(ProbeState::kOk, ranked, T(), only_b);
  EXPECT_EQ(d.outcome, Outcome::kAccept);
  EXPECT_EQ(d.subject_id, "b");
  EXPECT_TRUE(d.second_factor);

  auto only_c = [](const std::string& s) { return s == "c"; };  // 0.2 < second_factor 0.35
  d = DecideWithSecondFactor(ProbeState::kOk, ranked, T(), only_c);
  EXPECT_EQ(d.outcome, Outcome::kReject);
  EXPECT_EQ(d.reason, RejectReason::kNoMatch);

  auto none = [](const std::string&) { return false; };
  d = DecideWithSecondFactor(ProbeState::kOk, ranked, T(), none);
  EXPECT_EQ(d.reason, RejectReason::kNoMatch);

  auto a_or_b = [](const std::string& s) { return s == "a" || s == "b"; };  // same digits
  d = DecideWithSecondFactor(ProbeState::kOk, ranked, T(), a_or_b);
  EXPECT_EQ(d.outcome, Outcome::kStepUp) << "two narrowed subjects 0.01 apart";

  d = DecideWithSecondFactor(ProbeState::kSpoof, ranked, T(), only_b);
  EXPECT_EQ(d.reason, RejectReason::kSpoof);
}

TEST(DecisionPolicy, JsonNamesAreStable) {
  Decision d = Decide(ProbeState::kNoFace, {}, T());
  auto j = DecisionToJson(d);
  EXPECT_EQ(j["decision"], "reject");
  EXPECT_EQ(j["reason"], "no_face");
}

}  // namespace
}  // namespace facepay::biometrics
