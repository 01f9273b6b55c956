#include "test_store.h"

#include <unistd.h>

#include <atomic>
#include <pqxx/pqxx>
#include <random>

namespace facepay::testing {

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
