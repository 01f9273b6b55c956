// Biometric store implementations (see facepay/biometrics/biometric_store.h for the contract).
#pragma once

#include <memory>
#include <string>

#include "facepay/biometrics/biometric_store.h"
#include "facepay/common/status_or.h"

namespace facepay::storage {

// SQLite file (created if missing; WAL, synchronous=FULL, foreign keys, versioned migrations
// in their own version table, so the file may also hold the ledger).
StatusOr<std::unique_ptr<biometrics::BiometricStore>> OpenSqliteBiometricStore(
    const std::string& path);
// PostgreSQL database at a libpq URL ("postgresql://user@host:port/db"); migrates the
// biometric schema (own version table `biometric_schema_version`, so the database may also
// hold the ledger). Change-log appends from every process are serialised, so sequences commit
// in increasing order (a follower never misses a change that commits late).
// Unavailable("store_unavailable") when it cannot connect; FailedPrecondition("schema_too_new").
// `schema` (optional, [a-z_][a-z0-9_]{0,62}): keep the store's tables in that PostgreSQL
// schema, created when missing, e.g. a second gallery (the border watchlist) in the same
// database. InvalidArgument("invalid_schema").
StatusOr<std::unique_ptr<biometrics::BiometricStore>> OpenPgBiometricStore(
    const std::string& url, const std::string& schema = "");
// "postgres://..." or "postgresql://..." -> PostgreSQL, anything else -> SQLite file path.
// InvalidArgument("invalid_store") for an empty location.
StatusOr<std::unique_ptr<biometrics::BiometricStore>> OpenBiometricStore(
    const std::string& location);
// Highest SQLite biometric schema version this build knows.
int BiometricSchemaVersion();
// Highest PostgreSQL biometric schema version this build knows.
int PgBiometricSchemaVersion();

}  // namespace facepay::storage
