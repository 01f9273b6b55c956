#include "facepay/bench/ledger_bench.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <thread>

#include "facepay/payments/ledger.h"

namespace facepay::payments {

StatusOr<LedgerBenchResult> RunLedgerBench(LedgerStore& store, const LedgerBenchOptions& o) {
  if (o.threads < 1 || o.threads > 256 || o.inflight < 1 || o.inflight > 4096 || o.charges < 1 ||
      o.charges > 10'000'000 || o.accounts < 1 || o.accounts > 100'000) {
    return InvalidArgument("invalid_bench_options",
                           "threads 1..256, inflight 1..4096, "
                           "charges 1..1e7, accounts 1..1e5");
  }
  SystemClock clock;
  Ledger ledger(store, clock, nullptr);
  const std::string p = o.run_id;
  for (const char* sys : {":rev", ":cash"}) {
    Account a;
    a.id = p + sys;
    a.kind = sys[1] == 'r' ? AccountKind::kRevenue : AccountKind::kCash;
    a.currency = "EUR";
    FACEPAY_RETURN_IF_ERROR(ledger.CreateAccount(a).status());
  }
  // Set-up pipelined (many units per commit), not timed.
  std::vector<std::future<Status>> made;
  for (int i = 0; i < o.accounts; ++i) {
    Account a;
    a.id = p + ":c" + std::to_string(i);
    a.currency = "EUR";
    a.floor_minor = 0;
    FACEPAY_RETURN_IF_ERROR(ValidateNewAccount(a));
    made.push_back(store.ExecuteAsync([a](LedgerTxn& txn) { return txn.InsertAccount(a); }, a.id));
  }
  for (auto& f : made) FACEPAY_RETURN_IF_ERROR(f.get());
  std::vector<std::future<StatusOr<ChargeResult>>> topped;
  for (int i = 0; i < o.accounts; ++i) {
    topped.push_back(
        ledger.TopUpAsync({p + ":top" + std::to_string(i), p + ":c" + std::to_string(i),
                           p + ":cash", 100'000'000, "EUR"}));
  }
  for (auto& f : topped) FACEPAY_RETURN_IF_ERROR(f.get().status());
  using Steady = std::chrono::steady_clock;
  std::vector<std::vector<double>> lat(static_cast<size_t>(o.threads));
  std::vector<Status> errors(static_cast<size_t>(o.threads));
  const auto t0 = Steady::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      const int n = o.charges / o.threads + (t < o.charges % o.threads ? 1 : 0);
      std::deque<std::pair<Steady::time_point, std::future<StatusOr<ChargeResult>>>> q;
      auto finish_one = [&]() {
        auto r = q.front().second.get();
        lat[t].push_back(
            std::chrono::duration<double, std::milli>(Steady::now() - q.front().first).count());
        if (!r.ok() && errors[t].ok()) errors[t] = r.status();
        q.pop_front();
      };
      for (int i = 0; i < n; ++i) {
        const int acct = (t * 7919 + i * 31) % o.accounts;
        ChargeRequest req{p + ":k" + std::to_string(t) + "-" + std::to_string(i),
                          p + ":c" + std::to_string(acct),
                          p + ":rev",
                          1 + i % 500,
                          "EUR",
                          TxnKind::kCharge,
                          ""};
        q.emplace_back(Steady::now(), ledger.ChargeAsync(req));
        while (static_cast<int>(q.size()) >= o.inflight) finish_one();
      }
      while (!q.empty()) finish_one();
    });
  }
  for (auto& th : threads) th.join();
  const double secs = std::chrono::duration<double>(Steady::now() - t0).count();
  for (const auto& e : errors) FACEPAY_RETURN_IF_ERROR(e);
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double q) {
    return all[std::min(all.size() - 1, static_cast<size_t>(q * all.size()))];
  };
  LedgerBenchResult r;
  r.backend = store.Backend();
  r.threads = o.threads;
  r.inflight = o.inflight;
  r.charges = static_cast<int>(all.size());
  r.seconds = secs;
  r.charges_per_s = all.size() / secs;
  r.p50_ms = pct(0.50);
  r.p99_ms = pct(0.99);
  r.max_ms = all.back();
  FACEPAY_ASSIGN_OR_RETURN(IntegrityReport rep, store.CheckIntegrity());
  r.integrity_ok = rep.ok();
  return r;
}

}  // namespace facepay::payments
