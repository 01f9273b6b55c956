#include "pg_service_schema.h"

#include <string>
#include <vector>

namespace facepay::storage {
namespace {

// Index i holds the migration from version i to i+1. Never edit a released entry; append
// (and bump kServiceSchemaVersion, which both backends share).
//
// audit_log.seq is a BIGSERIAL, visible out of order without kAuditAppendLockKey (see there).
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      R"sql(
CREATE TABLE api_keys(
  key_id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, role TEXT NOT NULL,
  bindings_json TEXT NOT NULL DEFAULT '[]', label TEXT NOT NULL DEFAULT '',
  rate_per_s DOUBLE PRECISION NOT NULL DEFAULT 0, created_at_ms BIGINT NOT NULL,
  revoked_at_ms BIGINT NOT NULL DEFAULT 0);
CREATE TABLE audit_log(
  seq BIGSERIAL PRIMARY KEY, at_ms BIGINT NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL,
  detail_json TEXT NOT NULL);
CREATE INDEX audit_log_action ON audit_log(action, seq);
CREATE INDEX audit_log_target ON audit_log(target, seq);
CREATE TABLE subject_links(
  subject_id TEXT PRIMARY KEY, account_id TEXT NOT NULL UNIQUE);
CREATE TABLE service_requests(
  scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
  status_code INTEGER NOT NULL, response_json TEXT NOT NULL, at_ms BIGINT NOT NULL,
  PRIMARY KEY(scope, key));
CREATE TABLE challenges(
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, terminal TEXT NOT NULL,
  payload_json TEXT NOT NULL, expires_at_ms BIGINT NOT NULL,
  attempts_left INTEGER NOT NULL, used BOOLEAN NOT NULL DEFAULT FALSE);
)sql",
      R"sql(
CREATE TABLE factor_budgets(
  scope TEXT PRIMARY KEY, failures INTEGER NOT NULL, lockouts INTEGER NOT NULL,
  locked_until_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL);
)sql",
      R"sql(
CREATE TABLE atm_cards(
  card_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, account_id TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL, revoked_at_ms BIGINT NOT NULL DEFAULT 0);
)sql",
      R"sql(
CREATE TABLE camera_states(
  camera TEXT PRIMARY KEY, state_json TEXT NOT NULL, updated_at_ms BIGINT NOT NULL);
)sql",
  };
  return kMigrations;
}

}  // namespace

Status MigratePgService(pqxx::connection& conn) {
  try {
    pqxx::work w(conn);
    w.exec("SELECT pg_advisory_xact_lock(7468202)");  // one migrator at a time
    w.exec("CREATE TABLE IF NOT EXISTS service_schema_version(version INTEGER NOT NULL)");
    int64_t version =
        w.exec1("SELECT COALESCE(MAX(version), 0) FROM service_schema_version")[0].as<int64_t>();
    const auto& migrations = Migrations();
    if (version > static_cast<int64_t>(migrations.size())) {
      return FailedPrecondition("schema_too_new", "service schema version " +
                                                      std::to_string(version) +
                                                      " is newer than this build supports");
    }
    for (size_t v = static_cast<size_t>(version); v < migrations.size(); ++v) {
      w.exec(migrations[v]);
      w.exec("INSERT INTO service_schema_version(version) VALUES(" + std::to_string(v + 1) + ")");
    }
    w.commit();
    return Status::Ok();
  } catch (const pqxx::broken_connection& e) {
    return Unavailable("store_unavailable",
                       std::string("PostgreSQL migration failed: ") + e.what());
  } catch (const std::exception& e) {
    return Unavailable("store_error", std::string("PostgreSQL migration failed: ") + e.what());
  }
}

