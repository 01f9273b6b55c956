// Versioned schema of the SQLite ledger; Migrate brings a file to the latest version.
#pragma once

#include "sqlite_db.h"

namespace facepay::storage {

inline constexpr int kSqliteSchemaVersion = 1;

// Applies every migration newer than the file's recorded version, each in its own
// transaction. FailedPrecondition("schema_too_new") when the file is newer than this build.
Status MigrateSqlite(SqliteDb& db);

}  // namespace facepay::storage
