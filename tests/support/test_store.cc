#include "test_store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <random>

#include "facepay/common/env.h"

namespace facepay::testing {

StatusOr<std::string> TestPgAdminUrl() {
  std::string url = GetEnvOr("FACEPAY_TEST_PG_URL", "");
  if (!url.empty()) return url;
  std::string file = GetEnvOr("FACEPAY_TEST_PG_URL_FILE", "");
  if (!file.empty()) {
    std::ifstream in(file);
    std::getline(in, url);
    if (!url.empty()) return url;
  }
  return Unavailable("no_test_postgres",
                     "no PostgreSQL test server: run the tests through ctest (its fixture "
                     "pg_test_server_start starts one with tests/support/pg-test-server), or set "
                     "FACEPAY_TEST_PG_URL=postgresql://user@host:port/db. url file: '" +
                         file + "' (see the pg_test_server_start test output for why it failed)");
}

namespace {
std::string UniqueSuffix() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  return std::to_string(::getpid()) + "_" + std::to_string(counter.fetch_add(1)) + "_" +
         std::to_string(rd() % 100000);
}

std::string WithDatabase(const std::string& url, const std::string& db) {
  // postgresql://user@host:port/dbname[?params] -> same with dbname replaced
  size_t scheme = url.find("://");
  size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return url + "/" + db;
  size_t q = url.find('?', slash);
  return url.substr(0, slash + 1) + db + (q == std::string::npos ? "" : url.substr(q));
}
}  // namespace

StatusOr<TestPgDatabase> CreateTestPgDatabase() {
  TestPgDatabase d;
  FACEPAY_ASSIGN_OR_RETURN(d.admin_url, TestPgAdminUrl());
  d.name = "facepay_t_" + UniqueSuffix();
  try {
    pqxx::connection c(d.admin_url);
    pqxx::nontransaction n(c);
    n.exec("CREATE DATABASE " + d.name);
  } catch (const std::exception& e) {
    std::string msg = "cannot create a test database on ";
    msg += d.admin_url;
    msg += ": ";
    msg += e.what();
    return Unavailable("no_test_postgres", msg);
  }
  d.url = WithDatabase(d.admin_url, d.name);
  return d;
}

void DropTestPgDatabase(const TestPgDatabase& d) {
  if (d.name.empty()) return;
  try {
    pqxx::connection c(d.admin_url);
    pqxx::nontransaction n(c);
    n.exec("DROP DATABASE IF EXISTS " + d.name + " WITH (FORCE)");
  } catch (const std::exception&) {
    // The throwaway server is deleted at the end of the run anyway.
  }
}

StatusOr<std::unique_ptr<TestStore>> TestStore::Create(const std::string& backend,
                                                       storage::StoreOptions opts) {
  std::unique_ptr<TestStore> t(new TestStore());
  t->backend_ = backend;
  t->opts_ = opts;
  if (backend == "sqlite") {
    std::string tmpl = (std::filesystem::temp_directory_path() / "facepay-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return Internal("tmp", "mkdtemp failed");
    t->temp_dir_ = tmpl;
    t->location_ = tmpl + "/ledger.db";
  } else if (backend == "postgres") {
    FACEPAY_ASSIGN_OR_RETURN(t->admin_url_, TestPgAdminUrl());
    t->db_name_ = "facepay_t_" + UniqueSuffix();
    try {
      pqxx::connection c(t->admin_url_);
      pqxx::nontransaction n(c);
      n.exec("CREATE DATABASE " + t->db_name_);
    } catch (const std::exception& e) {
      return Unavailable("no_test_postgres", std::string("cannot create a test database on ") +
                                                 t->admin_url_ + ": " + e.what());
    }
    t->location_ = WithDatabase(t->admin_url_, t->db_name_);
  } else {
    return InvalidArgument("backend", "unknown backend " + backend);
  }
  FACEPAY_ASSIGN_OR_RETURN(t->store_, storage::OpenLedgerStore(t->location_, opts));
  return t;
}

StatusOr<std::unique_ptr<payments::LedgerStore>> TestStore::OpenAnother(
    storage::StoreOptions opts) {
  return storage::OpenLedgerStore(location_, opts);
}

Status TestStore::Reopen() {
  store_.reset();
  FACEPAY_ASSIGN_OR_RETURN(store_, storage::OpenLedgerStore(location_, opts_));
  return Status::Ok();
}

Status TestStore::ExecSql(const std::string& sql) {
  if (backend_ == "sqlite") {
    sqlite3* db = nullptr;
    if (sqlite3_open(location_.c_str(), &db) != SQLITE_OK) {
      sqlite3_close(db);
      return Internal("sqlite", "open failed");
    }
    sqlite3_busy_timeout(db, 10000);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    return rc == SQLITE_OK ? Status::Ok() : Internal("sqlite", msg);
  }
  try {
    pqxx::connection c(location_);
    pqxx::nontransaction n(c);
    n.exec(sql);
    return Status::Ok();
  } catch (const std::exception& e) {
    return Internal("postgres", e.what());
  }
}

TestStore::~TestStore() {
  store_.reset();
  if (!temp_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(temp_dir_, ec);
  }
  if (!db_name_.empty()) {
    try {
      pqxx::connection c(admin_url_);
      pqxx::nontransaction n(c);
      n.exec("DROP DATABASE IF EXISTS " + db_name_ + " WITH (FORCE)");
    } catch (const std::exception&) {
      // The throwaway server is deleted at the end of the run anyway.
    }
  }
}

}  // namespace facepay::testing
