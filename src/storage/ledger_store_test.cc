// LedgerStore contract on both backends: group-committed units fail alone, migrations are
// versioned, and two stores (two nodes) on the same data serialise on a customer row.
#include "facepay/payments/ledger_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "test_store.h"

namespace facepay::storage {
namespace {

using payments::Account;
using payments::AccountKind;
using payments::LedgerTxn;

Account Acct(const std::string& id, AccountKind kind = AccountKind::kStoredValue) {
  Account a;
  a.id = id;
  a.kind = kind;
  a.currency = "EUR";
  if (kind == AccountKind::kStoredValue) a.floor_minor = 0;
  return a;
}

class LedgerStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto t = facepay::testing::TestStore::Create(GetParam());
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    ts_ = std::move(*t);
  }
  std::unique_ptr<facepay::testing::TestStore> ts_;
};

TEST_P(LedgerStoreTest, AFailingUnitRollsBackAloneInsideAGroupCommit) {
  auto& s = ts_->store();
  auto a = s.ExecuteAsync([](LedgerTxn& t) { return t.InsertAccount(Acct("a")); }, "x");
  auto b = s.ExecuteAsync(
      [](LedgerTxn& t) -> Status {
        FACEPAY_RETURN_IF_ERROR(t.InsertAccount(Acct("b")));
        return InvalidArgument("boom", "second half failed");
      },
      "x");
  auto c = s.ExecuteAsync([](LedgerTxn& t) { return t.InsertAccount(Acct("c")); }, "x");
  auto dup = s.ExecuteAsync([](LedgerTxn& t) { return t.InsertAccount(Acct("a")); }, "x");
  EXPECT_TRUE(a.get().ok());
  EXPECT_EQ(b.get().reason(), "boom");
  EXPECT_TRUE(c.get().ok());
  EXPECT_EQ(dup.get().reason(), "account_exists");
  EXPECT_TRUE(s.GetAccount("a").ok());
  EXPECT_EQ(s.GetAccount("b").status().reason(), "account_not_found");
  EXPECT_TRUE(s.GetAccount("c").ok());
}

TEST_P(LedgerStoreTest, RefusesADatabaseFromANewerSchema) {
  ASSERT_TRUE(ts_->ExecSql("INSERT INTO schema_version(version) VALUES(999)").ok());
  ts_->Close();
  auto again = ts_->OpenAnother();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().reason(), "schema_too_new");
}

TEST_P(LedgerStoreTest, ReopeningDoesNotMigrateTwice) {
  ts_->Close();
  ASSERT_TRUE(ts_->Reopen().ok());
  ASSERT_TRUE(ts_->Reopen().ok());
  // One row per applied migration, however often the store was opened.
  ASSERT_TRUE(ts_->ExecSql("CREATE TABLE probe AS SELECT COUNT(*) AS n FROM schema_version").ok());
  ASSERT_TRUE(ts_->ExecSql("INSERT INTO accounts(id, kind, currency, created_at_ms) SELECT "
                           "'n' || CAST(n AS TEXT), 'cash', 'EUR', 0 FROM probe")
                  .ok());
  EXPECT_TRUE(ts_->store().GetAccount("n1").ok());
}

// Two stores on the same data (two nodes): a unit holding a customer row makes the other
// node's unit on that row wait (retry) until it commits, then see the committed balance.
TEST_P(LedgerStoreTest, TwoNodesSerialiseOnOneCustomerRow) {
  auto& s1 = ts_->store();
  ASSERT_TRUE(s1.Execute([](LedgerTxn& t) {
                  FACEPAY_RETURN_IF_ERROR(t.InsertAccount(Acct("cust")));
                  return t.InsertAccount(Acct("cash", AccountKind::kCash));
                }).ok());
  auto other = ts_->OpenAnother();
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto move = [](int64_t amount, int sleep_ms, int64_t* seen) {
    return [=](LedgerTxn& t) -> Status {
      FACEPAY_ASSIGN_OR_RETURN(Account c, t.LockAccount("cust"));
      *seen = c.balance_minor;
      std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
      payments::TxnRecord x;
      x.kind = payments::TxnKind::kTopUp;
      x.account_id = "cust";
      x.counterparty_id = "cash";
      x.amount_minor = amount;
      x.currency = "EUR";
      x.entries = {{"cust", amount}, {"cash", -amount}};
      return t.PostTransaction(x).status();
    };
  };
  int64_t seen1 = -1, seen2 = -1;
  auto f1 = s1.ExecuteAsync(move(100, 400, &seen1), "cust");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto f2 = (*other)->ExecuteAsync(move(10, 0, &seen2), "cust");
  ASSERT_TRUE(f1.get().ok());
  Status st2 = f2.get();
  ASSERT_TRUE(st2.ok()) << st2.ToString();
  EXPECT_EQ(seen1, 0);
  EXPECT_EQ(seen2, 100);  // waited for the first node's commit
  auto acct = (*other)->GetAccount("cust");
  ASSERT_TRUE(acct.ok());
  EXPECT_EQ(acct->balance_minor, 110);
  auto rep = s1.CheckIntegrity();
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok());
}

INSTANTIATE_TEST_SUITE_P(Stores, LedgerStoreTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace facepay::storage
