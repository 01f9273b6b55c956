// A throwaway place for one test's store: a temp directory with a SQLite file name inside, or a
// fresh database in the test PostgreSQL server (see TestPgAdminUrl). Removed on destruction;
// close every store on it first.
#pragma once

#include <memory>
#include <string>

#include "facepay/common/status_or.h"

namespace facepay::testing {

class TestLocation {
 public:
  // backend: "sqlite" or "postgres"; `file_name` names the SQLite file in the temp directory.
  static StatusOr<std::unique_ptr<TestLocation>> Create(const std::string& backend,
                                                        const std::string& file_name = "test.db");
  ~TestLocation();
  TestLocation(const TestLocation&) = delete;
  TestLocation& operator=(const TestLocation&) = delete;

  const std::string& backend() const { return backend_; }
  // File path or PostgreSQL URL, for the Open*Store factories.
  const std::string& location() const { return location_; }
  // Runs raw SQL on the data behind the stores' back (to simulate corruption in tests).
  Status ExecSql(const std::string& sql);

 private:
  TestLocation() = default;
  std::string backend_;
  std::string location_;
  std::string admin_url_;  // postgres: where the database was created
  std::string db_name_;
  std::string temp_dir_;  // sqlite
};

// The admin URL of the test PostgreSQL server, or an error explaining how to get one.
StatusOr<std::string> TestPgAdminUrl();

}  // namespace facepay::testing
