// Minimal RAII wrapper over the SQLite C API with Status errors and a prepared-statement
// cache. A SqliteDb is one connection: not thread-safe, used by one thread at a time.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <string_view>

#include "facepay/common/status_or.h"

namespace facepay::storage {

class SqliteStmt {
 public:
  SqliteStmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  // Binding is 1-based, as in SQLite.
  SqliteStmt& Bind(int i, int64_t v);
  SqliteStmt& Bind(int i, std::string_view v);
  SqliteStmt& BindNull(int i);
  SqliteStmt& BindOpt(int i, const std::optional<int64_t>& v);
  SqliteStmt& BindDouble(int i, double v);
  SqliteStmt& BindBlob(int i, std::string_view v);
  // Steps once: true when a row is available, false when done; error on failure.
  StatusOr<bool> Step();
  // Steps to completion, expecting no rows.
  Status Run();
  // Steps once: fn(*this) of the first row, nullopt without one; then resets the statement.
  template <typename Fn>
  auto FirstRow(Fn&& fn) -> StatusOr<std::optional<decltype(fn(*this))>> {
    FACEPAY_ASSIGN_OR_RETURN(bool row, Step());
    std::optional<decltype(fn(*this))> out;
    if (row) out = fn(*this);
    Reset();
    return out;
  }
  // Steps through every row, calling fn(*this) on each, then resets the statement.
  template <typename Fn>
  Status EachRow(Fn&& fn) {
    for (;;) {
      FACEPAY_ASSIGN_OR_RETURN(bool row, Step());
      if (!row) break;
      fn(*this);
    }
    Reset();
    return Status::Ok();
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) const;
  double Double(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string Blob(int col) const;
  void Reset();

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class SqliteDb {
 public:
  static StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more statements without results.
  Status Exec(const std::string& sql);
  // A cached prepared statement, reset and with bindings cleared. Valid until the next
  // Prepare of the same text.
  StatusOr<SqliteStmt> Prepare(const std::string& sql);
  // Resets every cached statement (ends implicit read transactions held by a stepped SELECT).
  void ResetAll() {
    for (auto& [sql, st] : cache_) sqlite3_reset(st);
  }
  int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  sqlite3* raw() { return db_; }

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::map<std::string, sqlite3_stmt*> cache_;
};

Status SqliteError(sqlite3* db, int rc, std::string_view what);

// Applies `migrations[v]` for every version v above the one recorded in `version_table`
// (created when missing), each recorded, all in one IMMEDIATE transaction: a failure rolls
// everything back. A file newer than `migrations` is refused with schema_too_new naming `what`.
Status ApplyMigrations(SqliteDb& db, const std::string& version_table,
                       const std::vector<std::string>& migrations, const std::string& what);

}  // namespace facepay::storage
