#include "pg_schema.h"

#include <string>
#include <vector>

namespace facepay::storage {
namespace {

// Index i holds the migration from version i to i+1. Never edit a released entry; append.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      R"sql(
CREATE TABLE accounts(
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, currency TEXT NOT NULL,
  balance_minor BIGINT NOT NULL DEFAULT 0, floor_minor BIGINT,
  daily_limit_minor BIGINT NOT NULL DEFAULT 0, concession TEXT NOT NULL DEFAULT '',
  card_token TEXT NOT NULL DEFAULT '', card_last4 TEXT NOT NULL DEFAULT '',
  card_brand TEXT NOT NULL DEFAULT '', auto_topup_minor BIGINT NOT NULL DEFAULT 0,
  auto_topup_threshold_minor BIGINT NOT NULL DEFAULT 0, created_at_ms BIGINT NOT NULL);
CREATE TABLE transactions(
  id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, idem_key TEXT, ref_txn_id BIGINT,
  account_id TEXT NOT NULL, counterparty_id TEXT NOT NULL, amount_minor BIGINT NOT NULL,
  currency TEXT NOT NULL, memo TEXT NOT NULL DEFAULT '', created_at_ms BIGINT NOT NULL);
CREATE UNIQUE INDEX transactions_idem ON transactions(idem_key) WHERE idem_key IS NOT NULL;
CREATE INDEX transactions_ref ON transactions(ref_txn_id) WHERE ref_txn_id IS NOT NULL;
CREATE INDEX transactions_account ON transactions(account_id, id);
CREATE TABLE entries(
  txn_id BIGINT NOT NULL REFERENCES transactions(id),
  account_id TEXT NOT NULL REFERENCES accounts(id), amount_minor BIGINT NOT NULL);
CREATE INDEX entries_txn ON entries(txn_id);
CREATE TABLE idempotency(
  key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, result TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL);
CREATE TABLE counters(
  account_id TEXT NOT NULL, name TEXT NOT NULL, day BIGINT NOT NULL,
  amount_minor BIGINT NOT NULL, PRIMARY KEY(account_id, name, day));
CREATE TABLE fare_state(
  account_id TEXT NOT NULL, operator TEXT NOT NULL, state TEXT NOT NULL,
  PRIMARY KEY(account_id, operator));
CREATE TABLE border_crossings(
  id BIGSERIAL PRIMARY KEY, doc_hash TEXT NOT NULL, gate_id TEXT NOT NULL,
  at_ms BIGINT NOT NULL, decision TEXT NOT NULL);
)sql",
  };
  return kMigrations;
}

}  // namespace

Status MigratePg(pqxx::connection& conn) {
  try {
    pqxx::work w(conn);
    w.exec("SELECT pg_advisory_xact_lock(7468201)");  // one migrator at a time
    w.exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)");
    int64_t version =
        w.exec1("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0].as<int64_t>();
    const auto& migrations = Migrations();
    if (version > static_cast<int64_t>(migrations.size())) {
      return FailedPrecondition("schema_too_new", "database schema version " +
                                                      std::to_string(version) +
                                                      " is newer than this build supports");
    }
    for (size_t v = static_cast<size_t>(version); v < migrations.size(); ++v) {
      w.exec(migrations[v]);
      w.exec("INSERT INTO schema_version(version) VALUES(" + std::to_string(v + 1) + ")");
    }
    w.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Unavailable("store_error", std::string("PostgreSQL migration failed: ") + e.what());
  }
}

