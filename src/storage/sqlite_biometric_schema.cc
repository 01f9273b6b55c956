#include "sqlite_biometric_schema.h"

#include <string>
#include <vector>

namespace facepay::storage {
namespace {

// Index i holds the migration from version i to i+1. Never edit a released entry; append.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      R"sql(
CREATE TABLE subjects(
  id TEXT PRIMARY KEY, display_name TEXT NOT NULL DEFAULT '',
  external_ref TEXT NOT NULL DEFAULT '', consent_version TEXT NOT NULL,
  consent_at_ms INTEGER NOT NULL, consent_channel TEXT NOT NULL,
  phone_last4_hash TEXT NOT NULL DEFAULT '', pin_hash TEXT NOT NULL DEFAULT '',
  created_at_ms INTEGER NOT NULL);
CREATE TABLE templates(
  id INTEGER PRIMARY KEY, subject_id TEXT NOT NULL REFERENCES subjects(id),
  model_id TEXT NOT NULL, quality REAL NOT NULL, sealed BLOB NOT NULL,
  created_at_ms INTEGER NOT NULL);
CREATE INDEX templates_subject ON templates(subject_id);
CREATE TABLE template_changes(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, op TEXT NOT NULL CHECK(op IN ('add','remove')),
  template_id INTEGER NOT NULL, subject_id TEXT NOT NULL, at_ms INTEGER NOT NULL);
CREATE TABLE biometric_meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE erasures(
  id INTEGER PRIMARY KEY AUTOINCREMENT, subject_id TEXT NOT NULL,
  templates_removed INTEGER NOT NULL, at_ms INTEGER NOT NULL);
)sql",
      R"sql(
CREATE TABLE policies(
  model_id TEXT PRIMARY KEY, accept REAL NOT NULL, step_up REAL NOT NULL,
  second_factor REAL NOT NULL, margin REAL NOT NULL, max_candidates INTEGER NOT NULL,
  target_fpir REAL NOT NULL, measured_fpir REAL NOT NULL, gallery_size INTEGER NOT NULL,
  impostor_probes INTEGER NOT NULL, calibrated_at_ms INTEGER NOT NULL);
)sql",
      // Source images an operator chose to keep (serve --keep-enrollment-images), sealed with
      // the template key; deleted with their template.
      R"sql(
CREATE TABLE template_images(
  template_id INTEGER PRIMARY KEY REFERENCES templates(id) ON DELETE CASCADE,
  sealed BLOB NOT NULL);
)sql",
  };
  return kMigrations;
}

}  // namespace

Status MigrateSqliteBiometrics(SqliteDb& db) {
  return ApplyMigrations(db, "biometric_schema_version", Migrations(), "biometric");
}

}  // namespace facepay::storage
