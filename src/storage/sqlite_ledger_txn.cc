#include "sqlite_ledger_txn.h"

namespace facepay::storage {

using payments::Account;
using payments::TxnRecord;

namespace {
const char kAccountCols[] =
    "id, kind, currency, balance_minor, floor_minor, daily_limit_minor, concession, card_token, "
    "card_last4, card_brand, auto_topup_minor, auto_topup_threshold_minor, created_at_ms";
const char kTxnCols[] =
    "id, kind, COALESCE(idem_key, ''), COALESCE(ref_txn_id, 0), account_id, counterparty_id, "
    "amount_minor, currency, memo, created_at_ms";
}  // namespace

StatusOr<Account> SqliteReadAccount(SqliteDb& db, const std::string& id) {
  FACEPAY_ASSIGN_OR_RETURN(
      auto st, db.Prepare(std::string("SELECT ") + kAccountCols + " FROM accounts WHERE id = ?"));
  st.Bind(1, id);
  FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return NotFound("account_not_found", "no account '" + id + "'");
  Account a;
  a.id = st.Text(0);
  FACEPAY_ASSIGN_OR_RETURN(a.kind, payments::ParseAccountKind(st.Text(1)));
  a.currency = st.Text(2);
  a.balance_minor = st.Int(3);
  if (!st.IsNull(4)) a.floor_minor = st.Int(4);
  a.daily_limit_minor = st.Int(5);
  a.concession = st.Text(6);
  a.card_token = st.Text(7);
  a.card_last4 = st.Text(8);
  a.card_brand = st.Text(9);
  a.auto_topup_minor = st.Int(10);
  a.auto_topup_threshold_minor = st.Int(11);
  a.created_at_ms = st.Int(12);
  st.Reset();
  return a;
}

StatusOr<TxnRecord> SqliteReadTransaction(SqliteDb& db, int64_t id) {
  FACEPAY_ASSIGN_OR_RETURN(
      auto st, db.Prepare(std::string("SELECT ") + kTxnCols + " FROM transactions WHERE id = ?"));
  st.Bind(1, id);
  FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return NotFound("transaction_not_found", "no transaction " + std::to_string(id));
  TxnRecord t;
  t.id = st.Int(0);
  FACEPAY_ASSIGN_OR_RETURN(t.kind, payments::ParseTxnKind(st.Text(1)));
  t.idempotency_key = st.Text(2);
  t.ref_txn_id = st.Int(3);
  t.account_id = st.Text(4);
  t.counterparty_id = st.Text(5);
  t.amount_minor = st.Int(6);
  t.currency = st.Text(7);
  t.memo = st.Text(8);
  t.created_at_ms = st.Int(9);
  st.Reset();
  FACEPAY_ASSIGN_OR_RETURN(auto es, db.Prepare("SELECT account_id, amount_minor FROM entries "
                                               "WHERE txn_id = ? ORDER BY rowid"));
  es.Bind(1, id);
  for (;;) {
    FACEPAY_ASSIGN_OR_RETURN(bool more, es.Step());
    if (!more) break;
    t.entries.push_back({es.Text(0), es.Int(1)});
  }
  return t;
}

StatusOr<std::optional<payments::IdempotencyRecord>> SqliteLedgerTxn::GetIdempotency(
    const std::string& key) {
  FACEPAY_ASSIGN_OR_RETURN(auto st, db_.Prepare("SELECT fingerprint, result, created_at_ms "
                                                "FROM idempotency WHERE key = ?"));
  st.Bind(1, key);
  FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<payments::IdempotencyRecord>();
  payments::IdempotencyRecord r{key, st.Text(0), st.Text(1), st.Int(2)};
  st.Reset();
  return std::optional<payments::IdempotencyRecord>(std::move(r));
}

Status SqliteLedgerTxn::PutIdempotency(const payments::IdempotencyRecord& rec) {
  FACEPAY_ASSIGN_OR_RETURN(auto st, db_.Prepare("INSERT INTO idempotency(key, fingerprint, "
                                                "result, created_at_ms) VALUES(?, ?, ?, ?)"));
  return st.Bind(1, rec.key)
      .Bind(2, rec.fingerprint)
      .Bind(3, rec.result_json)
      .Bind(4, rec.created_at_ms)
      .Run();
}

StatusOr<Account> SqliteLedgerTxn::LockAccount(const std::string& id) {
  // The single writer thread holds the file's write lock: reading is locking.
  FACEPAY_ASSIGN_OR_RETURN(Account a, SqliteReadAccount(db_, id));
  locked_.insert(id);
  return a;
}

StatusOr<Account> SqliteLedgerTxn::ReadAccount(const std::string& id) {
  return SqliteReadAccount(db_, id);
}

Status SqliteLedgerTxn::InsertAccount(const Account& a) {
  FACEPAY_ASSIGN_OR_RETURN(
      auto st,
      db_.Prepare(
          "INSERT INTO accounts(id, kind, currency, balance_minor, floor_minor, daily_limit_minor, "
          "concession, card_token, card_last4, card_brand, auto_topup_minor, "
          "auto_topup_threshold_minor, created_at_ms) VALUES(?,?,?,0,?,?,?,?,?,?,?,?,?)"));
  st.Bind(1, a.id)
      .Bind(2, payments::AccountKindName(a.kind))
      .Bind(3, a.currency)
      .BindOpt(4, a.floor_minor)
      .Bind(5, a.daily_limit_minor)
      .Bind(6, a.concession)
      .Bind(7, a.card_token)
      .Bind(8, a.card_last4)
      .Bind(9, a.card_brand)
      .Bind(10, a.auto_topup_minor)
      .Bind(11, a.auto_topup_threshold_minor)
      .Bind(12, a.created_at_ms);
  Status s = st.Run();
  if (s.code() == StatusCode::kAlreadyExists) {
    return AlreadyExists("account_exists", "account '" + a.id + "' already exists");
  }
  return s;
}

Status SqliteLedgerTxn::UpdateAccountSettings(const Account& a) {
  FACEPAY_ASSIGN_OR_RETURN(
      auto st,
      db_.Prepare("UPDATE accounts SET floor_minor = ?, daily_limit_minor = ?, concession = ?, "
                  "auto_topup_minor = ?, auto_topup_threshold_minor = ? WHERE id = ?"));
  st.BindOpt(1, a.floor_minor)
      .Bind(2, a.daily_limit_minor)
      .Bind(3, a.concession)
      .Bind(4, a.auto_topup_minor)
      .Bind(5, a.auto_topup_threshold_minor)
      .Bind(6, a.id);
  return st.Run();
}

StatusOr<int64_t> SqliteLedgerTxn::PostTransaction(const TxnRecord& t) {
  int64_t sum = 0;
  for (const auto& e : t.entries) sum += e.amount_minor;
  if (sum != 0 || t.entries.size() < 2) {
    return Internal("unbalanced_transaction", "entries of a transaction must sum to zero");
  }
  FACEPAY_ASSIGN_OR_RETURN(
      auto st,
      db_.Prepare(
          "INSERT INTO transactions(kind, idem_key, ref_txn_id, account_id, counterparty_id, "
          "amount_minor, currency, memo, created_at_ms) VALUES(?,?,?,?,?,?,?,?,?)"));
  st.Bind(1, payments::TxnKindName(t.kind));
  if (t.idempotency_key.empty())
    st.BindNull(2);
  else
    st.Bind(2, t.idempotency_key);
  if (t.ref_txn_id == 0)
    st.BindNull(3);
  else
    st.Bind(3, t.ref_txn_id);
  st.Bind(4, t.account_id)
      .Bind(5, t.counterparty_id)
      .Bind(6, t.amount_minor)
      .Bind(7, t.currency)
      .Bind(8, t.memo)
      .Bind(9, t.created_at_ms);
  Status s = st.Run();
  if (s.code() == StatusCode::kAlreadyExists) {
    return AlreadyExists("idempotency_key_reused",
                         "a transaction already has key " + t.idempotency_key);
  }
  FACEPAY_RETURN_IF_ERROR(s);
  int64_t id = db_.LastInsertId();
  for (const auto& e : t.entries) {
    FACEPAY_ASSIGN_OR_RETURN(
        auto es,
        db_.Prepare("INSERT INTO entries(txn_id, account_id, amount_minor) VALUES(?,?,?)"));
    FACEPAY_RETURN_IF_ERROR(es.Bind(1, id).Bind(2, e.account_id).Bind(3, e.amount_minor).Run());
    if (locked_.count(e.account_id)) {
      FACEPAY_ASSIGN_OR_RETURN(
          auto us,
          db_.Prepare("UPDATE accounts SET balance_minor = balance_minor + ? WHERE id = ?"));
      FACEPAY_RETURN_IF_ERROR(us.Bind(1, e.amount_minor).Bind(2, e.account_id).Run());
    } else {
      deferred_[e.account_id] += e.amount_minor;
    }
  }
  return id;
}

StatusOr<TxnRecord> SqliteLedgerTxn::GetTransaction(int64_t id) {
  return SqliteReadTransaction(db_, id);
}

StatusOr<int64_t> SqliteLedgerTxn::SumRefunds(int64_t original_txn_id) {
  FACEPAY_ASSIGN_OR_RETURN(
      auto st,
      db_.Prepare("SELECT COALESCE(SUM(amount_minor), 0) FROM transactions WHERE ref_txn_id = ? "
                  "AND kind = 'refund'"));
  st.Bind(1, original_txn_id);
  FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
  int64_t v = row ? st.Int(0) : 0;
  st.Reset();
  return v;
}

StatusOr<int64_t> SqliteLedgerTxn::GetCounter(const std::string& account_id,
                                              const std::string& name, int64_t day) {
  FACEPAY_ASSIGN_OR_RETURN(
      auto st,
      db_.Prepare(
          "SELECT amount_minor FROM counters WHERE account_id = ? AND name = ? AND day = ?"));
  st.Bind(1, account_id).Bind(2, name).Bind(3, day);
  FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
  int64_t v = row ? st.Int(0) : 0;
  st.Reset();
  return v;
}

Status SqliteLedgerTxn::AddCounter(const std::string& account_id, const std::string& name,
                                   int64_t day, int64_t delta) {
  FACEPAY_ASSIGN_OR_RETURN(
      auto st,
      db_.Prepare("INSERT INTO counters(account_id, name, day, amount_minor) VALUES(?,?,?,?) "
                  "ON CONFLICT(account_id, name, day) DO UPDATE SET amount_minor = amount_minor + "
                  "excluded.amount_minor"));
  return st.Bind(1, account_id).Bind(2, name).Bind(3, day).Bind(4, delta).Run();
}

StatusOr<std::string> SqliteLedgerTxn::GetFareState(const std::string& account_id,
                                                    const std::string& op) {
  FACEPAY_ASSIGN_OR_RETURN(
      auto st, db_.Prepare("SELECT state FROM fare_state WHERE account_id = ? AND operator = ?"));
  st.Bind(1, account_id).Bind(2, op);
  FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
  std::string v = row ? st.Text(0) : std::string();
  st.Reset();
  return v;
}

Status SqliteLedgerTxn::PutFareState(const std::string& account_id, const std::string& op,
                                     const std::string& state) {
  FACEPAY_ASSIGN_OR_RETURN(
      auto st,
      db_.Prepare("INSERT INTO fare_state(account_id, operator, state) VALUES(?,?,?) "
                  "ON CONFLICT(account_id, operator) DO UPDATE SET state = excluded.state"));
  return st.Bind(1, account_id).Bind(2, op).Bind(3, state).Run();
}

StatusOr<int64_t> SqliteLedgerTxn::InsertBorderCrossing(const payments::BorderCrossing& c) {
  FACEPAY_ASSIGN_OR_RETURN(
      auto st,
      db_.Prepare(
          "INSERT INTO border_crossings(doc_hash, gate_id, at_ms, decision) VALUES(?,?,?,?)"));
  FACEPAY_RETURN_IF_ERROR(
      st.Bind(1, c.doc_hash).Bind(2, c.gate_id).Bind(3, c.at_ms).Bind(4, c.decision).Run());
  return db_.LastInsertId();
}

}  // namespace facepay::storage
