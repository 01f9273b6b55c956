// Versioned schema of the service tables in PostgreSQL (own version table
// `service_schema_version`, so the database may also hold the ledger) and their statements.
#pragma once

#include <pqxx/pqxx>

#include "facepay/common/status.h"

namespace facepay::storage {

// Brings the service tables to the latest version (serialised by an advisory lock so several
// nodes may start at once). FailedPrecondition("schema_too_new") for a newer database.
Status MigratePgService(pqxx::connection& conn);

// The advisory lock that orders audit appends before readers. audit_log.seq is a BIGSERIAL:
// handed out at INSERT, visible at COMMIT, so two appends in flight can become visible out of
// seq order, and a reader paging by seq would skip a row that commits late. An append holds
// this lock SHARED from before its INSERT to its commit (appends never wait for each other);
// an audit query takes it EXCLUSIVE first, so it waits for the appends in flight and then
// sees every seq below the largest it sees.
inline constexpr int64_t kAuditAppendLockKey = 7468211;

// Prepares every statement PgServiceStore uses on `conn` (once per connection).
void PreparePgServiceStatements(pqxx::connection& conn);

}  // namespace facepay::storage
