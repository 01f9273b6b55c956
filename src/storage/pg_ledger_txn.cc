#include "pg_ledger_txn.h"

namespace facepay::storage {

using payments::Account;
using payments::TxnRecord;

StatusOr<Account> PgAccountFromRow(const pqxx::row& r) {
  Account a;
  a.id = r[0].c_str();
  FACEPAY_ASSIGN_OR_RETURN(a.kind, payments::ParseAccountKind(r[1].c_str()));
  a.currency = r[2].c_str();
  a.balance_minor = r[3].as<int64_t>();
  if (!r[4].is_null()) a.floor_minor = r[4].as<int64_t>();
  a.daily_limit_minor = r[5].as<int64_t>();
  a.concession = r[6].c_str();
  a.card_token = r[7].c_str();
  a.card_last4 = r[8].c_str();
  a.card_brand = r[9].c_str();
  a.auto_topup_minor = r[10].as<int64_t>();
  a.auto_topup_threshold_minor = r[11].as<int64_t>();
  a.created_at_ms = r[12].as<int64_t>();
  return a;
}

StatusOr<TxnRecord> PgReadTransaction(pqxx::transaction_base& t, int64_t id) {
  pqxx::result r = t.exec_prepared("get_txn", id);
  if (r.empty()) return NotFound("transaction_not_found", "no transaction " + std::to_string(id));
  TxnRecord x;
  x.id = r[0][0].as<int64_t>();
  FACEPAY_ASSIGN_OR_RETURN(x.kind, payments::ParseTxnKind(r[0][1].c_str()));
  x.idempotency_key = r[0][2].c_str();
  x.ref_txn_id = r[0][3].as<int64_t>();
  x.account_id = r[0][4].c_str();
  x.counterparty_id = r[0][5].c_str();
  x.amount_minor = r[0][6].as<int64_t>();
  x.currency = r[0][7].c_str();
  x.memo = r[0][8].c_str();
  x.created_at_ms = r[0][9].as<int64_t>();
  for (const auto& row : t.exec_prepared("get_entries", id)) {
    x.entries.push_back({row[0].c_str(), row[1].as<int64_t>()});
  }
  return x;
}

StatusOr<std::optional<payments::IdempotencyRecord>> PgLedgerTxn::GetIdempotency(
    const std::string& key) {
  pqxx::result r = t_.exec_prepared("get_idem", key);
  if (r.empty()) return std::optional<payments::IdempotencyRecord>();
  return std::optional<payments::IdempotencyRecord>(
      payments::IdempotencyRecord{key, r[0][0].c_str(), r[0][1].c_str(), r[0][2].as<int64_t>()});
}

Status PgLedgerTxn::PutIdempotency(const payments::IdempotencyRecord& rec) {
  // A unique violation here means another session committed the same key first: it
  // propagates and the unit is retried, then replays that session's result.
  t_.exec_prepared("put_idem", rec.key, rec.fingerprint, rec.result_json, rec.created_at_ms);
  return Status::Ok();
}

StatusOr<Account> PgLedgerTxn::LockAccount(const std::string& id) {
  // NOWAIT: a lock held by another session raises lock_not_available; the writer re-queues
  // the unit rather than waiting inside a batch (which could deadlock with another batch).
  pqxx::result r = t_.exec_prepared("lock_account", id);
  if (r.empty()) return NotFound("account_not_found", "no account '" + id + "'");
  locked_.insert(id);
  return PgAccountFromRow(r[0]);
}

StatusOr<Account> PgLedgerTxn::ReadAccount(const std::string& id) {
  if (cache_ != nullptr) {
    if (auto a = cache_->Get(id)) return *a;
  }
  pqxx::result r = t_.exec_prepared("read_account", id);
  if (r.empty()) return NotFound("account_not_found", "no account '" + id + "'");
  FACEPAY_ASSIGN_OR_RETURN(Account a, PgAccountFromRow(r[0]));
  if (cache_ != nullptr && !payments::IsCustomer(a.kind)) cache_->Put(a);
  return a;
}

Status PgLedgerTxn::InsertAccount(const Account& a) {
  try {
    t_.exec_prepared("insert_account", a.id, std::string(payments::AccountKindName(a.kind)),
                     a.currency, a.floor_minor.has_value(), a.floor_minor.value_or(0),
                     a.daily_limit_minor, a.concession, a.card_token, a.card_last4, a.card_brand,
                     a.auto_topup_minor, a.auto_topup_threshold_minor, a.created_at_ms);
  } catch (const pqxx::unique_violation&) {
    return AlreadyExists("account_exists", "account '" + a.id + "' already exists");
  }
  return Status::Ok();
}

Status PgLedgerTxn::UpdateAccountSettings(const Account& a) {
  t_.exec_prepared("update_settings", a.floor_minor.has_value(), a.floor_minor.value_or(0),
                   a.daily_limit_minor, a.concession, a.auto_topup_minor,
                   a.auto_topup_threshold_minor, a.id);
  return Status::Ok();
}

StatusOr<int64_t> PgLedgerTxn::PostTransaction(const TxnRecord& x) {
  int64_t sum = 0;
  for (const auto& e : x.entries) sum += e.amount_minor;
  if (sum != 0 || x.entries.size() < 2) {
    return Internal("unbalanced_transaction", "entries of a transaction must sum to zero");
  }
  int64_t id = 0;
  if (x.entries.size() == 2) {  // the usual case: transaction and both entries in one round trip
    pqxx::result r = t_.exec_prepared(
        "insert_txn2", std::string(payments::TxnKindName(x.kind)), x.idempotency_key, x.ref_txn_id,
        x.account_id, x.counterparty_id, x.amount_minor, x.currency, x.memo, x.created_at_ms,
        x.entries[0].account_id, x.entries[0].amount_minor, x.entries[1].account_id,
        x.entries[1].amount_minor);
    id = r[0][0].as<int64_t>();
  } else {
    pqxx::result r = t_.exec_prepared(
        "insert_txn", std::string(payments::TxnKindName(x.kind)), x.idempotency_key, x.ref_txn_id,
        x.account_id, x.counterparty_id, x.amount_minor, x.currency, x.memo, x.created_at_ms);
    id = r[0][0].as<int64_t>();
    for (const auto& e : x.entries)
      t_.exec_prepared("insert_entry", id, e.account_id, e.amount_minor);
  }
  for (const auto& e : x.entries) {
    if (locked_.count(e.account_id)) {
      t_.exec_prepared("add_balance", e.amount_minor, e.account_id);
    } else {
      deferred_[e.account_id] += e.amount_minor;
    }
  }
  return id;
}

StatusOr<TxnRecord> PgLedgerTxn::GetTransaction(int64_t id) { return PgReadTransaction(t_, id); }

StatusOr<int64_t> PgLedgerTxn::SumRefunds(int64_t original_txn_id) {
  return t_.exec_prepared("sum_refunds", original_txn_id)[0][0].as<int64_t>();
}

StatusOr<int64_t> PgLedgerTxn::GetCounter(const std::string& account_id, const std::string& name,
                                          int64_t day) {
  pqxx::result r = t_.exec_prepared("get_counter", account_id, name, day);
  return r.empty() ? int64_t{0} : r[0][0].as<int64_t>();
}

Status PgLedgerTxn::AddCounter(const std::string& account_id, const std::string& name, int64_t day,
                               int64_t delta) {
  t_.exec_prepared("add_counter", account_id, name, day, delta);
  return Status::Ok();
}

StatusOr<std::string> PgLedgerTxn::GetFareState(const std::string& account_id,
                                                const std::string& op) {
  pqxx::result r = t_.exec_prepared("get_fare", account_id, op);
  return r.empty() ? std::string() : std::string(r[0][0].c_str());
}

Status PgLedgerTxn::PutFareState(const std::string& account_id, const std::string& op,
                                 const std::string& state) {
  t_.exec_prepared("put_fare", account_id, op, state);
  return Status::Ok();
}

StatusOr<int64_t> PgLedgerTxn::InsertBorderCrossing(const payments::BorderCrossing& c) {
  return t_.exec_prepared("insert_border", c.doc_hash, c.gate_id, c.at_ms, c.decision)[0][0]
      .as<int64_t>();
}

}  // namespace facepay::storage
