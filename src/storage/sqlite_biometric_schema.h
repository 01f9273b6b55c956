// Versioned schema of the biometric tables in a SQLite file (own version table, so the same
// file may hold the ledger).
#pragma once

#include "sqlite_db.h"

namespace facepay::storage {

inline constexpr int kSqliteBiometricSchemaVersion = 3;

// Applies every migration newer than the file's biometric version, in one transaction.
// FailedPrecondition("schema_too_new") when the file is newer than this build.
Status MigrateSqliteBiometrics(SqliteDb& db);

}  // namespace facepay::storage
