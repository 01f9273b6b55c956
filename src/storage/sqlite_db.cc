#include "sqlite_db.h"

namespace facepay::storage {

Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  int primary = rc & 0xff;
  if (primary == SQLITE_CONSTRAINT) return AlreadyExists("constraint_violation", msg);
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Unavailable("store_busy", msg);
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) return DataLoss("store_corrupt", msg);
  return Unavailable("store_error", msg);
}

SqliteStmt& SqliteStmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
SqliteStmt& SqliteStmt::Bind(int i, std::string_view v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
SqliteStmt& SqliteStmt::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}
SqliteStmt& SqliteStmt::BindOpt(int i, const std::optional<int64_t>& v) {
  return v ? Bind(i, *v) : BindNull(i);
}

SqliteStmt& SqliteStmt::BindDouble(int i, double v) {
  sqlite3_bind_double(stmt_, i, v);
  return *this;
}
SqliteStmt& SqliteStmt::BindBlob(int i, std::string_view v) {
  sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
std::string SqliteStmt::Blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  if (p == nullptr) return {};
  return std::string(static_cast<const char*>(p),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

StatusOr<bool> SqliteStmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status s = SqliteError(db_, rc, "sqlite step");
  sqlite3_reset(stmt_);
  return s;
}

Status SqliteStmt::Run() {
  for (;;) {
    auto r = Step();
    if (!r.ok()) return r.status();
    if (!*r) break;
  }
  return Status::Ok();
}

std::string SqliteStmt::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

void SqliteStmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

StatusOr<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status s = Unavailable("store_open_failed",
                           "cannot open SQLite file " + path + ": " + sqlite3_errstr(rc));
    sqlite3_close(db);
    return s;
  }
  sqlite3_busy_timeout(db, 10000);
  return std::unique_ptr<SqliteDb>(new SqliteDb(db));
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, st] : cache_) sqlite3_finalize(st);
  sqlite3_close(db_);
}

Status SqliteDb::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string m = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return SqliteError(nullptr, rc, "sqlite exec: " + m);
  }
  return Status::Ok();
}

StatusOr<SqliteStmt> SqliteDb::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, "sqlite prepare");
    it = cache_.emplace(sql, st).first;
  }
  SqliteStmt s(db_, it->second);
  s.Reset();
  return s;
}

Status ApplyMigrations(SqliteDb& db, const std::string& version_table,
                       const std::vector<std::string>& migrations, const std::string& what) {
  FACEPAY_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  Status s = db.Exec("CREATE TABLE IF NOT EXISTS " + version_table + "(version INTEGER NOT NULL)");
  int64_t version = 0;
  if (s.ok()) {
    auto st = db.Prepare("SELECT COALESCE(MAX(version), 0) FROM " + version_table);
    if (!st.ok()) {
      s = st.status();
    } else {
      auto row = st->Step();
      if (!row.ok()) {
        s = row.status();
      } else if (*row) {
        version = st->Int(0);
      }
      st->Reset();
    }
  }
  if (s.ok() && version > static_cast<int64_t>(migrations.size())) {
    s = FailedPrecondition("schema_too_new", what + " schema version " + std::to_string(version) +
                                                 " is newer than this build supports");
  }
  for (size_t v = static_cast<size_t>(version); s.ok() && v < migrations.size(); ++v) {
    s = db.Exec(migrations[v]);
    if (s.ok()) {
      s = db.Exec("INSERT INTO " + version_table + "(version) VALUES(" + std::to_string(v + 1) + ")");
    }
  }
  if (!s.ok()) {
    (void)db.Exec("ROLLBACK");
    return s;
  }
  return db.Exec("COMMIT");
}

}  // namespace facepay::storage
