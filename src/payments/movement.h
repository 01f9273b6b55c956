// The one place money moves: applies a customer <-> counterparty movement inside a unit of
// work (locks the customer, checks floor and limits, posts balanced entries), and the
// idempotency wrapper around any unit body. Internal to payments.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "facepay/payments/ledger_store.h"

namespace facepay::payments {

struct CounterLimit {
  std::string counter;  // daily counter name, e.g. "atm"
  int64_t limit_minor = 0;
  std::string decline_reason;
};

struct Movement {
  TxnKind kind = TxnKind::kCharge;
  std::string idempotency_key;
  std::string customer_id;
  std::string counterparty_id;
  int64_t amount_minor = 0;
  std::string currency;
  std::string memo;
  bool debit_customer = true;  // charge, fare, purchase, withdrawal; false: top-up, deposit, refund
  int64_t ref_txn_id = 0;
  bool card_captured = false;           // the provider already captured this amount
  bool apply_daily_spend_limit = true;  // account's daily_limit_minor on counter "spend"
  int64_t per_txn_max_minor = 0;        // 0 = none
  std::string per_txn_reason;
  std::vector<CounterLimit> limits;  // extra daily limits, checked and counted when debiting
  std::vector<AccountKind> counterparty_kinds;
};

// Declines come back as a result; bad input / missing accounts as errors.
StatusOr<ChargeResult> ApplyMovement(LedgerTxn& txn, const Movement& m, int64_t now_ms);

// Runs `body` once per idempotency key: an existing record with the same fingerprint is
// replayed (its JSON with "replayed": true); a different fingerprint fails with
// FailedPrecondition("idempotency_key_reused"). A body error stores nothing.
StatusOr<nlohmann::json> RunIdempotent(LedgerTxn& txn, const std::string& key,
                                       const std::string& fingerprint, int64_t now_ms,
                                       const std::function<StatusOr<nlohmann::json>()>& body);

}  // namespace facepay::payments
