#include "test_biometric_store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <pqxx/pqxx>

#include "facepay/storage/biometric_stores.h"

namespace facepay::testing {

StatusOr<std::unique_ptr<TestBiometricStore>> TestBiometricStore::Create(
    const std::string& backend) {
  std::unique_ptr<TestBiometricStore> t(new TestBiometricStore());
  t->backend_ = backend;
  std::string tmpl = (std::filesystem::temp_directory_path() / "facepay-bio-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return Internal("tmp", "mkdtemp failed");
  t->temp_dir_ = tmpl;
  if (backend == "sqlite") {
    t->location_ = tmpl + "/bio.db";
  } else if (backend == "postgres") {
    FACEPAY_ASSIGN_OR_RETURN(t->pg_, CreateTestPgDatabase());
    t->location_ = t->pg_.url;
  } else {
    return InvalidArgument("backend", "unknown backend " + backend);
  }
  FACEPAY_ASSIGN_OR_RETURN(t->store_, storage::OpenBiometricStore(t->location_));
  if (t->store_->Backend() != backend) return Internal("backend", "factory picked another backend");
  return t;
}

StatusOr<std::unique_ptr<biometrics::BiometricStore>> TestBiometricStore::OpenAnother() const {
  return storage::OpenBiometricStore(location_);
}

Status TestBiometricStore::Reopen() {
  store_.reset();
  FACEPAY_ASSIGN_OR_RETURN(store_, storage::OpenBiometricStore(location_));
  return Status::Ok();
}

namespace {

StatusOr<int64_t> SqliteRun(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    return Internal("sqlite", "open failed");
  }
  sqlite3_busy_timeout(db, 10000);
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  int64_t v = -1;
  std::string err;
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  }
  if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) err = sqlite3_errmsg(db);
  sqlite3_finalize(st);
  sqlite3_close(db);
  if (!err.empty()) return Internal("sqlite", err);
  return v;
}

StatusOr<int64_t> PgRun(const std::string& url, const std::string& sql) {
  try {
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    pqxx::result r = n.exec(sql);
    if (r.empty() || r.columns() == 0 || r[0][0].is_null()) return int64_t{-1};
    return r[0][0].as<int64_t>();
  } catch (const std::exception& e) {
    return Internal("postgres", e.what());
  }
}

}  // namespace

Status TestBiometricStore::ExecSql(const std::string& sql) {
  return (backend_ == "sqlite" ? SqliteRun(location_, sql) : PgRun(location_, sql)).status();
}

StatusOr<int64_t> TestBiometricStore::QueryInt(const std::string& sql) {
  return backend_ == "sqlite" ? SqliteRun(location_, sql) : PgRun(location_, sql);
}

TestBiometricStore::~TestBiometricStore() {
  store_.reset();
  DropTestPgDatabase(pg_);
  if (!temp_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(temp_dir_, ec);
  }
}

}  // namespace facepay::testing
