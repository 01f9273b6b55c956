// Value types of the double-entry ledger: entries, transactions, receipts, results, reports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "facepay/common/status_or.h"

namespace facepay::payments {

// What a transaction was. Stored as its name; names are part of the data format.
enum class TxnKind { kTopUp, kCharge, kFare, kPurchase, kRefund, kWithdrawal, kDeposit };
std::string_view TxnKindName(TxnKind kind);
StatusOr<TxnKind> ParseTxnKind(std::string_view name);

// One leg of a transaction. The entries of a transaction sum to zero; an account's balance is
// the sum of its entries (positive = the account gained money).
struct Entry {
  std::string account_id;
  int64_t amount_minor = 0;
};

struct TxnRecord {
  int64_t id = 0;  // assigned by the store
  TxnKind kind = TxnKind::kCharge;
  std::string idempotency_key;  // unique when non-empty
  int64_t ref_txn_id = 0;       // refunds: the original transaction; else 0
  std::string account_id;       // the customer side
  std::string counterparty_id;  // revenue / merchant / cash side
  int64_t amount_minor = 0;     // positive
  std::string currency;
  std::string memo;  // order id, gate, station...
  int64_t created_at_ms = 0;
  std::vector<Entry> entries;
};

// What the payer is shown / given: a receipt for a committed transaction.
struct Receipt {
  int64_t txn_id = 0;
  std::string kind;
  std::string account_id;
  std::string counterparty_id;
  int64_t amount_minor = 0;
  std::string currency;
  int64_t balance_after_minor = 0;  // customer balance after the transaction
  int64_t ref_txn_id = 0;
  std::string memo;
  int64_t created_at_ms = 0;
};

// Outcome of a money movement. A decline is a normal outcome, not an error.
enum class Outcome { kApproved, kDeclined };

struct ChargeResult {
  Outcome outcome = Outcome::kApproved;
  std::string decline_reason;      // "insufficient_funds", "daily_limit", "card_declined", ...
  bool replayed = false;           // true when returned from the idempotency record
  std::optional<Receipt> receipt;  // set when approved
  int64_t balance_minor = 0;       // customer balance after (or unchanged, when declined)
};

struct IntegrityReport {
  int64_t accounts = 0;
  int64_t transactions = 0;
  int64_t entries = 0;
  std::vector<int64_t> unbalanced_txns;          // entries do not sum to zero
  std::vector<std::string> mismatched_accounts;  // stored balance != sum of entries
  std::vector<std::string> below_floor_accounts;
  std::vector<int64_t> over_refunded_txns;  // refunds exceed the original amount
  std::vector<std::string> duplicate_keys;  // idempotency key on more than one transaction
  bool ok() const {
    return unbalanced_txns.empty() && mismatched_accounts.empty() && below_floor_accounts.empty() &&
           over_refunded_txns.empty() && duplicate_keys.empty();
  }
};

}  // namespace facepay::payments
