#include "facepay/storage/ledger_stores.h"

namespace facepay::storage {

StatusOr<std::unique_ptr<payments::LedgerStore>> OpenLedgerStore(const std::string& location,
                                                                 StoreOptions opts) {
  if (location.empty()) return InvalidArgument("invalid_store", "store location is empty");
  if (location.rfind("postgres://", 0) == 0 || location.rfind("postgresql://", 0) == 0) {
    return OpenPgLedgerStore(location, opts);
  }
  return OpenSqliteLedgerStore(location, opts);
}

}  // namespace facepay::storage
