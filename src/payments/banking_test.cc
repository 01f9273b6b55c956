// Retail purchases/refunds, ATM limits, border records and card accounts on both stores.
#include "facepay/payments/banking.h"

#include "ledger_test_fixture.h"

namespace facepay::payments {
namespace {

using BankingTest = StoreTest;

TEST_P(BankingTest, PurchaseByOrderIdIsChargedOnceAndRefundedByTheMerchant) {
  Wallet("ann", 5000);
  Retail till(*ledger_, "shop:1");
  auto p = till.Purchase("order-1001", "ann", 1299, "EUR");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->outcome, Outcome::kApproved);
  auto retry = till.Purchase("order-1001", "ann", 1299, "EUR");  // till retried after a timeout
  ASSERT_TRUE(retry.ok());
  EXPECT_TRUE(retry->replayed);
  auto changed = till.Purchase("order-1001", "ann", 1399, "EUR");
  EXPECT_EQ(changed.status().reason(), "idempotency_key_reused");
  EXPECT_EQ(Balance("ann"), 5000 - 1299);
  EXPECT_EQ(Balance("shop:1"), 1299);
  auto r = till.Refund("rf-1", p->receipt->txn_id, 300);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->receipt->ref_txn_id, p->receipt->txn_id);
  EXPECT_EQ(Balance("ann"), 5000 - 999);
  ASSERT_TRUE(ledger_->CreateAccount(System("shop:2", AccountKind::kMerchant)).ok());
  Retail other(*ledger_, "shop:2");
  EXPECT_EQ(other.Refund("rf-x", p->receipt->txn_id, 1).status().reason(),
            "not_merchants_purchase");
  ExpectClean();
}

TEST_P(BankingTest, AtmEnforcesPerWithdrawalAndDailyLimits) {
  Wallet("bea", 300000);
  ASSERT_TRUE(ledger_->CreateAccount(System("atm:7", AccountKind::kCash)).ok());
  Atm atm(*ledger_, "atm:7", {50000, 80000, 100000});
  auto big = atm.Withdraw("w1", "bea", 60000, "EUR");
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->decline_reason, "atm_amount_limit");
  EXPECT_EQ(atm.Withdraw("w2", "bea", 50000, "EUR")->outcome, Outcome::kApproved);
  auto over_day = atm.Withdraw("w3", "bea", 40000, "EUR");
  EXPECT_EQ(over_day->decline_reason, "atm_daily_limit");
  EXPECT_EQ(atm.Withdraw("w4", "bea", 30000, "EUR")->outcome, Outcome::kApproved);
  clock_.AdvanceMs(24LL * 3600 * 1000);
  EXPECT_EQ(atm.Withdraw("w5", "bea", 40000, "EUR")->outcome, Outcome::kApproved);
  EXPECT_EQ(atm.Deposit("d1", "bea", 200000, "EUR")->decline_reason, "atm_deposit_limit");
  EXPECT_EQ(atm.Deposit("d2", "bea", 20000, "EUR")->outcome, Outcome::kApproved);
  EXPECT_EQ(Balance("bea"), 300000 - 50000 - 30000 - 40000 + 20000);
  EXPECT_EQ(Balance("atm:7"), 50000 + 30000 + 40000 - 20000);
  ExpectClean();
}

TEST_P(BankingTest, AtmCannotOverdrawTheFloor) {
  Wallet("cid", 10000);
  ASSERT_TRUE(ledger_->CreateAccount(System("atm:8", AccountKind::kCash)).ok());
  Atm atm(*ledger_, "atm:8", {});
  EXPECT_EQ(atm.Withdraw("w1", "cid", 10001, "EUR")->decline_reason, "insufficient_funds");
  EXPECT_EQ(Balance("cid"), 10000);
}

