// Versioned schema of the service tables in a SQLite file (own version table
// `service_schema_version`, so the same file may hold the ledger and biometric tables).
#pragma once

#include "sqlite_db.h"

namespace facepay::storage {

// Applies every migration newer than the file's service version, in one transaction.
// FailedPrecondition("schema_too_new") when the file is newer than this build.
Status MigrateSqliteService(SqliteDb& db);

}  // namespace facepay::storage
