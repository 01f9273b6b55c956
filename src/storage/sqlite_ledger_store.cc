// SQLite ledger store: one writer thread with group commit, one reader connection.
//
// Durability: WAL with synchronous=FULL, so COMMIT returns after the WAL is fsync'd. The writer
// takes every queued unit (up to max_batch), runs each inside a SAVEPOINT (a failing unit rolls
// back alone), commits once, and only then completes the units' futures: a caller is never told
// "done" before its charge is on disk, yet one fsync covers the whole batch.
#include <exception>
#include <thread>

#include "facepay/storage/ledger_stores.h"
#include "integrity_sql.h"
#include "sqlite_db.h"
#include "sqlite_ledger_txn.h"
#include "sqlite_schema.h"
#include "work_queue.h"

namespace facepay::storage {
namespace {

using payments::Account;
using payments::IntegrityReport;
using payments::TxnRecord;

Status RunUnitCatching(const payments::UnitOfWork& unit, payments::LedgerTxn& txn) {
  try {
    return unit(txn);
  } catch (const std::exception& e) {
    return Internal("unit_exception", e.what());
  }
}

class SqliteLedgerStore final : public payments::LedgerStore {
 public:
  SqliteLedgerStore(std::unique_ptr<SqliteDb> writer, std::unique_ptr<SqliteDb> reader,
                    StoreOptions opts)
      : writer_db_(std::move(writer)), reader_(std::move(reader)), opts_(opts) {
    writer_ = std::thread([this] { WriterLoop(); });
  }
  ~SqliteLedgerStore() override {
    queue_.Close();
    writer_.join();
  }

  std::future<Status> ExecuteAsync(payments::UnitOfWork unit, const std::string&) override {
    return queue_.Push(std::move(unit));
  }

  StatusOr<Account> GetAccount(const std::string& id) override {
    std::lock_guard<std::mutex> lock(read_mu_);
    auto r = SqliteReadAccount(*reader_, id);
    reader_->ResetAll();
    return r;
  }
  StatusOr<TxnRecord> GetTransaction(int64_t id) override {
    std::lock_guard<std::mutex> lock(read_mu_);
    auto r = SqliteReadTransaction(*reader_, id);
    reader_->ResetAll();
    return r;
  }
  StatusOr<std::vector<TxnRecord>> ListTransactions(const std::string& account_id,
                                                    int limit) override;
  StatusOr<IntegrityReport> CheckIntegrity() override;
  StatusOr<int64_t> CountTransactionsWithKey(const std::string& key) override;
  std::string Backend() const override { return "sqlite"; }

 private:
  void WriterLoop();
  void RunBatch(std::vector<PendingUnit>& batch);
  StatusOr<IntegrityReport> CheckIntegrityLocked();

