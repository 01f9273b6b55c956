// LedgerTxn over a libpqxx (sub)transaction; used by PgLedgerStore's writer sessions.
// libpqxx exceptions that mean "try again" (lock not available, unique key raced by another
// session, deadlock, serialization failure) propagate to the writer, which re-queues the unit.
#pragma once

#include <map>
#include <pqxx/pqxx>
#include <set>
#include <string>

#include "facepay/payments/ledger_store.h"

namespace facepay::storage {

StatusOr<payments::Account> PgAccountFromRow(const pqxx::row& r);
StatusOr<payments::TxnRecord> PgReadTransaction(pqxx::transaction_base& t, int64_t id);

class PgLedgerTxn final : public payments::LedgerTxn {
 public:
  explicit PgLedgerTxn(pqxx::transaction_base& t) : t_(t) {}

  // Balance deltas of unlocked (system) accounts, applied by the writer before commit.
  const std::map<std::string, int64_t>& deferred() const { return deferred_; }

  StatusOr<std::optional<payments::IdempotencyRecord>> GetIdempotency(const std::string& key) override;
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
  std::set<std::string> locked_;
  std::map<std::string, int64_t> deferred_;
};

}  // namespace facepay::storage
