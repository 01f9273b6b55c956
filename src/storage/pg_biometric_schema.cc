#include "pg_biometric_schema.h"

#include <string>
#include <vector>

namespace facepay::storage {
namespace {

// Distinct from the ledger's migration lock (7468201): the two schemas migrate independently.
constexpr int64_t kMigrationLockKey = 7468202;

// Index i holds the migration from version i to i+1. Never edit a released entry; append.
// Same tables as the SQLite schema (version 2 there = version 1 here; version 2 here adds
// the byte-order index SQLite does not need). The change log's
// sequence comes from the single-row template_log_head, updated in the appending
// transaction: its row lock serialises appends, so sequences commit in increasing order and a
// follower that has read up to S never sees a smaller sequence commit later.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      R"sql(
CREATE TABLE subjects(
  id TEXT PRIMARY KEY, display_name TEXT NOT NULL DEFAULT '',
  external_ref TEXT NOT NULL DEFAULT '', consent_version TEXT NOT NULL,
  consent_at_ms BIGINT NOT NULL, consent_channel TEXT NOT NULL,
  phone_last4_hash TEXT NOT NULL DEFAULT '', pin_hash TEXT NOT NULL DEFAULT '',
  created_at_ms BIGINT NOT NULL);
CREATE TABLE templates(
  id BIGINT PRIMARY KEY, subject_id TEXT NOT NULL REFERENCES subjects(id),
  model_id TEXT NOT NULL, quality DOUBLE PRECISION NOT NULL, sealed BYTEA NOT NULL,
  created_at_ms BIGINT NOT NULL);
CREATE INDEX templates_subject ON templates(subject_id);
CREATE TABLE template_log_head(
  one INTEGER PRIMARY KEY CHECK (one = 1), seq BIGINT NOT NULL);
INSERT INTO template_log_head(one, seq) VALUES(1, 0);
CREATE TABLE template_changes(
  seq BIGINT PRIMARY KEY, op TEXT NOT NULL CHECK(op IN ('add','remove')),
  template_id BIGINT NOT NULL, subject_id TEXT NOT NULL, at_ms BIGINT NOT NULL);
CREATE TABLE biometric_meta(key TEXT PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE erasures(
  id BIGSERIAL PRIMARY KEY, subject_id TEXT NOT NULL,
  templates_removed BIGINT NOT NULL, at_ms BIGINT NOT NULL);
CREATE TABLE policies(
  model_id TEXT PRIMARY KEY, accept DOUBLE PRECISION NOT NULL,
  step_up DOUBLE PRECISION NOT NULL, second_factor DOUBLE PRECISION NOT NULL,
  margin DOUBLE PRECISION NOT NULL, max_candidates INTEGER NOT NULL,
  target_fpir DOUBLE PRECISION NOT NULL, measured_fpir DOUBLE PRECISION NOT NULL,
  gallery_size BIGINT NOT NULL, impostor_probes BIGINT NOT NULL,
  calibrated_at_ms BIGINT NOT NULL);
)sql",
      // Subjects are listed in byte order (as on SQLite), whatever the database collation.
      R"sql(
CREATE INDEX subjects_id_c ON subjects(id COLLATE "C");
)sql",
      R"sql(
CREATE TABLE template_images(
  template_id BIGINT PRIMARY KEY REFERENCES templates(id) ON DELETE CASCADE,
  sealed BYTEA NOT NULL);
)sql",
  };
  return kMigrations;
}

}  // namespace

Status MigratePgBiometrics(pqxx::connection& conn) {
  try {
    pqxx::work w(conn);
    std::string lock_sql = "SELECT pg_advisory_xact_lock(";
    lock_sql += std::to_string(kMigrationLockKey);
    lock_sql += ")";
    w.exec(lock_sql);
    w.exec("CREATE TABLE IF NOT EXISTS biometric_schema_version(version INTEGER NOT NULL)");
    int64_t version =
        w.exec1("SELECT COALESCE(MAX(version), 0) FROM biometric_schema_version")[0].as<int64_t>();
    const auto& migrations = Migrations();
    if (version > static_cast<int64_t>(migrations.size())) {
      std::string msg = "database biometric schema version ";
      msg += std::to_string(version);
      msg += " is newer than this build supports";
      return FailedPrecondition("schema_too_new", msg);
    }
    for (size_t v = static_cast<size_t>(version); v < migrations.size(); ++v) {
      w.exec(migrations[v]);
      std::string record = "INSERT INTO biometric_schema_version(version) VALUES(";
      record += std::to_string(v + 1);
      record += ")";
      w.exec(record);
    }
    w.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Unavailable("store_error",
                       std::string("PostgreSQL biometric migration failed: ") + e.what());
  }
}

}  // namespace facepay::storage
