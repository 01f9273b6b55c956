// Transit gates: a recognised rider taps in or out; the fare engine prices the tap and the
// ledger charges it, with the rider's fare state committed in the same unit as the charge.
// The gate's event id is the idempotency key: a repeated event replays the first answer.
// Thread-safe; the ledger must outlive the service.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "facepay/payments/fare_config.h"
#include "facepay/payments/fare_engine.h"
#include "facepay/payments/ledger.h"

namespace facepay::payments {

struct TapRequest {
  std::string event_id;  // idempotency key
  std::string account_id;
  std::string gate_id;
  std::string gate_group;
  std::string station;
  TapDirection direction = TapDirection::kEntry;
  // When the rider passed, for the fare rules (transfer window, caps, anti-passback); 0 = now.
  // An edge gate's offline passages are settled later with the time they happened.
  int64_t at_ms = 0;
};

struct TapResult {
  bool open_gate = false;
  FareKind kind = FareKind::kCharge;
  std::string reason;           // fare reason, or the decline reason when the charge was declined
  int64_t fare_minor = 0;       // charged (0 when free, capped, passback or declined)
  int64_t full_fare_minor = 0;  // before concession and caps
  bool declined = false;
  int64_t txn_id = 0;  // 0 when no money moved
  int64_t balance_minor = 0;
  bool replayed = false;
};

// The answer of a tap as JSON (what the idempotency record keeps and what a gate is shown).
nlohmann::json TapToJson(const TapResult& r);

class TransitService {
 public:
  TransitService(Ledger& ledger, FareConfig config) : ledger_(ledger), config_(std::move(config)) {}
  StatusOr<TapResult> Tap(const TapRequest& req);
  const FareConfig& config() const { return config_; }

 private:
  Ledger& ledger_;
  const FareConfig config_;
};

}  // namespace facepay::payments