void PreparePgStatements(pqxx::connection& c) {
  c.prepare("get_idem",
            "SELECT fingerprint, result, created_at_ms FROM idempotency WHERE key = $1");
  c.prepare("put_idem",
            "INSERT INTO idempotency(key, fingerprint, result, created_at_ms) VALUES($1,$2,$3,$4)");
  const std::string cols =
      "id, kind, currency, balance_minor, floor_minor, daily_limit_minor, concession, "
      "card_token, card_last4, card_brand, auto_topup_minor, auto_topup_threshold_minor, "
      "created_at_ms";
  c.prepare("lock_account", "SELECT " + cols + " FROM accounts WHERE id = $1 FOR UPDATE NOWAIT");
  c.prepare("read_account", "SELECT " + cols + " FROM accounts WHERE id = $1");
  c.prepare("insert_account",
            "INSERT INTO accounts(id, kind, currency, balance_minor, floor_minor, "
            "daily_limit_minor, concession, card_token, card_last4, card_brand, "
            "auto_topup_minor, auto_topup_threshold_minor, created_at_ms) VALUES($1,$2,$3,0,"
            "CASE WHEN $4::boolean THEN $5::bigint END,$6,$7,$8,$9,$10,$11,$12,$13)");
  c.prepare("update_settings",
            "UPDATE accounts SET floor_minor = CASE WHEN $1::boolean THEN $2::bigint END, "
            "daily_limit_minor = $3, concession = $4, auto_topup_minor = $5, "
            "auto_topup_threshold_minor = $6 WHERE id = $7");
  c.prepare("insert_txn",
            "INSERT INTO transactions(kind, idem_key, ref_txn_id, account_id, counterparty_id, "
            "amount_minor, currency, memo, created_at_ms) VALUES($1, NULLIF($2, ''), "
            "NULLIF($3::bigint, 0), $4, $5, $6, $7, $8, $9) RETURNING id");
  c.prepare("insert_txn2",
            "WITH t AS (INSERT INTO transactions(kind, idem_key, ref_txn_id, account_id, "
            "counterparty_id, amount_minor, currency, memo, created_at_ms) VALUES($1, "
            "NULLIF($2, ''), NULLIF($3::bigint, 0), $4, $5, $6, $7, $8, $9) RETURNING id), "
            "e AS (INSERT INTO entries(txn_id, account_id, amount_minor) "
            "SELECT t.id, v.a, v.m FROM t, (VALUES ($10::text, $11::bigint, 1), "
            "($12::text, $13::bigint, 2)) AS v(a, m, o) ORDER BY v.o) SELECT id FROM t");
  c.prepare("insert_entry",
            "INSERT INTO entries(txn_id, account_id, amount_minor) VALUES($1,$2,$3)");
  c.prepare("add_balance", "UPDATE accounts SET balance_minor = balance_minor + $1 WHERE id = $2");
  c.prepare("get_txn",
            "SELECT id, kind, COALESCE(idem_key, ''), COALESCE(ref_txn_id, 0), account_id, "
            "counterparty_id, amount_minor, currency, memo, created_at_ms FROM transactions "
            "WHERE id = $1");
  c.prepare("get_entries",
            "SELECT account_id, amount_minor FROM entries WHERE txn_id = $1 "
            "ORDER BY ctid");
  c.prepare("sum_refunds",
            "SELECT COALESCE(SUM(amount_minor), 0) FROM transactions WHERE "
            "ref_txn_id = $1 AND kind = 'refund'");
  c.prepare("get_counter",
            "SELECT amount_minor FROM counters WHERE account_id = $1 AND "
            "name = $2 AND day = $3");
  c.prepare("add_counter",
            "INSERT INTO counters(account_id, name, day, amount_minor) VALUES($1,$2,$3,$4) "
            "ON CONFLICT(account_id, name, day) DO UPDATE SET amount_minor = "
            "counters.amount_minor + excluded.amount_minor");
  c.prepare("get_fare", "SELECT state FROM fare_state WHERE account_id = $1 AND operator = $2");
  c.prepare("put_fare",
            "INSERT INTO fare_state(account_id, operator, state) VALUES($1,$2,$3) "
            "ON CONFLICT(account_id, operator) DO UPDATE SET state = excluded.state");
  c.prepare("insert_border",
            "INSERT INTO border_crossings(doc_hash, gate_id, at_ms, decision) "
            "VALUES($1,$2,$3,$4) RETURNING id");
}

}  // namespace facepay::storage
