#include "sqlite_schema.h"

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
  balance_minor INTEGER NOT NULL DEFAULT 0, floor_minor INTEGER,
  daily_limit_minor INTEGER NOT NULL DEFAULT 0, concession TEXT NOT NULL DEFAULT '',
  card_token TEXT NOT NULL DEFAULT '', card_last4 TEXT NOT NULL DEFAULT '',
  card_brand TEXT NOT NULL DEFAULT '', auto_topup_minor INTEGER NOT NULL DEFAULT 0,
  auto_topup_threshold_minor INTEGER NOT NULL DEFAULT 0, created_at_ms INTEGER NOT NULL);
CREATE TABLE transactions(
  id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, idem_key TEXT, ref_txn_id INTEGER,
  account_id TEXT NOT NULL, counterparty_id TEXT NOT NULL, amount_minor INTEGER NOT NULL,
  currency TEXT NOT NULL, memo TEXT NOT NULL DEFAULT '', created_at_ms INTEGER NOT NULL);
CREATE UNIQUE INDEX transactions_idem ON transactions(idem_key) WHERE idem_key IS NOT NULL;
CREATE INDEX transactions_ref ON transactions(ref_txn_id) WHERE ref_txn_id IS NOT NULL;
CREATE INDEX transactions_account ON transactions(account_id, id);
CREATE TABLE entries(
  txn_id INTEGER NOT NULL REFERENCES transactions(id),
  account_id TEXT NOT NULL REFERENCES accounts(id), amount_minor INTEGER NOT NULL);
CREATE INDEX entries_txn ON entries(txn_id);
CREATE TABLE idempotency(
  key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, result TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL);
CREATE TABLE counters(
  account_id TEXT NOT NULL, name TEXT NOT NULL, day INTEGER NOT NULL,
  amount_minor INTEGER NOT NULL, PRIMARY KEY(account_id, name, day));
CREATE TABLE fare_state(
  account_id TEXT NOT NULL, operator TEXT NOT NULL, state TEXT NOT NULL,
  PRIMARY KEY(account_id, operator));
CREATE TABLE border_crossings(
  id INTEGER PRIMARY KEY AUTOINCREMENT, doc_hash TEXT NOT NULL, gate_id TEXT NOT NULL,
  at_ms INTEGER NOT NULL, decision TEXT NOT NULL);
)sql",
  };
  return kMigrations;
}

}  // namespace

Status MigrateSqlite(SqliteDb& db) {
  return ApplyMigrations(db, "schema_version", Migrations(), "ledger file");
}

}  // namespace facepay::storage
