// 8 threads x 1,000 charges against 10 accounts, 20% of them duplicates of another request
// (same key, same parameters) racing on other threads, split over two store instances (two
// nodes / sessions on the same data). Checks: one transaction per approved key, duplicates all
// see the original result, no balance below its floor, integrity clean.
#include <algorithm>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "ledger_test_fixture.h"

namespace facepay::payments {
namespace {

constexpr int kThreads = 8;
constexpr int kPerThread = 1000;
constexpr int kAccounts = 10;
constexpr int64_t kStartBalance = 30000;
constexpr int64_t kFloor = -500;

using ConcurrencyTest = StoreTest;

TEST_P(ConcurrencyTest, EightThreadsThousandChargesTwentyPercentDuplicates) {
  for (int a = 0; a < kAccounts; ++a) Wallet("acct" + std::to_string(a), kStartBalance, kFloor);
  auto second = ts_->OpenAnother();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  Ledger ledger2(**second, clock_, &provider_);

  // The workload: 6,400 distinct requests and 1,600 duplicates of them, shuffled over threads.
  std::mt19937 rng(20261122);
  const int total = kThreads * kPerThread, dups = total / 5;
  std::vector<ChargeRequest> work;
  for (int i = 0; i < total - dups; ++i) {
    work.push_back(Req("conc-" + std::to_string(i), "acct" + std::to_string(rng() % kAccounts),
                       10 + static_cast<int64_t>(rng() % 91)));
  }
  for (int i = 0; i < dups; ++i) work.push_back(work[rng() % (total - dups)]);
  std::shuffle(work.begin(), work.end(), rng);

  std::mutex mu;  // guards results
  std::map<std::string, std::vector<ChargeResult>> results;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Ledger& l = t % 2 == 0 ? *ledger_ : ledger2;
      for (int i = t * kPerThread; i < (t + 1) * kPerThread; ++i) {
        auto r = l.Charge(work[i]);
        if (!r.ok()) {
          errors++;
          ADD_FAILURE() << r.status().ToString();
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        results[work[i].idempotency_key].push_back(*r);
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(errors.load(), 0);
  ASSERT_EQ(results.size(), static_cast<size_t>(total - dups));

  std::map<std::string, int64_t> approved_by_account;
  int approved = 0, declined = 0, replays = 0;
  for (const auto& [key, rs] : results) {
    int fresh = 0;
    for (const auto& r : rs) {
      fresh += r.replayed ? 0 : 1;
      replays += r.replayed ? 1 : 0;
      EXPECT_EQ(r.outcome, rs[0].outcome) << key;
      if (r.receipt && rs[0].receipt) {
        EXPECT_EQ(r.receipt->txn_id, rs[0].receipt->txn_id) << key;
      }
    }
    EXPECT_EQ(fresh, 1) << key << " was executed " << fresh << " times";
    if (rs[0].outcome == Outcome::kApproved) {
      approved++;
      approved_by_account[rs[0].receipt->account_id] += rs[0].receipt->amount_minor;
    } else {
      declined++;
      EXPECT_EQ(rs[0].decline_reason, "insufficient_funds");
    }
  }
  EXPECT_EQ(replays, dups);
  EXPECT_GT(declined, 0) << "workload should exhaust some balances to test the floor";
  for (int a = 0; a < kAccounts; ++a) {
    const std::string id = "acct" + std::to_string(a);
    const int64_t bal = Balance(id);
    EXPECT_GE(bal, kFloor) << id;
    EXPECT_EQ(bal, kStartBalance - approved_by_account[id]) << id;
  }
  auto rep = ledger_->CheckIntegrity();
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok());
  EXPECT_EQ(rep->transactions, kAccounts + approved);  // top-ups + exactly one per approved key
  std::printf(
      "[concurrency] %s: %d requests, %d distinct keys, %d approved, %d declined, "
      "%d replays, integrity %s\n",
      GetParam().c_str(), total, total - dups, approved, declined, replays,
      rep->ok() ? "clean" : "BROKEN");
}

FACEPAY_INSTANTIATE_STORE_TEST(ConcurrencyTest);

}  // namespace
}  // namespace facepay::payments
