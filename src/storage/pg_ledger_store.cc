// PostgreSQL ledger store: W writer sessions, each with its own queue and group commit.
//
// Units are routed to a writer by their affinity (the customer account), so one process never
// contends with itself for a customer row. Each writer runs a batch of units in one
// transaction, each unit in a SAVEPOINT, applies the deferred balance deltas
// of hot system accounts in sorted order, and commits (fsync on, synchronous_commit on) before
// completing any unit's future. Customer rows are locked with SELECT ... FOR UPDATE NOWAIT:
// a row locked by another session (another node) makes only that unit roll back to its
// savepoint and run again in a later batch, so batches never wait on each other's locks.
#include <chrono>
#include <functional>
#include <thread>

#include "facepay/storage/ledger_stores.h"
#include "integrity_sql.h"
#include "pg_ledger_txn.h"
#include "pg_schema.h"
#include "work_queue.h"

namespace facepay::storage {
namespace {

using payments::Account;
using payments::IntegrityReport;
using payments::TxnRecord;

constexpr int kMaxAttempts = 500;

bool Retryable(const std::string& sqlstate) {
  return sqlstate == "55P03" /* lock_not_available */ || sqlstate == "23505" /* unique */ ||
         sqlstate == "40P01" /* deadlock */ || sqlstate == "40001" /* serialization */;
}

StatusOr<std::unique_ptr<pqxx::connection>> Connect(const std::string& url) {
  try {
    auto c = std::make_unique<pqxx::connection>(url);
    PreparePgStatements(*c);
    return c;
  } catch (const std::exception& e) {
    return Unavailable("store_unavailable",
                       std::string("cannot connect to PostgreSQL: ") + e.what());
  }
}

struct Writer {
  std::unique_ptr<pqxx::connection> conn;
  WorkQueue queue;
  std::thread thread;
};

class PgLedgerStore final : public payments::LedgerStore {
 public:
  PgLedgerStore(std::string url, std::vector<std::unique_ptr<pqxx::connection>> writer_conns,
                std::unique_ptr<pqxx::connection> reader, StoreOptions opts)
      : url_(std::move(url)), reader_(std::move(reader)), opts_(opts) {
    for (auto& c : writer_conns) {
      auto w = std::make_unique<Writer>();
      w->conn = std::move(c);
      writers_.push_back(std::move(w));
    }
    for (auto& w : writers_) {
      Writer* wp = w.get();
      wp->thread = std::thread([this, wp] { WriterLoop(*wp); });
    }
  }
  ~PgLedgerStore() override {
    for (auto& w : writers_) w->queue.Close();
    for (auto& w : writers_) w->thread.join();
  }

  std::future<Status> ExecuteAsync(payments::UnitOfWork unit,
                                   const std::string& affinity) override {
    size_t idx = affinity.empty() ? next_writer_.fetch_add(1) : std::hash<std::string>{}(affinity);
    return writers_[idx % writers_.size()]->queue.Push(std::move(unit));
  }

  StatusOr<Account> GetAccount(const std::string& id) override {
    return Read<Account>([&](pqxx::transaction_base& t) -> StatusOr<Account> {
      pqxx::result r = t.exec_prepared("read_account", id);
      if (r.empty()) return NotFound("account_not_found", "no account '" + id + "'");
      return PgAccountFromRow(r[0]);
    });
  }
  StatusOr<TxnRecord> GetTransaction(int64_t id) override {
    return Read<TxnRecord>([&](pqxx::transaction_base& t) { return PgReadTransaction(t, id); });
  }
  StatusOr<std::vector<TxnRecord>> ListTransactions(const std::string& account_id,
                                                    int limit) override {
    return Read<std::vector<TxnRecord>>(
        [&](pqxx::transaction_base& t) -> StatusOr<std::vector<TxnRecord>> {
          std::vector<TxnRecord> out;
          for (const auto& row : t.exec_params(
                   "SELECT id FROM transactions WHERE account_id = $1 OR counterparty_id = $1 "
                   "ORDER BY id DESC LIMIT $2",
                   account_id, limit)) {
            FACEPAY_ASSIGN_OR_RETURN(TxnRecord x, PgReadTransaction(t, row[0].as<int64_t>()));
            out.push_back(std::move(x));
          }
          return out;
        });
  }
  StatusOr<int64_t> CountTransactionsWithKey(const std::string& key) override {
    return Read<int64_t>([&](pqxx::transaction_base& t) -> StatusOr<int64_t> {
      return t.exec_params1("SELECT COUNT(*) FROM transactions WHERE idem_key = $1", key)[0]
          .as<int64_t>();
    });
  }
  StatusOr<IntegrityReport> CheckIntegrity() override;
  std::string Backend() const override { return "postgres"; }

 private:
  // Runs a read-only function in one REPEATABLE READ snapshot on the reader session.
  template <typename T>
  StatusOr<T> Read(const std::function<StatusOr<T>(pqxx::transaction_base&)>& fn) {
    std::lock_guard<std::mutex> lock(read_mu_);
    for (int attempt = 0;; ++attempt) {
      try {
        if (!reader_ || !reader_->is_open()) {
          FACEPAY_ASSIGN_OR_RETURN(reader_, Connect(url_));
        }
        pqxx::transaction<pqxx::isolation_level::repeatable_read, pqxx::read_only> t(*reader_);
        StatusOr<T> r = fn(t);
        t.commit();
        return r;
      } catch (const pqxx::broken_connection& e) {
        reader_.reset();
        if (attempt >= 1) return Unavailable("store_unavailable", e.what());
      } catch (const std::exception& e) {
        return Unavailable("store_error", e.what());
      }
    }
  }
  void WriterLoop(Writer& w);
  void RunBatch(Writer& w, std::vector<PendingUnit>& batch);

