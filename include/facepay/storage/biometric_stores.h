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
// Highest biometric schema version this build knows.
int BiometricSchemaVersion();

}  // namespace facepay::storage
