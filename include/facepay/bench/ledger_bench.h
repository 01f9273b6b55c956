// Load generator behind `facepay bench ledger`: N client threads, each keeping `inflight`
// charges outstanding, against fresh stored-value accounts in a given store. Latency is from
// submit to durable result. Not thread-safe itself (run one at a time).
#pragma once

#include <string>

#include "facepay/payments/ledger_store.h"

namespace facepay::payments {

struct LedgerBenchOptions {
  int threads = 1;
  int inflight = 1;     // charges each client thread keeps outstanding
  int charges = 10000;  // in total, over all threads
  int accounts = 1000;  // customer accounts the charges are spread over
  std::string run_id;   // prefix of account ids and keys (unique per run)
};

struct LedgerBenchResult {
  std::string backend;
  int threads = 0;
  int inflight = 0;
  int charges = 0;
  double seconds = 0;
  double charges_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  bool integrity_ok = false;
};

StatusOr<LedgerBenchResult> RunLedgerBench(LedgerStore& store, const LedgerBenchOptions& opts);

}  // namespace facepay::payments
