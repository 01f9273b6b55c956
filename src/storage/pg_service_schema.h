// Versioned schema of the service tables in PostgreSQL (own version table
// `service_schema_version`, so the database may also hold the ledger) and their statements.
#pragma once

#include <pqxx/pqxx>

#include "facepay/common/status.h"

namespace facepay::storage {

// Brings the service tables to the latest version (serialised by an advisory lock so several
// nodes may start at once). FailedPrecondition("schema_too_new") for a newer database.
Status MigratePgService(pqxx::connection& conn);

// Prepares every statement PgServiceStore uses on `conn` (once per connection).
void PreparePgServiceStatements(pqxx::connection& conn);

}  // namespace facepay::storage
