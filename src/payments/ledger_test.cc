// Ledger behaviour over both stores: balances, floors, limits, idempotency, refunds, integrity.
#include "facepay/payments/ledger.h"

#include <thread>

#include "facepay/payments/money.h"
#include "ledger_test_fixture.h"

namespace facepay::payments {
namespace {

using LedgerTest = StoreTest;

TEST_P(LedgerTest, ChargeMovesMoneyThroughBalancedEntries) {
  Wallet("alice", 1000);
  auto r = ledger_->Charge(Req("gate-1-evt-1", "alice", 250));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, Outcome::kApproved);
  ASSERT_TRUE(r->receipt.has_value());
  EXPECT_EQ(r->receipt->amount_minor, 250);
  EXPECT_EQ(r->receipt->balance_after_minor, 750);
  EXPECT_EQ(Balance("alice"), 750);
  EXPECT_EQ(Balance("metro:revenue"), 250);
  EXPECT_EQ(Balance("cash:desk"), -1000);
  auto t = ts_->store().GetTransaction(r->receipt->txn_id);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->entries.size(), 2u);
  EXPECT_EQ(t->entries[0].amount_minor + t->entries[1].amount_minor, 0);
  EXPECT_EQ(t->idempotency_key, "gate-1-evt-1");
  ExpectClean();
}

TEST_P(LedgerTest, DeclinesBelowFloorWithoutMovingMoney) {
  Wallet("bob", 300, /*floor=*/-200);
  auto ok = ledger_->Charge(Req("k1", "bob", 450));  // 300 - 450 = -150 >= -200
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->outcome, Outcome::kApproved);
  auto r = ledger_->Charge(Req("k2", "bob", 100));  // -250 < -200
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kDeclined);
  EXPECT_EQ(r->decline_reason, "insufficient_funds");
  EXPECT_FALSE(r->receipt.has_value());
  EXPECT_EQ(Balance("bob"), -150);
  EXPECT_EQ(Balance("metro:revenue"), 450);
  ExpectClean();
}

TEST_P(LedgerTest, EnforcesDailySpendLimitAndResetsNextDay) {
  Wallet("carol", 5000, 0, /*daily=*/600);
  EXPECT_EQ(ledger_->Charge(Req("c1", "carol", 400))->outcome, Outcome::kApproved);
  auto r = ledger_->Charge(Req("c2", "carol", 300));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kDeclined);
  EXPECT_EQ(r->decline_reason, "daily_limit_exceeded");
  EXPECT_EQ(ledger_->Charge(Req("c3", "carol", 200))->outcome, Outcome::kApproved);
  clock_.AdvanceMs(24 * 3600 * 1000);
  EXPECT_EQ(ledger_->Charge(Req("c4", "carol", 500))->outcome, Outcome::kApproved);
  EXPECT_EQ(Balance("carol"), 5000 - 400 - 200 - 500);
}

TEST_P(LedgerTest, SameKeySameParametersReplaysTheOriginalResult) {
  Wallet("dan", 1000);
  auto first = ledger_->Charge(Req("evt-42", "dan", 300));
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->replayed);
  auto again = ledger_->Charge(Req("evt-42", "dan", 300));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->receipt->txn_id, first->receipt->txn_id);
  EXPECT_EQ(Balance("dan"), 700);
  EXPECT_EQ(*ts_->store().CountTransactionsWithKey("evt-42"), 1);
}

TEST_P(LedgerTest, SameKeyDifferentParametersIsRefused) {
  Wallet("erin", 1000);
  ASSERT_TRUE(ledger_->Charge(Req("evt-7", "erin", 300)).ok());
  auto r = ledger_->Charge(Req("evt-7", "erin", 301));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "idempotency_key_reused");
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Balance("erin"), 700);
}

TEST_P(LedgerTest, DeclineIsReplayedNotRetried) {
  Wallet("fay", 100);
  auto r1 = ledger_->Charge(Req("evt-9", "fay", 250));
  ASSERT_EQ(r1->outcome, Outcome::kDeclined);
  ASSERT_TRUE(ledger_->TopUp({"top-fay-2", "fay", "cash:desk", 1000, "EUR"}).ok());
  auto r2 = ledger_->Charge(Req("evt-9", "fay", 250));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->outcome, Outcome::kDeclined);
  EXPECT_TRUE(r2->replayed);
  EXPECT_EQ(Balance("fay"), 1100);
}

