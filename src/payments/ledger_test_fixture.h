// Test fixture shared by the payments tests: a fresh store per test, parameterised over the
// SQLite and PostgreSQL backends, with a manual clock, a simulated card provider and the
// usual system accounts (metro revenue, a shop, a cash desk, card clearing).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "facepay/payments/ledger.h"
#include "test_store.h"

namespace facepay::payments {

inline constexpr int64_t kT0Ms = 1794808800000;  // Monday 2026-11-16 06:00 UTC

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto t = facepay::testing::TestStore::Create(GetParam());
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    ts_ = std::move(*t);
    ledger_ = std::make_unique<Ledger>(ts_->store(), clock_, &provider_);
    ASSERT_TRUE(ledger_->CreateAccount(System("metro:revenue", AccountKind::kRevenue)).ok());
    ASSERT_TRUE(ledger_->CreateAccount(System("shop:1", AccountKind::kMerchant)).ok());
    ASSERT_TRUE(ledger_->CreateAccount(System("cash:desk", AccountKind::kCash)).ok());
    ASSERT_TRUE(ledger_->CreateAccount(System("clearing:simulated", AccountKind::kClearing)).ok());
  }
  void TearDown() override {
    ledger_.reset();
    ts_.reset();
  }

  static Account System(const std::string& id, AccountKind kind) {
    Account a;
    a.id = id;
    a.kind = kind;
    a.currency = "EUR";
    return a;
  }
  // A stored-value wallet with `balance` topped up from the cash desk.
  Account Wallet(const std::string& id, int64_t balance, int64_t floor = 0, int64_t daily = 0) {
    Account a = System(id, AccountKind::kStoredValue);
    a.floor_minor = floor;
    a.daily_limit_minor = daily;
    auto r = ledger_->CreateAccount(a);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (balance > 0) {
      auto t = ledger_->TopUp({"topup-" + id, id, "cash:desk", balance, "EUR"});
      EXPECT_TRUE(t.ok()) << t.status().ToString();
    }
    return a;
  }
  int64_t Balance(const std::string& id) {
    auto a = ts_->store().GetAccount(id);
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? a->balance_minor : INT64_MIN;
  }
  ChargeRequest Req(const std::string& key, const std::string& acct, int64_t amount,
                    const std::string& payee = "metro:revenue") {
    return ChargeRequest{key, acct, payee, amount, "EUR", TxnKind::kCharge, ""};
  }
  void ExpectClean() {
    auto rep = ledger_->CheckIntegrity();
    ASSERT_TRUE(rep.ok()) << rep.status().ToString();
    EXPECT_TRUE(rep->ok()) << "unbalanced=" << rep->unbalanced_txns.size()
                           << " mismatched=" << rep->mismatched_accounts.size()
                           << " below_floor=" << rep->below_floor_accounts.size();
  }

  ManualClock clock_{kT0Ms};
  SimulatedProvider provider_;
  std::unique_ptr<facepay::testing::TestStore> ts_;
  std::unique_ptr<Ledger> ledger_;
};

inline std::string BackendName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

#define FACEPAY_INSTANTIATE_STORE_TEST(Suite) \
  INSTANTIATE_TEST_SUITE_P(Stores, Suite, ::testing::Values("sqlite", "postgres"), BackendName)

}  // namespace facepay::payments
