// LedgerTxn over one SQLite connection inside an open transaction (used by the writer thread
// of SqliteLedgerStore). Also the row readers shared with the store's read-only queries.
#pragma once

#include <map>
#include <set>
#include <string>

#include "facepay/payments/ledger_store.h"
#include "sqlite_db.h"

namespace facepay::storage {

StatusOr<payments::Account> SqliteReadAccount(SqliteDb& db, const std::string& id);
StatusOr<payments::TxnRecord> SqliteReadTransaction(SqliteDb& db, int64_t id);

class SqliteLedgerTxn final : public payments::LedgerTxn {
 public:
  explicit SqliteLedgerTxn(SqliteDb& db) : db_(db) {}

  // Balance deltas of unlocked (system) accounts posted by this unit, applied by the writer
  // just before commit when the unit succeeds.
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
  SqliteDb& db_;
  std::set<std::string> locked_;
  std::map<std::string, int64_t> deferred_;
};

}  // namespace facepay::storage