TEST_P(LedgerTest, ConcurrentDuplicatesProduceExactlyOneCharge) {
  Wallet("gus", 10000);
  std::vector<std::thread> threads;
  std::atomic<int> approved_fresh{0}, replayed{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto r = ledger_->Charge(Req("dup-key", "gus", 123));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      (r->replayed ? replayed : approved_fresh)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(approved_fresh.load(), 1);
  EXPECT_EQ(replayed.load(), 7);
  EXPECT_EQ(Balance("gus"), 10000 - 123);
  EXPECT_EQ(*ts_->store().CountTransactionsWithKey("dup-key"), 1);
}

TEST_P(LedgerTest, PartialRefundsReferenceTheOriginalAndCannotExceedIt) {
  Wallet("hal", 1000);
  auto c = ledger_->Charge(Req("buy-1", "hal", 600, "shop:1"));
  ASSERT_TRUE(c.ok());
  const int64_t orig = c->receipt->txn_id;
  auto r1 = ledger_->Refund({"ref-1", orig, 200, "damaged"});
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  EXPECT_EQ(r1->receipt->ref_txn_id, orig);
  EXPECT_EQ(Balance("hal"), 600);
  EXPECT_EQ(Balance("shop:1"), 400);
  auto too_much = ledger_->Refund({"ref-2", orig, 401, ""});
  ASSERT_FALSE(too_much.ok());
  EXPECT_EQ(too_much.status().reason(), "refund_exceeds_original");
  auto rest = ledger_->Refund({"ref-3", orig, 0, ""});  // whatever is left
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->receipt->amount_minor, 400);
  EXPECT_EQ(Balance("hal"), 1000);
  EXPECT_EQ(Balance("shop:1"), 0);
  auto none_left = ledger_->Refund({"ref-4", orig, 1, ""});
  EXPECT_EQ(none_left.status().reason(), "refund_exceeds_original");
  auto not_a_charge = ledger_->Refund({"ref-5", r1->receipt->txn_id, 1, ""});
  EXPECT_EQ(not_a_charge.status().reason(), "not_refundable");
  auto missing = ledger_->Refund({"ref-6", 999999, 1, ""});
  EXPECT_EQ(missing.status().reason(), "transaction_not_found");
  ExpectClean();
}

TEST_P(LedgerTest, RejectsBadInputWithClearReasons) {
  Wallet("ivy", 1000);
  auto reason = [&](ChargeRequest req) {
    return std::string(ledger_->Charge(req).status().reason());
  };
  ChargeRequest r = Req("k", "ivy", 100);
  r.currency = "eur";
  EXPECT_EQ(reason(r), "invalid_currency");
  r.currency = "USD";
  EXPECT_EQ(reason(r), "currency_mismatch");
  EXPECT_EQ(reason(Req("k", "ivy", 0)), "invalid_amount");
  EXPECT_EQ(reason(Req("k", "ivy", -5)), "invalid_amount");
  EXPECT_EQ(reason(Req("k", "ivy", kMaxAmountMinor + 1)), "invalid_amount");
  EXPECT_EQ(reason(Req("", "ivy", 100)), "invalid_idempotency_key");
  EXPECT_EQ(reason(Req(std::string(kMaxKeyLength + 1, 'k'), "ivy", 100)),
            "invalid_idempotency_key");
  EXPECT_EQ(reason(Req("has space", "ivy", 100)), "invalid_idempotency_key");
  EXPECT_EQ(reason(Req("k", "nobody", 100)), "account_not_found");
  EXPECT_EQ(reason(Req("k", "ivy", 100, "nowhere")), "account_not_found");
  EXPECT_EQ(reason(Req("k", "ivy", 100, "cash:desk")), "wrong_counterparty_kind");
  EXPECT_EQ(reason(Req("k", "metro:revenue", 100)), "not_a_customer_account");
  EXPECT_EQ(reason(Req("k", "bad id!", 100)), "invalid_id");
  EXPECT_EQ(Balance("ivy"), 1000);
  Account dup = System("ivy", AccountKind::kStoredValue);
  dup.floor_minor = 0;
  EXPECT_EQ(ledger_->CreateAccount(dup).status().reason(), "account_exists");
  Account bad = System("x", AccountKind::kStoredValue);
  EXPECT_EQ(ledger_->CreateAccount(bad).status().reason(), "invalid_floor");
}

TEST_P(LedgerTest, IntegrityCheckFindsTamperedBalancesAndUnbalancedEntries) {
  Wallet("jay", 1000);
  ASSERT_TRUE(ledger_->Charge(Req("j1", "jay", 100)).ok());
  ExpectClean();
  ASSERT_TRUE(
      ts_->ExecSql("UPDATE accounts SET balance_minor = balance_minor + 1 WHERE id = 'jay'").ok());
  ASSERT_TRUE(ts_->ExecSql("UPDATE entries SET amount_minor = amount_minor + 5 WHERE "
                           "account_id = 'metro:revenue'")
                  .ok());
  auto rep = ledger_->CheckIntegrity();
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok());
  EXPECT_EQ(rep->mismatched_accounts, (std::vector<std::string>{"jay", "metro:revenue"}));
  EXPECT_EQ(rep->unbalanced_txns.size(), 1u);
}

TEST_P(LedgerTest, DataSurvivesReopen) {
  Wallet("kim", 1000);
  auto c = ledger_->Charge(Req("kim-1", "kim", 250));
  ASSERT_TRUE(c.ok());
  ledger_.reset();
  ASSERT_TRUE(ts_->Reopen().ok());
  ledger_ = std::make_unique<Ledger>(ts_->store(), clock_, &provider_);
  EXPECT_EQ(Balance("kim"), 750);
  auto again = ledger_->Charge(Req("kim-1", "kim", 250));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->replayed);
  auto list = ts_->store().ListTransactions("kim", 10);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);  // top-up and charge
}

FACEPAY_INSTANTIATE_STORE_TEST(LedgerTest);

}  // namespace
}  // namespace facepay::payments
