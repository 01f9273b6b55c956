// A fresh, empty biometric store for one test, on SQLite (a file in a temp folder) or
// PostgreSQL (a new database in the test server, see test_store.h: PostgreSQL tests are
// required, never silently skipped). Every instance also owns a temp folder (for gallery
// snapshots). Removed on destruction.
#pragma once

#include <memory>
#include <string>

#include "facepay/biometrics/biometric_store.h"
#include "facepay/common/status_or.h"
#include "test_store.h"

namespace facepay::testing {

class TestBiometricStore {
 public:
  // backend: "sqlite" or "postgres".
  static StatusOr<std::unique_ptr<TestBiometricStore>> Create(const std::string& backend);
  ~TestBiometricStore();

  biometrics::BiometricStore& store() { return *store_; }
  const std::string& backend() const { return backend_; }
  // File path or URL, to open it again (storage::OpenBiometricStore).
  const std::string& location() const { return location_; }
  // A folder removed with the store.
  const std::string& temp_dir() const { return temp_dir_; }
  // A second, independent store on the same data (another node / process).
  StatusOr<std::unique_ptr<biometrics::BiometricStore>> OpenAnother() const;
  Status Reopen();
  void Close() { store_.reset(); }
  // Raw SQL behind the store's back (to simulate tampering); QueryInt reads the first column
  // of the first row (-1 when there is no row).
  Status ExecSql(const std::string& sql);
  StatusOr<int64_t> QueryInt(const std::string& sql);

 private:
  TestBiometricStore() = default;
  std::string backend_;
  std::string location_;
  std::string temp_dir_;
  TestPgDatabase pg_;
  std::unique_ptr<biometrics::BiometricStore> store_;
};

}  // namespace facepay::testing