  std::unique_ptr<SqliteDb> writer_db_;  // used only by the writer thread
  std::mutex read_mu_;                   // guards reader_
  std::unique_ptr<SqliteDb> reader_;
  StoreOptions opts_;
  WorkQueue queue_;
  std::thread writer_;
};

void SqliteLedgerStore::WriterLoop() {
  for (;;) {
    auto batch = queue_.PopBatch(static_cast<size_t>(std::max(1, opts_.max_batch)));
    if (batch.empty()) return;
    RunBatch(batch);
  }
}

void SqliteLedgerStore::RunBatch(std::vector<PendingUnit>& batch) {
  SqliteDb& db = *writer_db_;
  Status begin = db.Exec("BEGIN IMMEDIATE");
  if (!begin.ok()) {
    for (auto& p : batch) p.done.set_value(begin);
    return;
  }
  std::vector<Status> results(batch.size());
  std::map<std::string, int64_t> deferred;
  Status fatal;
  // Savepoint statements go through the statement cache: sqlite3_exec would re-parse them for
  // every unit.
  auto run = [&db](const char* sql) -> Status {
    auto st = db.Prepare(sql);
    return st.ok() ? st->Run() : st.status();
  };
  for (size_t i = 0; i < batch.size() && fatal.ok(); ++i) {
    fatal = run("SAVEPOINT unit");
    if (!fatal.ok()) break;
    SqliteLedgerTxn txn(db);
    results[i] = RunUnitCatching(batch[i].unit, txn);
    if (results[i].ok()) {
      for (const auto& [acct, delta] : txn.deferred()) deferred[acct] += delta;
      fatal = run("RELEASE unit");
    } else {
      fatal = run("ROLLBACK TO unit");
      if (fatal.ok()) fatal = run("RELEASE unit");
    }
  }
  for (const auto& [acct, delta] : deferred) {
    if (!fatal.ok()) break;
    auto st = db.Prepare("UPDATE accounts SET balance_minor = balance_minor + ? WHERE id = ?");
    fatal = st.ok() ? st->Bind(1, delta).Bind(2, acct).Run() : st.status();
  }
  if (fatal.ok()) fatal = db.Exec("COMMIT");
  if (!fatal.ok()) {
    (void)db.Exec("ROLLBACK");
    for (auto& r : results) {
      if (r.ok()) r = fatal;
    }
  }
  db.ResetAll();
  for (size_t i = 0; i < batch.size(); ++i) batch[i].done.set_value(results[i]);
}

StatusOr<std::vector<TxnRecord>> SqliteLedgerStore::ListTransactions(const std::string& account_id,
                                                                     int limit) {
  std::lock_guard<std::mutex> lock(read_mu_);
  std::vector<int64_t> ids;
  {
    auto st = reader_->Prepare(
        "SELECT id FROM transactions WHERE account_id = ? OR counterparty_id = ? "
        "ORDER BY id DESC LIMIT ?");
    if (!st.ok()) return st.status();
    st->Bind(1, account_id).Bind(2, account_id).Bind(3, static_cast<int64_t>(limit));
    for (;;) {
      auto row = st->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      ids.push_back(st->Int(0));
    }
  }
  std::vector<TxnRecord> out;
  for (int64_t id : ids) {
    auto t = SqliteReadTransaction(*reader_, id);
    if (!t.ok()) {
      reader_->ResetAll();
      return t.status();
    }
    out.push_back(std::move(*t));
  }
  reader_->ResetAll();
  return out;
}

StatusOr<int64_t> SqliteLedgerStore::CountTransactionsWithKey(const std::string& key) {
  std::lock_guard<std::mutex> lock(read_mu_);
  auto st = reader_->Prepare("SELECT COUNT(*) FROM transactions WHERE idem_key = ?");
  if (!st.ok()) return st.status();
  st->Bind(1, key);
  auto row = st->Step();
  if (!row.ok()) return row.status();
  int64_t n = *row ? st->Int(0) : 0;
  reader_->ResetAll();
  return n;
}

StatusOr<IntegrityReport> SqliteLedgerStore::CheckIntegrity() {
  std::lock_guard<std::mutex> lock(read_mu_);
  // One read transaction: every query sees the same snapshot.
  FACEPAY_RETURN_IF_ERROR(reader_->Exec("BEGIN"));
  auto r = CheckIntegrityLocked();
  reader_->ResetAll();
  (void)reader_->Exec("COMMIT");
  return r;
}

StatusOr<IntegrityReport> SqliteLedgerStore::CheckIntegrityLocked() {
  namespace q = integrity_sql;
  IntegrityReport rep;
  auto scalar = [&](const char* sql, int64_t& out) -> Status {
    FACEPAY_ASSIGN_OR_RETURN(auto st, reader_->Prepare(sql));
    FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
    out = row ? st.Int(0) : 0;
    st.Reset();
    return Status::Ok();
  };
  auto ints = [&](const char* sql, std::vector<int64_t>& out) -> Status {
    FACEPAY_ASSIGN_OR_RETURN(auto st, reader_->Prepare(sql));
    for (;;) {
      FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return Status::Ok();
      out.push_back(st.Int(0));
    }
  };
  auto texts = [&](const char* sql, std::vector<std::string>& out) -> Status {
    FACEPAY_ASSIGN_OR_RETURN(auto st, reader_->Prepare(sql));
    for (;;) {
      FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return Status::Ok();
      out.push_back(st.Text(0));
    }
  };
  FACEPAY_RETURN_IF_ERROR(scalar(q::kCountAccounts, rep.accounts));
  FACEPAY_RETURN_IF_ERROR(scalar(q::kCountTransactions, rep.transactions));
  FACEPAY_RETURN_IF_ERROR(scalar(q::kCountEntries, rep.entries));
  FACEPAY_RETURN_IF_ERROR(ints(q::kUnbalanced, rep.unbalanced_txns));
  FACEPAY_RETURN_IF_ERROR(texts(q::kMismatched, rep.mismatched_accounts));
  FACEPAY_RETURN_IF_ERROR(texts(q::kBelowFloor, rep.below_floor_accounts));
  FACEPAY_RETURN_IF_ERROR(ints(q::kOverRefunded, rep.over_refunded_txns));
  FACEPAY_RETURN_IF_ERROR(texts(q::kDuplicateKeys, rep.duplicate_keys));
  return rep;
}

}  // namespace

StatusOr<std::unique_ptr<payments::LedgerStore>> OpenSqliteLedgerStore(const std::string& path,
                                                                       StoreOptions opts) {
  FACEPAY_ASSIGN_OR_RETURN(auto writer, SqliteDb::Open(path));
  FACEPAY_RETURN_IF_ERROR(writer->Exec("PRAGMA journal_mode=WAL"));
  // FULL: every commit fsyncs the WAL, so an acknowledged charge survives power loss.
  FACEPAY_RETURN_IF_ERROR(writer->Exec("PRAGMA synchronous=FULL"));
  FACEPAY_RETURN_IF_ERROR(writer->Exec("PRAGMA foreign_keys=ON"));
  FACEPAY_RETURN_IF_ERROR(MigrateSqlite(*writer));
  FACEPAY_ASSIGN_OR_RETURN(auto reader, SqliteDb::Open(path));
  return std::unique_ptr<payments::LedgerStore>(
      new SqliteLedgerStore(std::move(writer), std::move(reader), opts));
}

}  // namespace facepay::storage
