// Passage, step-up, till payment and refund, run without HTTP on real stores and a manual clock
// (time moves by AdvanceMs, never by sleeping).
#include <map>

#include "facepay/flows/passage_flow.h"
#include "facepay/flows/refund_flow.h"
#include "facepay/flows/step_up_flow.h"
#include "facepay/flows/till_payment_flow.h"
#include "flows_test_fixture.h"

namespace facepay::flows::testing {
namespace {

using biometrics::Outcome;

// Keeps completed step-ups in memory, as the service keeps their answers.
class KeptStepUps final : public CompletedStepUps {
 public:
  StatusOr<bool> Kept(const std::string& id) override { return kept.count(id) > 0; }
  void Keep(const std::string& id, const StepUpOutcome& o) override { kept[id] = o; }
  std::map<std::string, StepUpOutcome> kept;
};

const Caller kGate{"k_gate", "g1"};
const Caller kTill{"k_till", "t1"};

class PayingFlows : public FlowsTest {
 protected:
  StatusOr<PaidIdentification> Pass(const std::string& event, const vision::Embedding& e) {
    return PassageFlow(deps_).Run(kGate, {"g1", event, EdgeSighting(e)});
  }
  // A passage that ends in a step-up challenge (a probe between the two thresholds).
  std::string StepUpChallenge(const std::string& event, const vision::Embedding& e) {
    auto p = Pass(event, Near(e, 0.40f));
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (!p.ok()) return "";
    EXPECT_EQ(p->id.decision.outcome, Outcome::kStepUp);
    EXPECT_TRUE(p->challenge.has_value());
    return p->challenge ? p->challenge->id : "";
  }
  StatusOr<std::optional<StepUpOutcome>> StepUp(const std::string& cid, const std::string& pin,
                                                PayingFlow flow = PayingFlow::kPassage) {
    const Caller& who = flow == PayingFlow::kPassage ? kGate : kTill;
    return StepUpFlow(deps_).Run(who, {flow, who.terminal, cid, {"", pin}}, kept_);
  }
  KeptStepUps kept_;
};

TEST_P(PayingFlows, AnAcceptedFaceOpensTheGateAndARetriedEventChargesOnce) {
  const auto e = EnrolPayer("alice", "1234", 1000);
  auto first = Pass("ev1", e);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->id.decision.outcome, Outcome::kAccept);
  EXPECT_EQ(first->id.decision.subject_id, "alice");
  ASSERT_TRUE(first->settlement.has_value());
  EXPECT_EQ(first->settlement->kind, SettlementKind::kFare);
  EXPECT_TRUE(first->settlement->tap.open_gate);
  EXPECT_EQ(first->settlement->tap.fare_minor, 250);
  auto again = Pass("ev1", e);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->settlement->tap.replayed);
  EXPECT_EQ(Balance("acct:alice"), 750);
  const auto audits = audit_.Of("passage");
  ASSERT_EQ(audits.size(), 2u);
  EXPECT_EQ(audits[0].outcome, "accept");
  EXPECT_EQ(audits[0].terminal, "g1");
  EXPECT_EQ(audits[0].at_ms, kStartMs);
  EXPECT_EQ(counter_.Count("passage/accept/"), 2u);
}

TEST_P(PayingFlows, AStrangerIsRejectedAndNothingMoves) {
  EnrolPayer("alice", "1234", 1000);
  auto p = Pass("ev1", RandomUnit());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->id.decision.outcome, Outcome::kReject);
  EXPECT_EQ(p->id.decision.reason, biometrics::RejectReason::kNoMatch);
  EXPECT_FALSE(p->settlement.has_value());
  EXPECT_FALSE(p->challenge.has_value());
  EXPECT_EQ(Balance("acct:alice"), 1000);
}

TEST_P(PayingFlows, ACorrectPinSettlesTheChallengedPassageAndARetryGetsTheKeptAnswer) {
  const auto e = EnrolPayer("alice", "1234", 1000);
  const std::string cid = StepUpChallenge("ev1", e);
  auto ch = store_->GetChallenge(cid);
  ASSERT_TRUE(ch.ok() && *ch);
  EXPECT_EQ(ParseChallengeKind((*ch)->kind), ChallengeKind::kPassageStepUp);
  EXPECT_EQ((*ch)->expires_at_ms, kStartMs + deps_.options.challenge_ttl_ms);
  auto done = StepUp(cid, "1234");
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  ASSERT_TRUE(done->has_value());
  EXPECT_EQ((*done)->decision.outcome, Outcome::kAccept);
  ASSERT_TRUE((*done)->settlement.has_value());
  EXPECT_EQ((*done)->settlement->tap.fare_minor, 250);
  EXPECT_EQ(kept_.kept.count(cid), 1u);
  auto retry = StepUp(cid, "1234");
  ASSERT_TRUE(retry.ok()) << retry.status().ToString();
  EXPECT_FALSE(retry->has_value());  // answered again from the kept answer
  EXPECT_EQ(Balance("acct:alice"), 750);
}