void PreparePgServiceStatements(pqxx::connection& c) {
  const std::string key_cols =
      "SELECT key_id, secret_hash, role, bindings_json, label, rate_per_s, created_at_ms, "
      "revoked_at_ms FROM api_keys";
  c.prepare("svc_put_key",
            "INSERT INTO api_keys(key_id, secret_hash, role, bindings_json, label, rate_per_s, "
            "created_at_ms, revoked_at_ms) VALUES($1,$2,$3,$4,$5,$6,$7,$8) "
            "ON CONFLICT(key_id) DO NOTHING RETURNING 1");
  c.prepare("svc_get_key", key_cols + " WHERE key_id = $1");
  c.prepare("svc_list_keys", key_cols + " ORDER BY key_id");
  // Revoking twice keeps the first time: only an active key's time is set.
  c.prepare("svc_revoke_key",
            "UPDATE api_keys SET revoked_at_ms = CASE WHEN revoked_at_ms = 0 THEN $2 "
            "ELSE revoked_at_ms END WHERE key_id = $1 RETURNING 1");
  c.prepare("svc_count_keys", "SELECT COUNT(*) FROM api_keys WHERE revoked_at_ms = 0");
  const std::string audit_lock = std::to_string(kAuditAppendLockKey);
  c.prepare("svc_audit_gate_shared", "SELECT pg_advisory_xact_lock_shared(" + audit_lock + ")");
  c.prepare("svc_audit_gate_exclusive", "SELECT pg_advisory_xact_lock(" + audit_lock + ")");
  c.prepare("svc_append_audit",
            "INSERT INTO audit_log(at_ms, actor, action, target, outcome, detail_json) "
            "VALUES($1,$2,$3,$4,$5,$6) RETURNING seq");
  c.prepare("svc_query_audit",
            "SELECT seq, at_ms, actor, action, target, outcome, detail_json FROM audit_log "
            "WHERE seq > $1 AND ($2 = '' OR action = $2) AND ($3 = '' OR target = $3) "
            "ORDER BY seq LIMIT $4");
  c.prepare("svc_link",
            "INSERT INTO subject_links(subject_id, account_id) VALUES($1,$2) "
            "ON CONFLICT(subject_id) DO UPDATE SET account_id = excluded.account_id");
  c.prepare("svc_unlink", "DELETE FROM subject_links WHERE subject_id = $1");
  c.prepare("svc_account_of", "SELECT account_id FROM subject_links WHERE subject_id = $1");
  c.prepare("svc_subject_of", "SELECT subject_id FROM subject_links WHERE account_id = $1");
  const std::string req_cols =
      "SELECT scope, key, fingerprint, status_code, response_json, at_ms FROM service_requests "
      "WHERE scope = $1 AND key = $2";
  c.prepare("svc_put_request",
            "INSERT INTO service_requests(scope, key, fingerprint, status_code, response_json, "
            "at_ms) VALUES($1,$2,$3,$4,$5,$6) ON CONFLICT(scope, key) DO NOTHING RETURNING 1");
  c.prepare("svc_get_request", req_cols);
  const std::string ch_cols =
      "id, kind, terminal, payload_json, expires_at_ms, attempts_left, used";
  // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
  std::string put_challenge = "INSERT INTO challenges(";
  put_challenge.append(ch_cols).append(
      ") VALUES($1,$2,$3,$4,$5,$6,$7) ON CONFLICT(id) DO NOTHING RETURNING 1");
  c.prepare("svc_put_challenge", put_challenge);
  std::string get_challenge = "SELECT ";
  get_challenge.append(ch_cols).append(" FROM challenges WHERE id = $1");
  c.prepare("svc_get_challenge", get_challenge);
  // One atomic statement: of concurrent takers only those that still see an untouched,
  // unexpired challenge with attempts left win (the row lock serialises them; READ COMMITTED
  // re-checks the WHERE on the updated row). Returns the row as it is AFTER the update.
  std::string take =
      "UPDATE challenges SET attempts_left = attempts_left - 1, used = used OR $3 "
      "WHERE id = $1 AND NOT used AND $2 <= expires_at_ms AND attempts_left > 0 "
      "RETURNING ";
  take.append(ch_cols);
  c.prepare("svc_take_challenge", take);
  c.prepare("svc_put_card",
            "INSERT INTO atm_cards(card_id, token_hash, account_id, created_at_ms, "
            "revoked_at_ms) VALUES($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING RETURNING 1");
  c.prepare("svc_find_card",
            "SELECT card_id, token_hash, account_id, created_at_ms, revoked_at_ms FROM atm_cards "
            "WHERE token_hash = $1");
  c.prepare("svc_revoke_card",
            "UPDATE atm_cards SET revoked_at_ms = CASE WHEN revoked_at_ms = 0 THEN $2 "
            "ELSE revoked_at_ms END WHERE card_id = $1 RETURNING 1");
  c.prepare("svc_mark_used", "UPDATE challenges SET used = TRUE WHERE id = $1 RETURNING 1");
}

}  // namespace facepay::storage
