#include "facepay/storage/biometric_stores.h"
#include "pg_biometric_schema.h"

namespace facepay::storage {

int PgBiometricSchemaVersion() { return kPgBiometricSchemaVersion; }

StatusOr<std::unique_ptr<biometrics::BiometricStore>> OpenBiometricStore(
    const std::string& location) {
  if (location.empty()) return InvalidArgument("invalid_store", "store location is empty");
  if (location.rfind("postgres://", 0) == 0 || location.rfind("postgresql://", 0) == 0) {
    return OpenPgBiometricStore(location);
  }
  return OpenSqliteBiometricStore(location);
}

}  // namespace facepay::storage