TEST_P(PayingFlows, AChallengeExpiresWhenTheClockPassesItsLifetime) {
  const auto e = EnrolPayer("alice", "1234", 1000);
  const std::string cid = StepUpChallenge("ev1", e);
  clock_.AdvanceMs(deps_.options.challenge_ttl_ms + 1);
  auto late = StepUp(cid, "1234");
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().reason(), "challenge_expired");
  EXPECT_EQ(Balance("acct:alice"), 1000);
}

TEST_P(PayingFlows, WrongCodesLockThePersonUntilTheLockoutEnds) {
  const auto e = EnrolPayer("alice", "1234", 1000);
  const std::string first = StepUpChallenge("ev1", e);
  for (int i = 0; i < 3; ++i) {
    auto r = StepUp(first, "0000");
    ASSERT_TRUE(r.ok() && r->has_value()) << r.status().ToString();
    EXPECT_EQ((*r)->decision.outcome, Outcome::kReject);
    EXPECT_EQ((*r)->attempts_left, 2 - i);
  }
  auto spent = StepUp(first, "1234");
  EXPECT_EQ(spent.status().reason(), "challenge_exhausted");
  const std::string second = StepUpChallenge("ev2", e);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(StepUp(second, "0000").ok());
  ASSERT_EQ(audit_.Of("second_factor_lockout").size(), 1u);
  auto locked = StepUp(second, "1234");  // the right code, but the person's budget is spent
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.status().reason(), "second_factor_locked");
  clock_.AdvanceMs(15 * 60'000);  // the first lockout lasts 15 minutes
  const std::string third = StepUpChallenge("ev3", e);
  auto ok = StepUp(third, "1234");
  ASSERT_TRUE(ok.ok() && ok->has_value()) << ok.status().ToString();
  EXPECT_EQ((*ok)->decision.outcome, Outcome::kAccept);
  EXPECT_EQ(Balance("acct:alice"), 750);
}

TEST_P(PayingFlows, AChallengeIsOnlyCompletedByTheFlowAndTerminalThatOpenedIt) {
  const auto e = EnrolPayer("alice", "1234", 1000);
  const std::string cid = StepUpChallenge("ev1", e);
  auto at_till = StepUp(cid, "1234", PayingFlow::kPayment);
  EXPECT_EQ(at_till.status().reason(), "challenge_not_found");
  auto elsewhere = StepUpFlow(deps_).Run({"k_gate", "g2"},
                                         {PayingFlow::kPassage, "g2", cid, {"", "1234"}}, kept_);
  EXPECT_EQ(elsewhere.status().reason(), "challenge_not_found");
}

TEST_P(PayingFlows, ATillChargesItsMerchantAndRefundsPartOfThePurchase) {
  const auto e = EnrolPayer("bob", "4321", 5000);
  Sighting s = EdgeSighting(e);
  auto paid = TillPaymentFlow(deps_).Run(kTill, {"t1", "order-1", 1200, "EUR", s});
  ASSERT_TRUE(paid.ok()) << paid.status().ToString();
  ASSERT_TRUE(paid->settlement.has_value());
  ASSERT_EQ(paid->settlement->kind, SettlementKind::kCharge);
  ASSERT_EQ(paid->settlement->charge.outcome, payments::Outcome::kApproved);
  EXPECT_EQ(Balance("acct:bob"), 3800);
  EXPECT_EQ(Balance("shop:bakery"), 1200);
  const int64_t txn = paid->settlement->charge.receipt->txn_id;
  auto refund = RefundFlow(deps_).Run(kTill, {"t1", "refund-1", txn, 200});
  ASSERT_TRUE(refund.ok()) << refund.status().ToString();
  EXPECT_EQ(refund->outcome, payments::Outcome::kApproved);
  EXPECT_EQ(Balance("acct:bob"), 4000);
  const auto audits = audit_.Of("refund");
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_EQ(audits[0].outcome, "approved");
  EXPECT_EQ(audits[0].target, "refund-1");
}

TEST_P(PayingFlows, APayerWithoutALinkedAccountIsDeclinedWithNothingCharged) {
  const auto e = EnrolPayer("carol", "1111", 1000);
  ASSERT_TRUE(store_->UnlinkSubject("carol").ok());
  auto p = Pass("ev1", e);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE(p->settlement.has_value());
  EXPECT_EQ(p->settlement->kind, SettlementKind::kNoLinkedAccount);
  EXPECT_EQ(SettlementJson(*p->settlement, PayingFlow::kPassage),
            (nlohmann::json{{"open_gate", false}, {"reason", "no_linked_account"}}));
  EXPECT_EQ(Balance("acct:carol"), 1000);
}

INSTANTIATE_TEST_SUITE_P(Stores, PayingFlows, ::testing::Values("sqlite", "postgres"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace facepay::flows::testing
