#include "test_store.h"

namespace facepay::testing {

StatusOr<std::unique_ptr<TestStore>> TestStore::Create(const std::string& backend,
                                                       storage::StoreOptions opts) {
  std::unique_ptr<TestStore> t(new TestStore());
  t->opts_ = opts;
  FACEPAY_ASSIGN_OR_RETURN(t->place_, TestLocation::Create(backend, "ledger.db"));
  FACEPAY_ASSIGN_OR_RETURN(t->store_, storage::OpenLedgerStore(t->location(), opts));
  return t;
}

StatusOr<std::unique_ptr<payments::LedgerStore>> TestStore::OpenAnother(
    storage::StoreOptions opts) {
  return storage::OpenLedgerStore(location(), opts);
}

Status TestStore::Reopen() {
  store_.reset();
  FACEPAY_ASSIGN_OR_RETURN(store_, storage::OpenLedgerStore(location(), opts_));
  return Status::Ok();
}

Status TestStore::ExecSql(const std::string& sql) { return place_->ExecSql(sql); }

TestStore::~TestStore() {
  store_.reset();  // before the place it lives in goes away
}

}  // namespace facepay::testing
