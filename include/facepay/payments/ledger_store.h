// LedgerStore: where the ledger lives (SQLite file or PostgreSQL database). Owned by payments;
// implemented in facepay::storage. Every change happens inside a unit of work: a function over
// LedgerTxn that the store runs atomically (all of its writes commit, or none do).
//
// Contract for units of work:
//  - A unit may be run more than once (retries after lock conflicts); it must only write to
//    the store and to its own captured result, overwriting (not appending) the result.
//  - A unit that returns a non-ok Status is rolled back and that Status is returned.
//  - Execute returns only after the unit's commit is durable (fsync'd): callers may
//    acknowledge the result. Stores may commit many units in one transaction (group commit).
//  - Customer accounts must be read with LockAccount before changing their balance: the store
//    serialises units that lock the same account (row locks / a single writer).
// All LedgerStore methods are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "facepay/common/status_or.h"
#include "facepay/payments/account.h"
#include "facepay/payments/ledger_types.h"

namespace facepay::payments {

struct IdempotencyRecord {
  std::string key;
  std::string fingerprint;  // canonical form of the request's parameters
  std::string result_json;  // the original result, replayed verbatim
  int64_t created_at_ms = 0;
};

struct BorderCrossing {
  int64_t id = 0;
  std::string doc_hash;  // hex hash of the document number; the number itself is never stored
  std::string gate_id;
  int64_t at_ms = 0;
  std::string decision;  // "admitted" | "refused" | "referred"
};

// Operations available inside one unit of work. Not thread-safe: used by one unit at a time.
class LedgerTxn {
 public:
  virtual ~LedgerTxn() = default;
  virtual StatusOr<std::optional<IdempotencyRecord>> GetIdempotency(const std::string& key) = 0;
  virtual Status PutIdempotency(const IdempotencyRecord& rec) = 0;
  // Reads an account and locks it until commit. NotFound("account_not_found") on a miss.
  virtual StatusOr<Account> LockAccount(const std::string& id) = 0;
  // Reads an account without locking (balances of unlocked accounts may be stale).
  virtual StatusOr<Account> ReadAccount(const std::string& id) = 0;
  // AlreadyExists("account_exists") when the id is taken.
  virtual Status InsertAccount(const Account& a) = 0;
  // Updates limits/concession/auto top-up (never the balance).
  virtual Status UpdateAccountSettings(const Account& a) = 0;
  // Inserts the transaction and its entries, applies the entries to balances. Returns the id.
  // Balances of accounts locked in this unit are updated at once; others (hot system accounts)
  // may be applied just before commit.
  virtual StatusOr<int64_t> PostTransaction(const TxnRecord& txn) = 0;
  // NotFound("transaction_not_found").
  virtual StatusOr<TxnRecord> GetTransaction(int64_t id) = 0;
  virtual StatusOr<int64_t> SumRefunds(int64_t original_txn_id) = 0;
  // Per-account daily counters (spend, ATM withdrawals): read and add.
  virtual StatusOr<int64_t> GetCounter(const std::string& account_id, const std::string& name,
                                       int64_t day) = 0;
  virtual Status AddCounter(const std::string& account_id, const std::string& name, int64_t day,
                            int64_t delta) = 0;
  // Opaque fare state per (account, operator); "" when none.
  virtual StatusOr<std::string> GetFareState(const std::string& account_id,
                                             const std::string& op) = 0;
  virtual Status PutFareState(const std::string& account_id, const std::string& op,
                              const std::string& state) = 0;
  virtual StatusOr<int64_t> InsertBorderCrossing(const BorderCrossing& c) = 0;
};

using UnitOfWork = std::function<Status(LedgerTxn&)>;

class LedgerStore {
 public:
  virtual ~LedgerStore() = default;
  // Runs `unit` atomically and durably (see contract above). `affinity` (usually the customer
  // account id) lets a store run units of one account on one writer session; "" = any.
  Status Execute(UnitOfWork unit, const std::string& affinity = "") {
    return ExecuteAsync(std::move(unit), affinity).get();
  }
  // Same, without waiting: the future is ready once the unit is durable or has failed.
  virtual std::future<Status> ExecuteAsync(UnitOfWork unit, const std::string& affinity) = 0;
  // Read-only snapshot queries.
  virtual StatusOr<Account> GetAccount(const std::string& id) = 0;
  virtual StatusOr<TxnRecord> GetTransaction(int64_t id) = 0;
  virtual StatusOr<std::vector<TxnRecord>> ListTransactions(const std::string& account_id,
                                                            int limit) = 0;
  // Verifies the whole ledger (see IntegrityReport).
  virtual StatusOr<IntegrityReport> CheckIntegrity() = 0;
  // Number of transactions carrying `key` (0 or 1 in a healthy ledger); used by tests/audits.
  virtual StatusOr<int64_t> CountTransactionsWithKey(const std::string& key) = 0;
  // "sqlite" or "postgres".
  virtual std::string Backend() const = 0;
};

}  // namespace facepay::payments