  const std::string url_;
  std::mutex read_mu_;  // guards reader_
  std::unique_ptr<pqxx::connection> reader_;
  StoreOptions opts_;
  std::vector<std::unique_ptr<Writer>> writers_;  // fixed after construction
  SystemAccountCache system_accounts_;
  std::atomic<size_t> next_writer_{0};
};

void PgLedgerStore::WriterLoop(Writer& w) {
  for (;;) {
    auto batch = w.queue.PopBatch(static_cast<size_t>(std::max(1, opts_.max_batch)));
    if (batch.empty()) return;
    RunBatch(w, batch);
  }
}

void PgLedgerStore::RunBatch(Writer& w, std::vector<PendingUnit>& batch) {
  std::vector<Status> results(batch.size());
  std::vector<bool> retry(batch.size(), false);
  Status batch_error;
  try {
    if (!w.conn || !w.conn->is_open()) {
      auto c = Connect(url_);
      if (!c.ok()) throw pqxx::broken_connection(std::string(c.status().message()));
      w.conn = std::move(*c);
    }
    pqxx::work work(*w.conn);
    std::map<std::string, int64_t> deferred;
    for (size_t i = 0; i < batch.size(); ++i) {
      // Savepoints by hand: libpqxx 6.4's subtransaction does not roll back after a failed
      // exec_prepared (the outer transaction stays aborted), so we issue them ourselves.
      work.exec("SAVEPOINT unit");
      bool failed_statement = false;
      try {
        PgLedgerTxn txn(work, &system_accounts_);
        Status s;
        try {
          s = batch[i].unit(txn);
        } catch (const pqxx::sql_error&) {
          throw;
        } catch (const std::exception& e) {
          s = Internal("unit_exception", e.what());
        }
        if (s.ok()) {
          for (const auto& [acct, delta] : txn.deferred()) deferred[acct] += delta;
        }
        results[i] = s;
      } catch (const pqxx::sql_error& e) {
        failed_statement = true;
        if (Retryable(e.sqlstate())) {
          retry[i] = true;
        } else {
          results[i] = Unavailable("store_error", e.what());
        }
      }
      // No RELEASE: a new SAVEPOINT of the same name stacks on the old one and ROLLBACK TO
      // always targets the newest, so one round trip per unit is saved.
      if (failed_statement || !results[i].ok()) work.exec("ROLLBACK TO SAVEPOINT unit");
    }
    for (const auto& [acct, delta] : deferred) work.exec_prepared("add_balance", delta, acct);
    work.commit();
  } catch (const std::exception& e) {
    // Nothing of this batch is known to be committed (in-doubt commits included): run every
    // unit again. Units are idempotent through their keys, so a replay cannot double-charge.
    batch_error = Unavailable("store_unavailable", e.what());
    if (w.conn && !w.conn->is_open()) w.conn.reset();
    for (size_t i = 0; i < batch.size(); ++i) retry[i] = true;
  }
  std::vector<PendingUnit> again;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!retry[i]) {
      batch[i].done.set_value(results[i]);
    } else if (++batch[i].attempts >= (batch_error.ok() ? kMaxAttempts : 5)) {
      batch[i].done.set_value(batch_error.ok()
                                  ? Unavailable("store_contention", "gave up after lock conflicts")
                                  : batch_error);
    } else {
      again.push_back(std::move(batch[i]));
    }
  }
  if (!again.empty()) {
    // Give the other session time to commit and release its locks.
    std::this_thread::sleep_for(std::chrono::milliseconds(batch_error.ok() ? 1 : 200));
    w.queue.Requeue(again);
  }
}

StatusOr<IntegrityReport> PgLedgerStore::CheckIntegrity() {
  namespace q = integrity_sql;
  return Read<IntegrityReport>([](pqxx::transaction_base& t) -> StatusOr<IntegrityReport> {
    IntegrityReport rep;
    rep.accounts = t.exec1(q::kCountAccounts)[0].as<int64_t>();
    rep.transactions = t.exec1(q::kCountTransactions)[0].as<int64_t>();
    rep.entries = t.exec1(q::kCountEntries)[0].as<int64_t>();
    for (const auto& r : t.exec(q::kUnbalanced)) rep.unbalanced_txns.push_back(r[0].as<int64_t>());
    for (const auto& r : t.exec(q::kMismatched)) rep.mismatched_accounts.push_back(r[0].c_str());
    for (const auto& r : t.exec(q::kBelowFloor)) rep.below_floor_accounts.push_back(r[0].c_str());
    for (const auto& r : t.exec(q::kOverRefunded))
      rep.over_refunded_txns.push_back(r[0].as<int64_t>());
    for (const auto& r : t.exec(q::kDuplicateKeys)) rep.duplicate_keys.push_back(r[0].c_str());
    return rep;
  });
}

}  // namespace

StatusOr<std::unique_ptr<payments::LedgerStore>> OpenPgLedgerStore(const std::string& url,
                                                                   StoreOptions opts) {
  FACEPAY_ASSIGN_OR_RETURN(auto reader, Connect(url));
  FACEPAY_RETURN_IF_ERROR(MigratePg(*reader));
  std::vector<std::unique_ptr<pqxx::connection>> writers;
  for (int i = 0; i < std::max(1, opts.pg_writers); ++i) {
    FACEPAY_ASSIGN_OR_RETURN(auto c, Connect(url));
    writers.push_back(std::move(c));
  }
  return std::unique_ptr<payments::LedgerStore>(
      new PgLedgerStore(url, std::move(writers), std::move(reader), opts));
}

}  // namespace facepay::storage