TEST_P(BankingTest, BorderCrossingStoresOnlyAKeyedHash) {
  BorderLog log(ts_->store(), clock_, "operator-secret-key-0001");
  auto c = log.Record("x1234567<", "border-gate-3", "admitted");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_GT(c->id, 0);
  EXPECT_EQ(c->doc_hash.size(), 64u);
  EXPECT_EQ(c->doc_hash, *log.HashDocument("X1234567<"));  // normalised
  EXPECT_EQ(c->doc_hash.find("1234567"), std::string::npos);
  BorderLog other_key(ts_->store(), clock_, "another-operator-key-02");
  EXPECT_NE(*other_key.HashDocument("X1234567<"), c->doc_hash);
  EXPECT_EQ(log.Record("X1", "g", "waved").status().reason(), "invalid_decision");
  EXPECT_EQ(log.Record("bad doc", "g", "refused").status().reason(), "invalid_document_number");
  EXPECT_EQ(log.Record(std::string(33, 'A'), "g", "refused").status().reason(),
            "invalid_document_number");
  EXPECT_TRUE(log.Record("X1234567<", "border-gate-3", "refused").ok());
}

Account Card(const std::string& id) {
  Account a;
  a.id = id;
  a.kind = AccountKind::kCard;
  a.currency = "EUR";
  a.card_token = "tok_" + id;
  a.card_last4 = "4242";
  a.card_brand = "visa";
  return a;
}

TEST_P(BankingTest, CardAccountsChargeThroughTheProvider) {
  ASSERT_TRUE(ledger_->CreateAccount(Card("dee")).ok());
  auto ok = ledger_->Charge(Req("c1", "dee", 480, "shop:1"));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->outcome, Outcome::kApproved);
  EXPECT_EQ(Balance("dee"), -480);  // what the card was charged, net
  EXPECT_EQ(Balance("shop:1"), 480);
  EXPECT_EQ(provider_.approved_captures(), 1);

  provider_.SetMode(SimulatedProvider::Mode::kDecline);
  auto no = ledger_->Charge(Req("c2", "dee", 100, "shop:1"));
  ASSERT_TRUE(no.ok());
  EXPECT_EQ(no->outcome, Outcome::kDeclined);
  EXPECT_EQ(no->decline_reason, "card_declined");

  provider_.SetMode(SimulatedProvider::Mode::kTimeout);
  auto slow = ledger_->Charge(Req("c3", "dee", 100, "shop:1"));
  EXPECT_EQ(slow.status().reason(), "provider_timeout");
  provider_.SetMode(SimulatedProvider::Mode::kFail);
  EXPECT_EQ(ledger_->Charge(Req("c3", "dee", 100, "shop:1")).status().reason(),
            "provider_unavailable");
  // The provider recovers; the retried key is charged exactly once.
  provider_.SetMode(SimulatedProvider::Mode::kApprove);
  auto retried = ledger_->Charge(Req("c3", "dee", 100, "shop:1"));
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(retried->outcome, Outcome::kApproved);
  auto replay = ledger_->Charge(Req("c3", "dee", 100, "shop:1"));
  EXPECT_TRUE(replay->replayed);
  EXPECT_EQ(provider_.approved_captures(), 2);
  EXPECT_EQ(provider_.captured_minor(), 580);
  EXPECT_EQ(Balance("dee"), -580);
  ExpectClean();
}

TEST_P(BankingTest, AutoTopUpPullsFromTheCardBeforeAChargeWouldFail) {
  Account a = System("eve", AccountKind::kStoredValue);
  a.floor_minor = 0;
  a.card_token = "tok_eve";
  a.auto_topup_minor = 2000;
  a.auto_topup_threshold_minor = 100;
  ASSERT_TRUE(ledger_->CreateAccount(a).ok());
  auto r = ledger_->Charge(Req("e1", "eve", 250));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, Outcome::kApproved);
  EXPECT_EQ(Balance("eve"), 1750);
  EXPECT_EQ(Balance("clearing:simulated"), -2000);
  EXPECT_EQ(ledger_->Charge(Req("e1", "eve", 250))->replayed, true);
  EXPECT_EQ(provider_.approved_captures(), 1);
  ExpectClean();
}

FACEPAY_INSTANTIATE_STORE_TEST(BankingTest);

}  // namespace
}  // namespace facepay::payments
