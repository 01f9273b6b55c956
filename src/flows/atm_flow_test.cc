// ATM verification and withdrawal, run without HTTP on real stores and a manual clock (time
// moves by AdvanceMs, never by sleeping).
#include "facepay/flows/atm_flow.h"
#include "facepay/flows/border_flow.h"
#include "facepay/flows/factor_budget.h"
#include "flows_test_fixture.h"

namespace facepay::flows::testing {
namespace {

const Caller kAtm{"k_atm", "a1"};
const std::string kCardHash(64, 'c');  // what the service hashes a card token to

class AtmFlows : public FlowsTest {
 protected:
  void SetUp() override {
    FlowsTest::SetUp();
    terminals_.atms["a1"] = AtmConfig{"a1", "cash:atm1", std::nullopt};
    terminals_.atms["a2"] = AtmConfig{"a2", "cash:atm2", std::nullopt};
    MakeAccount("cash:atm1", payments::AccountKind::kCash);
    MakeAccount("cash:atm2", payments::AccountKind::kCash);
    face_ = EnrolPayer("alice", "1234", 20000);
    CardRecord card{"c_alice", kCardHash, "acct:alice", clock_.NowMs(), 0};
    ASSERT_TRUE(store_->PutCard(card).ok());
  }
  StatusOr<AtmVerification> Verify(const vision::Embedding& e,
                                   std::optional<std::string> hash = kCardHash,
                                   const Caller& who = kAtm) {
    AtmVerifyRequest r;
    r.atm = who.terminal;
    r.card_token_hash = std::move(hash);
    r.sighting = EdgeSighting(e);
    return AtmFlow(deps_).Verify(who, r);
  }
  StatusOr<payments::ChargeResult> Withdraw(const std::string& vid, const std::string& rid,
                                            int64_t amount, const Caller& who = kAtm) {
    return AtmFlow(deps_).Withdraw(who, {who.terminal, vid, rid, amount});
  }
  vision::Embedding face_;
};

TEST_P(AtmFlows, TheCardsOwnerIsVerifiedAndWithdrawsOnce) {
  auto v = Verify(Near(face_, 0.8f));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(v->verified);
  EXPECT_FALSE(v->reason.has_value());
  EXPECT_EQ(v->account_id, "acct:alice");
  EXPECT_EQ(v->card_id, "c_alice");
  EXPECT_EQ(v->expires_at_ms, kStartMs + deps_.options.challenge_ttl_ms);
  const auto answer = AtmVerificationJson(*v, false);
  EXPECT_FALSE(answer.contains("score")) << "no score oracle: " << answer.dump();
  EXPECT_TRUE(AtmVerificationJson(*v, true).contains("score"));
  ASSERT_EQ(audit_.Of("atm_verify").size(), 1u);
  EXPECT_EQ(audit_.Of("atm_verify")[0].outcome, "accept");
  EXPECT_EQ(counter_.Count("atm_verify/accept/"), 1u);

  auto w = Withdraw(v->verification_id, "r1", 5000);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->outcome, payments::Outcome::kApproved);
  EXPECT_EQ(Balance("acct:alice"), 15000);
  auto twice = Withdraw(v->verification_id, "r2", 5000);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.status().reason(), "challenge_used");
  EXPECT_EQ(Balance("acct:alice"), 15000);
  ASSERT_EQ(audit_.Of("atm_withdrawal").size(), 1u);
}

TEST_P(AtmFlows, AVerificationExpiresWithTheClockAndBelongsToItsAtm) {
  auto v = Verify(Near(face_, 0.8f));
  ASSERT_TRUE(v.ok() && v->verified) << v.status().ToString();
  auto elsewhere = Withdraw(v->verification_id, "r1", 5000, {"k_atm", "a2"});
  EXPECT_EQ(elsewhere.status().reason(), "verification_not_found");
  clock_.AdvanceMs(deps_.options.challenge_ttl_ms + 1);
  auto late = Withdraw(v->verification_id, "r1", 5000);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().reason(), "challenge_expired");
  EXPECT_EQ(Balance("acct:alice"), 20000);
}

TEST_P(AtmFlows, OnlyTheAccountAValidCardNamesIsVerified) {
  auto invented = Verify(face_, std::string(64, 'a'));
  EXPECT_EQ(invented.status().reason(), "card_not_found");
  auto not_a_card = Verify(face_, std::nullopt);
  EXPECT_EQ(not_a_card.status().reason(), "card_not_found");
  AtmVerifyRequest other;
  other.atm = "a1";
  other.card_token_hash = kCardHash;
  other.account_id = "acct:bob";
  other.sighting = EdgeSighting(face_);
  EXPECT_EQ(AtmFlow(deps_).Verify(kAtm, other).status().reason(), "card_account_mismatch");
  AtmVerifyRequest no_frames = other;
  no_frames.account_id.reset();
  no_frames.sighting = InvalidArgument("missing_frames", "send 'frames'");
  EXPECT_EQ(AtmFlow(deps_).Verify(kAtm, no_frames).status().reason(), "missing_frames");
  ASSERT_TRUE(store_->RevokeCard("c_alice", clock_.NowMs()).ok());
  auto revoked = Verify(face_);
  EXPECT_EQ(revoked.status().reason(), "card_revoked");
  const auto refused = audit_.Of("atm_card_refused");
  ASSERT_EQ(refused.size(), 3u);
  EXPECT_EQ(refused[2].detail["reason"], "card_revoked");
  auto budget = store_->GetFactorBudget(KeyScope("k_atm"));
  ASSERT_TRUE(budget.ok());
  EXPECT_EQ(budget->failures, 3) << "guessing cards spends the key's budget";
}

TEST_P(AtmFlows, FailedFacesLockTheAccountUntilTheLockoutEnds) {
  for (int i = 0; i < 5; ++i) {
    auto v = Verify(RandomUnit());
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_FALSE(v->verified);
    EXPECT_EQ(v->reason, biometrics::RejectReason::kNoMatch);
  }
  EXPECT_EQ(counter_.Count("atm_verify/reject/no_match"), 5u);
  auto owner = Verify(Near(face_, 0.8f));
  ASSERT_FALSE(owner.ok());
  EXPECT_EQ(owner.status().reason(), "verification_locked");
  clock_.AdvanceMs(15 * 60'000);  // the first lockout lasts 15 minutes
  auto later = Verify(Near(face_, 0.8f));
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  EXPECT_TRUE(later->verified);
}

TEST_P(AtmFlows, ANodeWithoutAWatchlistRefusesToAddToIt) {
  auto r = BorderFlow(deps_).AddToWatchlist({"k_admin", ""}, {"wanted", "", {}});
  EXPECT_EQ(r.status().reason(), "watchlist_disabled");
}

INSTANTIATE_TEST_SUITE_P(Stores, AtmFlows, ::testing::Values("sqlite", "postgres"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace facepay::flows::testing
