// LedgerTxn over a libpqxx (sub)transaction; used by PgLedgerStore's writer sessions.
// libpqxx exceptions that mean "try again" (lock not available, unique key raced by another
// session, deadlock, serialization failure) propagate to the writer, which re-queues the unit.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>

#include "facepay/payments/ledger_store.h"

namespace facepay::storage {

StatusOr<payments::Account> PgAccountFromRow(const pqxx::row& r);
StatusOr<payments::TxnRecord> PgReadTransaction(pqxx::transaction_base& t, int64_t id);

// Kind/currency of system (non-customer) accounts never change, so writers remember them
// instead of reading the row for every charge. Balances in it are stale by design (ReadAccount
// may return stale balances of unlocked accounts). Thread-safe.
class SystemAccountCache {
 public:
  std::optional<payments::Account> Get(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = accounts_.find(id);
    if (it == accounts_.end()) return std::nullopt;
    return it->second;
  }
  void Put(const payments::Account& a) {
    std::lock_guard<std::mutex> lock(mu_);
    if (accounts_.size() < 100000) accounts_[a.id] = a;
  }

 private:
  std::mutex mu_;  // guards accounts_
  std::map<std::string, payments::Account> accounts_;
};

class PgLedgerTxn final : public payments::LedgerTxn {
 public:
  PgLedgerTxn(pqxx::transaction_base& t, SystemAccountCache* cache) : t_(t), cache_(cache) {}

  // Balance deltas of unlocked (system) accounts, applied by the writer before commit.
  const std::map<std::string, int64_t>& deferred() const { return deferred_; }

  StatusOr<std::optional<payments::IdempotencyRecord>> GetIdempotency(
      const std::string& key) override;
  Status PutIdempotency(const payments::IdempotencyRecord& rec) override;
  StatusOr<payments::Account> LockAccount(const std::string& id) override;
  StatusOr<payments::Account> ReadAccount(const std::string& id) override;
  Status InsertAccount(const payments::Account& a) override;
  Status UpdateAccountSettings(const payments::Account& a) override;
  StatusOr<int64_t> PostTransaction(const payments::TxnRecord& txn) override;
  StatusOr<payments::TxnRecord> GetTransaction(int64_t id) override;
  StatusOr<int64_t> SumRefunds(int64_t original_txn_id) override;
  StatusOr<int64_t> GetCounter(const std::string& account_id, const std::string& name,
                               int64_t day) override;
  Status AddCounter(const std::string& account_id, const std::string& name, int64_t day,
                    int64_t delta) override;
  StatusOr<std::string> GetFareState(const std::string& account_id, const std::string& op) override;
  Status PutFareState(const std::string& account_id, const std::string& op,
                      const std::string& state) override;
  StatusOr<int64_t> InsertBorderCrossing(const payments::BorderCrossing& c) override;

 private:
  pqxx::transaction_base& t_;
  SystemAccountCache* cache_;  // may be null
  std::set<std::string> locked_;
  std::map<std::string, int64_t> deferred_;
};

}  // namespace facepay::storage
