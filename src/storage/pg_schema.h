// Versioned schema of the PostgreSQL ledger and the prepared statements used on it.
#pragma once

#include <pqxx/pqxx>

#include "facepay/common/status.h"

namespace facepay::storage {

// Brings the database to the latest schema version (serialised by an advisory lock so several
// nodes may start at once). FailedPrecondition("schema_too_new") for a newer database.
Status MigratePg(pqxx::connection& conn);

// Prepares every statement PgLedgerTxn uses on `conn` (once per connection).
void PreparePgStatements(pqxx::connection& conn);

}  // namespace facepay::storage
