// Ledger store implementations (SQLite, PostgreSQL) and the factory that picks one from a
// location string. See facepay/payments/ledger_store.h for the contract they implement.
#pragma once

#include <memory>
#include <string>

#include "facepay/common/status_or.h"
#include "facepay/payments/ledger_store.h"

namespace facepay::storage {

struct StoreOptions {
  // Units committed together at most (group commit). 1 = one commit per unit.
  int max_batch = 256;
  // PostgreSQL: number of writer sessions, each committing its own batches.
  int pg_writers = 2;
};

// SQLite file (created if missing; WAL, synchronous=FULL, versioned migrations).
StatusOr<std::unique_ptr<payments::LedgerStore>> OpenSqliteLedgerStore(const std::string& path,
                                                                       StoreOptions opts = {});
// PostgreSQL database at a libpq URL ("postgresql://user@host:port/db"); migrates the schema.
StatusOr<std::unique_ptr<payments::LedgerStore>> OpenPgLedgerStore(const std::string& url,
                                                                   StoreOptions opts = {});
// "postgres://..." or "postgresql://..." -> PostgreSQL, anything else -> SQLite file path.
StatusOr<std::unique_ptr<payments::LedgerStore>> OpenLedgerStore(const std::string& location,
                                                                 StoreOptions opts = {});

}  // namespace facepay::storage
