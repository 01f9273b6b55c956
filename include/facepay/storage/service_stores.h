// Service store implementations (SQLite, PostgreSQL) and the factory that picks one from a
// location string. See facepay/service/service_store.h for the contract they implement.
//
// Beyond the contract, every write checks its bounds and refuses with InvalidArgument: key ids
// 1..64 chars ("invalid_key_id"), role 1..32 ("invalid_role"), action 1..32 ("invalid_action"),
// detail_json <= 64 KiB ("detail_too_large"), response_json <= 1 MiB ("response_too_large"),
// payload_json <= 64 KiB ("payload_too_large"), other ids and short fields
// ("field_too_long" / "invalid_field"; no NUL bytes anywhere), audit limit 1..1000
// ("invalid_limit"). Choices the contract leaves open: LinkSubject of an account already linked
// to another subject is AlreadyExists("account_linked") (links are 1:1); UnlinkSubject of an
// unlinked subject and MarkChallengeUsed of a used challenge are no-ops (ok);
// MarkChallengeUsed of an unknown id is NotFound("challenge_not_found"); every
// TakeChallengeAttempt consumes one attempt; a challenge is expired when now_ms > expires_at_ms.
//
// On PostgreSQL the audit seq is a BIGSERIAL: it is strictly increasing, but concurrent appends
// may become visible out of seq order, so a reader paging by after_seq can miss a row that
// commits late. On SQLite appends are serialised and become visible in seq order.
#pragma once

#include <memory>
#include <string>

#include "facepay/common/status_or.h"
#include "facepay/service/service_store.h"

namespace facepay::storage {

// SQLite file (created if missing; WAL, synchronous=FULL, versioned migrations in the
// `service_schema_version` table, so the file may also hold the ledger and biometric tables).
StatusOr<std::unique_ptr<service::ServiceStore>> OpenSqliteServiceStore(const std::string& path);
// PostgreSQL database at a libpq URL; migrates its tables (own `service_schema_version`).
StatusOr<std::unique_ptr<service::ServiceStore>> OpenPgServiceStore(const std::string& url);
// "postgres://..." or "postgresql://..." -> PostgreSQL, anything else -> SQLite file path.
StatusOr<std::unique_ptr<service::ServiceStore>> OpenServiceStore(const std::string& location);

// Highest service schema version this build knows (the same on both backends).
int ServiceSchemaVersion();

}  // namespace facepay::storage
