// Child process of the crash-safety test: charges `wallet` in a loop with many charges in
// flight and prints "ACK <key> <txn_id> <amount>" for each charge only after the store says it
// is durable. The parent SIGKILLs it at random points. Usage: crash_child STORE RUN
#include <unistd.h>

#include <cstdio>
#include <deque>
#include <string>

#include "facepay/payments/ledger.h"
#include "facepay/storage/ledger_stores.h"

int main(int argc, char** argv) {
  using namespace facepay::payments;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s STORE RUN\n", argv[0]);
    return 2;
  }
  auto store = facepay::storage::OpenLedgerStore(argv[1]);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  SystemClock clock;
  Ledger ledger(**store, clock, nullptr);
  const std::string run = argv[2];
  std::deque<std::pair<std::string, std::future<facepay::StatusOr<ChargeResult>>>> inflight;
  for (long i = 0;; ++i) {
    const std::string key = "crash-" + run + "-" + std::to_string(i);
    const int64_t amount = 1 + i % 97;
    inflight.emplace_back(key, ledger.ChargeAsync({key, "wallet", "metro:revenue", amount, "EUR",
                                                   TxnKind::kCharge, ""}));
    // Up to 32 charges in flight (so the store can group-commit them); acknowledge in order.
    while (inflight.size() >= 32) {
      auto r = inflight.front().second.get();
      if (!r.ok() || !r->receipt) {
        std::fprintf(stderr, "charge failed: %s\n",
                     r.ok() ? "declined" : r.status().ToString().c_str());
        return 1;
      }
      char line[256];
      int n = std::snprintf(line, sizeof line, "ACK %s %lld %lld\n", inflight.front().first.c_str(),
                            static_cast<long long>(r->receipt->txn_id),
                            static_cast<long long>(r->receipt->amount_minor));
      if (::write(1, line, static_cast<size_t>(n)) != n) return 1;
      inflight.pop_front();
    }
  }
}
