#include "facepay/storage/service_stores.h"

namespace facepay::storage {

StatusOr<std::unique_ptr<service::ServiceStore>> OpenServiceStore(const std::string& location) {
  if (location.empty()) return InvalidArgument("invalid_store", "store location is empty");
  if (location.rfind("postgres://", 0) == 0 || location.rfind("postgresql://", 0) == 0) {
    return OpenPgServiceStore(location);
  }
  return OpenSqliteServiceStore(location);
}

}  // namespace facepay::storage
