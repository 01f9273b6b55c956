#include "sqlite_service_schema.h"

#include <string>
#include <vector>

#include "service_store_common.h"

namespace facepay::storage {
namespace {

// Index i holds the migration from version i to i+1. Never edit a released entry; append
// (and bump kServiceSchemaVersion, which both backends share).
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      R"sql(
CREATE TABLE api_keys(
  key_id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, role TEXT NOT NULL,
  bindings_json TEXT NOT NULL DEFAULT '[]', label TEXT NOT NULL DEFAULT '',
  rate_per_s REAL NOT NULL DEFAULT 0, created_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER NOT NULL DEFAULT 0);
CREATE TABLE audit_log(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL,
  detail_json TEXT NOT NULL);
CREATE INDEX audit_log_action ON audit_log(action, seq);
CREATE INDEX audit_log_target ON audit_log(target, seq);
CREATE TABLE subject_links(
  subject_id TEXT PRIMARY KEY, account_id TEXT NOT NULL UNIQUE);
CREATE TABLE service_requests(
  scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
  status_code INTEGER NOT NULL, response_json TEXT NOT NULL, at_ms INTEGER NOT NULL,
  PRIMARY KEY(scope, key));
CREATE TABLE challenges(
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, terminal TEXT NOT NULL,
  payload_json TEXT NOT NULL, expires_at_ms INTEGER NOT NULL,
  attempts_left INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);
)sql",
      R"sql(
CREATE TABLE factor_budgets(
  scope TEXT PRIMARY KEY, failures INTEGER NOT NULL, lockouts INTEGER NOT NULL,
  locked_until_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL);
)sql",
      R"sql(
CREATE TABLE atm_cards(
  card_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, account_id TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL, revoked_at_ms INTEGER NOT NULL DEFAULT 0);
)sql",
      R"sql(
CREATE TABLE camera_states(
  camera TEXT PRIMARY KEY, state_json TEXT NOT NULL, updated_at_ms INTEGER NOT NULL);
)sql",
  };
  return kMigrations;
}

}  // namespace

Status MigrateSqliteService(SqliteDb& db) {
  return ApplyMigrations(db, "service_schema_version", Migrations(), "service");
}

}  // namespace facepay::storage
