// A fresh, empty ledger store for one test in a TestLocation: on SQLite (a temp file) or
// PostgreSQL (a new database in the test server started by tests/support/pg-test-server).
// Removed on destruction. The PostgreSQL URL comes from $FACEPAY_TEST_PG_URL, else from the file
// named by $FACEPAY_TEST_PG_URL_FILE (ctest sets it); without either, Create fails with a
// message that says how to get a server: PostgreSQL tests are required, never silently skipped.
#pragma once

#include <memory>
#include <string>

#include "facepay/common/status_or.h"
#include "facepay/payments/ledger_store.h"
#include "facepay/storage/ledger_stores.h"
#include "test_location.h"

namespace facepay::testing {

class TestStore {
 public:
  // backend: "sqlite" or "postgres".
  static StatusOr<std::unique_ptr<TestStore>> Create(const std::string& backend,
                                                     storage::StoreOptions opts = {});
  ~TestStore();

  payments::LedgerStore& store() { return *store_; }
  // Where the store lives (file path or URL), to open it again or from a child process.
  const std::string& location() const { return place_->location(); }
  // Opens a second, independent store on the same data (another node / session).
  StatusOr<std::unique_ptr<payments::LedgerStore>> OpenAnother(storage::StoreOptions opts = {});
  // Closes and reopens the store (as after a restart).
  Status Reopen();
  void Close() { store_.reset(); }
  // Runs raw SQL on the data behind the store's back (to simulate corruption in tests).
  Status ExecSql(const std::string& sql);

 private:
  TestStore() = default;
  std::unique_ptr<TestLocation> place_;  // file or database; outlives store_
  storage::StoreOptions opts_;
  std::unique_ptr<payments::LedgerStore> store_;
};

// A new, empty database in the test server (Unavailable("no_test_postgres") without one).
struct TestPgDatabase {
  std::string admin_url;  // where it was created
  std::string name;
  std::string url;  // connects to it
};
StatusOr<TestPgDatabase> CreateTestPgDatabase();
// Drops it (forcing other sessions out); errors are ignored.
void DropTestPgDatabase(const TestPgDatabase& db);

}  // namespace facepay::testing
