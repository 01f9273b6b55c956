// Versioned schema of the biometric tables in PostgreSQL (own version table and migration
// lock, so the database may also hold the ledger schema).
#pragma once

#include <pqxx/pqxx>

#include "facepay/common/status.h"

namespace facepay::storage {

inline constexpr int kPgBiometricSchemaVersion = 3;

// Brings the database to the latest biometric schema version in one transaction (serialised
// by an advisory lock so several nodes may start at once).
// FailedPrecondition("schema_too_new") for a database newer than this build;
// Unavailable("store_error") when PostgreSQL fails.
Status MigratePgBiometrics(pqxx::connection& conn);

}  // namespace facepay::storage
