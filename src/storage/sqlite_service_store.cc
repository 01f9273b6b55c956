// SQLite implementation of service::ServiceStore: one connection, serialised by a mutex (every
// call is a short indexed statement). Read-modify-write calls run in an IMMEDIATE transaction,
// so they stay atomic against another process on the same file too.
#include <mutex>

#include "facepay/storage/service_stores.h"
#include "service_store_common.h"
#include "sqlite_db.h"
#include "sqlite_service_schema.h"

namespace facepay::storage {
namespace {

using service::ApiKeyRecord;
using service::AuditQuery;
using service::AuditRecord;
using service::Challenge;
using service::RequestRecord;

constexpr const char* kKeyColumns =
    "SELECT key_id, secret_hash, role, bindings_json, label, rate_per_s, created_at_ms,"
    " revoked_at_ms FROM api_keys";
constexpr const char* kChallengeColumns =
    "SELECT id, kind, terminal, payload_json, expires_at_ms, attempts_left, used FROM challenges"
    " WHERE id = ?";
constexpr const char* kRequestColumns =
    "SELECT scope, key, fingerprint, status_code, response_json, at_ms FROM service_requests"
    " WHERE scope = ? AND key = ?";

StatusOr<ApiKeyRecord> ReadKey(const SqliteStmt& st) {
  ApiKeyRecord k;
  k.key_id = st.Text(0);
  k.secret_hash = st.Text(1);
  k.role = st.Text(2);
  FACEPAY_ASSIGN_OR_RETURN(k.bindings, DecodeBindings(st.Text(3)));
  k.label = st.Text(4);
  k.rate_per_s = st.Double(5);
  k.created_at_ms = st.Int(6);
  k.revoked_at_ms = st.Int(7);
  return k;
}

Challenge ReadChallenge(const SqliteStmt& st) {
  Challenge c;
  c.id = st.Text(0);
  c.kind = st.Text(1);
  c.terminal = st.Text(2);
  c.payload_json = st.Text(3);
  c.expires_at_ms = st.Int(4);
  c.attempts_left = static_cast<int>(st.Int(5));
  c.used = st.Int(6) != 0;
  return c;
}

RequestRecord ReadRequest(const SqliteStmt& st) {
  RequestRecord r;
  r.scope = st.Text(0);
  r.key = st.Text(1);
  r.fingerprint = st.Text(2);
  r.status_code = static_cast<int>(st.Int(3));
  r.response_json = st.Text(4);
  r.at_ms = st.Int(5);
  return r;
}

class SqliteServiceStore final : public service::ServiceStore {
 public:
  explicit SqliteServiceStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  Status PutKey(const ApiKeyRecord& k) override {
    FACEPAY_RETURN_IF_ERROR(ValidateKey(k));
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "INSERT INTO api_keys(key_id, secret_hash, role, bindings_json, label, rate_per_s,"
        " created_at_ms, revoked_at_ms) VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(key_id) DO NOTHING"));
    FACEPAY_RETURN_IF_ERROR(st.Bind(1, k.key_id).Bind(2, k.secret_hash).Bind(3, k.role)
                                .Bind(4, EncodeBindings(k.bindings)).Bind(5, k.label)
                                .BindDouble(6, k.rate_per_s).Bind(7, k.created_at_ms)
                                .Bind(8, k.revoked_at_ms).Run());
    if (sqlite3_changes(db_->raw()) == 0) {
      return AlreadyExists("key_exists", "API key " + k.key_id + " already exists");
    }
    return Status::Ok();
  }

  StatusOr<std::optional<ApiKeyRecord>> GetKey(const std::string& key_id) override {
    FACEPAY_RETURN_IF_ERROR(ValidateKeyId(key_id));
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(std::string(kKeyColumns) + " WHERE key_id = ?"));
    st.Bind(1, key_id);
    FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
    std::optional<ApiKeyRecord> out;
    if (row) {
      auto k = ReadKey(st);
      st.Reset();
      if (!k.ok()) return k.status();
      out = std::move(*k);
    }
    st.Reset();
    return out;
  }

  StatusOr<std::vector<ApiKeyRecord>> ListKeys() override {
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(std::string(kKeyColumns) + " ORDER BY key_id"));
    std::vector<ApiKeyRecord> out;
    for (;;) {
      FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      auto k = ReadKey(st);
      if (!k.ok()) {
        st.Reset();
        return k.status();
      }
      out.push_back(std::move(*k));
    }
    st.Reset();
    return out;
  }

  Status RevokeKey(const std::string& key_id, int64_t at_ms) override {
    FACEPAY_RETURN_IF_ERROR(ValidateKeyId(key_id));
    if (at_ms <= 0) return InvalidArgument("invalid_time", "revocation time must be > 0");
    std::lock_guard lock(mu_);
    return InTxn([&]() -> Status {
      FACEPAY_ASSIGN_OR_RETURN(auto ex, db_->Prepare("SELECT 1 FROM api_keys WHERE key_id = ?"));
      ex.Bind(1, key_id);
      FACEPAY_ASSIGN_OR_RETURN(bool found, ex.Step());
      ex.Reset();
      if (!found) return NotFound("key_not_found", "no API key " + key_id);
      FACEPAY_ASSIGN_OR_RETURN(auto up, db_->Prepare(
          "UPDATE api_keys SET revoked_at_ms = ? WHERE key_id = ? AND revoked_at_ms = 0"));
      return up.Bind(1, at_ms).Bind(2, key_id).Run();
    });
  }

  StatusOr<int64_t> CountActiveKeys() override {
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st,
                             db_->Prepare("SELECT COUNT(*) FROM api_keys WHERE revoked_at_ms = 0"));
    FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
    int64_t n = row ? st.Int(0) : 0;
    st.Reset();
    return n;
  }

  StatusOr<int64_t> AppendAudit(const AuditRecord& r) override {
    FACEPAY_RETURN_IF_ERROR(ValidateAudit(r));
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "INSERT INTO audit_log(at_ms, actor, action, target, outcome, detail_json)"
        " VALUES(?,?,?,?,?,?)"));
    FACEPAY_RETURN_IF_ERROR(st.Bind(1, r.at_ms).Bind(2, r.actor).Bind(3, r.action)
                                .Bind(4, r.target).Bind(5, r.outcome).Bind(6, r.detail_json)
                                .Run());
    return db_->LastInsertId();
  }

  StatusOr<std::vector<AuditRecord>> QueryAudit(const AuditQuery& q) override {
    FACEPAY_RETURN_IF_ERROR(ValidateAuditQuery(q));
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "SELECT seq, at_ms, actor, action, target, outcome, detail_json FROM audit_log"
        " WHERE seq > ?1 AND (?2 = '' OR action = ?2) AND (?3 = '' OR target = ?3)"
        " ORDER BY seq LIMIT ?4"));
    st.Bind(1, q.after_seq).Bind(2, q.action).Bind(3, q.target)
        .Bind(4, static_cast<int64_t>(q.limit));
    std::vector<AuditRecord> out;
    for (;;) {
      FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back({st.Int(0), st.Int(1), st.Text(2), st.Text(3), st.Text(4), st.Text(5),
                     st.Text(6)});
    }
    st.Reset();
    return out;
  }

  Status LinkSubject(const std::string& subject_id, const std::string& account_id) override {
    FACEPAY_RETURN_IF_ERROR(ValidateLink(subject_id, account_id));
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "INSERT INTO subject_links(subject_id, account_id) VALUES(?,?)"
        " ON CONFLICT(subject_id) DO UPDATE SET account_id = excluded.account_id"));
    Status s = st.Bind(1, subject_id).Bind(2, account_id).Run();
    if (s.code() == StatusCode::kAlreadyExists) {
      return AlreadyExists("account_linked",
                           "account " + account_id + " is linked to another subject");
    }
    return s;
  }

  Status UnlinkSubject(const std::string& subject_id) override {
    FACEPAY_RETURN_IF_ERROR(ValidateSubjectId(subject_id));
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st,
                             db_->Prepare("DELETE FROM subject_links WHERE subject_id = ?"));
    return st.Bind(1, subject_id).Run();
  }

  StatusOr<std::optional<std::string>> AccountOfSubject(const std::string& subject_id) override {
    FACEPAY_RETURN_IF_ERROR(ValidateSubjectId(subject_id));
    std::lock_guard lock(mu_);
    return OneText("SELECT account_id FROM subject_links WHERE subject_id = ?", subject_id);
  }

  StatusOr<std::optional<std::string>> SubjectOfAccount(const std::string& account_id) override {
    FACEPAY_RETURN_IF_ERROR(ValidateAccountId(account_id));
    std::lock_guard lock(mu_);
    return OneText("SELECT subject_id FROM subject_links WHERE account_id = ?", account_id);
  }

  StatusOr<std::optional<RequestRecord>> PutRequestIfAbsent(const RequestRecord& r) override {
    FACEPAY_RETURN_IF_ERROR(ValidateRequest(r));
    std::lock_guard lock(mu_);
    std::optional<RequestRecord> existing;
    Status s = InTxn([&]() -> Status {
      FACEPAY_ASSIGN_OR_RETURN(auto ins, db_->Prepare(
          "INSERT INTO service_requests(scope, key, fingerprint, status_code, response_json,"
          " at_ms) VALUES(?,?,?,?,?,?) ON CONFLICT(scope, key) DO NOTHING"));
      FACEPAY_RETURN_IF_ERROR(ins.Bind(1, r.scope).Bind(2, r.key).Bind(3, r.fingerprint)
                                  .Bind(4, static_cast<int64_t>(r.status_code))
                                  .Bind(5, r.response_json).Bind(6, r.at_ms).Run());
      if (sqlite3_changes(db_->raw()) > 0) return Status::Ok();
      FACEPAY_ASSIGN_OR_RETURN(existing, ReadRequestLocked(r.scope, r.key));
      if (!existing) return Internal("store_error", "request vanished after a conflict");
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return existing;
  }

  StatusOr<std::optional<RequestRecord>> GetRequest(const std::string& scope,
                                                    const std::string& key) override {
    FACEPAY_RETURN_IF_ERROR(ValidateRequestKey(scope, key));
    std::lock_guard lock(mu_);
    return ReadRequestLocked(scope, key);
  }

  Status PutChallenge(const Challenge& c) override {
    FACEPAY_RETURN_IF_ERROR(ValidateChallenge(c));
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "INSERT INTO challenges(id, kind, terminal, payload_json, expires_at_ms, attempts_left,"
        " used) VALUES(?,?,?,?,?,?,?) ON CONFLICT(id) DO NOTHING"));
    FACEPAY_RETURN_IF_ERROR(st.Bind(1, c.id).Bind(2, c.kind).Bind(3, c.terminal)
                                .Bind(4, c.payload_json).Bind(5, c.expires_at_ms)
                                .Bind(6, static_cast<int64_t>(c.attempts_left))
                                .Bind(7, static_cast<int64_t>(c.used ? 1 : 0)).Run());
    if (sqlite3_changes(db_->raw()) == 0) {
      return AlreadyExists("challenge_exists", "challenge " + c.id + " already exists");
    }
    return Status::Ok();
  }

  StatusOr<std::optional<Challenge>> GetChallenge(const std::string& id) override {
    FACEPAY_RETURN_IF_ERROR(ValidateChallengeId(id));
    std::lock_guard lock(mu_);
    return ReadChallengeLocked(id);
  }

  StatusOr<Challenge> TakeChallengeAttempt(const std::string& id, int64_t now_ms,
                                           bool mark_used) override {
    FACEPAY_RETURN_IF_ERROR(ValidateChallengeId(id));
    std::lock_guard lock(mu_);
    Challenge before;
    Status s = InTxn([&]() -> Status {
      FACEPAY_ASSIGN_OR_RETURN(auto c, ReadChallengeLocked(id));
      if (!c) return NotFound("challenge_not_found", "no challenge " + id);
      FACEPAY_RETURN_IF_ERROR(RefuseChallenge(*c, now_ms));
      before = *c;
      FACEPAY_ASSIGN_OR_RETURN(auto up, db_->Prepare(
          "UPDATE challenges SET attempts_left = attempts_left - 1,"
          " used = (used OR ?) WHERE id = ?"));
      return up.Bind(1, static_cast<int64_t>(mark_used ? 1 : 0)).Bind(2, id).Run();
    });
    if (!s.ok()) return s;
    return before;
  }

  Status MarkChallengeUsed(const std::string& id) override {
    FACEPAY_RETURN_IF_ERROR(ValidateChallengeId(id));
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare("UPDATE challenges SET used = 1 WHERE id = ?"));
    FACEPAY_RETURN_IF_ERROR(st.Bind(1, id).Run());
    if (sqlite3_changes(db_->raw()) == 0) {
      return NotFound("challenge_not_found", "no challenge " + id);
    }
    return Status::Ok();
  }

  StatusOr<service::FactorBudget> GetFactorBudget(const std::string& scope) override {
    FACEPAY_RETURN_IF_ERROR(ValidateBudgetScope(scope));
    std::lock_guard lock(mu_);
    return ReadBudgetLocked(scope);
  }

  StatusOr<service::FactorBudget> UpdateFactorBudget(
      const std::string& scope,
      const std::function<service::FactorBudget(service::FactorBudget)>& update) override {
    FACEPAY_RETURN_IF_ERROR(ValidateBudgetScope(scope));
    std::lock_guard lock(mu_);
    service::FactorBudget next;
    FACEPAY_RETURN_IF_ERROR(InTxn([&]() -> Status {
      FACEPAY_ASSIGN_OR_RETURN(auto cur, ReadBudgetLocked(scope));
      next = update(cur);
      FACEPAY_ASSIGN_OR_RETURN(auto up, db_->Prepare(
          "INSERT INTO factor_budgets(scope, failures, lockouts, locked_until_ms, updated_at_ms)"
          " VALUES(?,?,?,?,?) ON CONFLICT(scope) DO UPDATE SET failures = excluded.failures,"
          " lockouts = excluded.lockouts, locked_until_ms = excluded.locked_until_ms,"
          " updated_at_ms = excluded.updated_at_ms"));
      return up.Bind(1, scope).Bind(2, static_cast<int64_t>(next.failures))
          .Bind(3, static_cast<int64_t>(next.lockouts)).Bind(4, next.locked_until_ms)
          .Bind(5, next.updated_at_ms).Run();
    }));
    return next;
  }

  StatusOr<std::string> GetCameraState(const std::string& camera) override {
    FACEPAY_RETURN_IF_ERROR(ValidateCameraName(camera));
    std::lock_guard lock(mu_);
    return ReadCameraLocked(camera);
  }

  StatusOr<std::string> UpdateCameraState(
      const std::string& camera, int64_t now_ms,
      const std::function<std::string(std::string)>& update) override {
    FACEPAY_RETURN_IF_ERROR(ValidateCameraName(camera));
    std::lock_guard lock(mu_);
    std::string next;
    FACEPAY_RETURN_IF_ERROR(InTxn([&]() -> Status {
      FACEPAY_ASSIGN_OR_RETURN(std::string cur, ReadCameraLocked(camera));
      next = update(cur);
      FACEPAY_RETURN_IF_ERROR(ValidateCameraState(next));
      FACEPAY_ASSIGN_OR_RETURN(auto up, db_->Prepare(
          "INSERT INTO camera_states(camera, state_json, updated_at_ms) VALUES(?,?,?)"
          " ON CONFLICT(camera) DO UPDATE SET state_json = excluded.state_json,"
          " updated_at_ms = excluded.updated_at_ms"));
      return up.Bind(1, camera).Bind(2, next).Bind(3, now_ms).Run();
    }));
    return next;
  }

  StatusOr<std::vector<std::pair<std::string, std::string>>> ListCameraStates() override {
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "SELECT camera, state_json FROM camera_states WHERE state_json <> '' ORDER BY camera"));
    std::vector<std::pair<std::string, std::string>> out;
    for (;;) {
      FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.emplace_back(st.Text(0), st.Text(1));
    }
    st.Reset();
    return out;
  }

  Status PutCard(const service::CardRecord& c) override {
    FACEPAY_RETURN_IF_ERROR(ValidateCard(c));
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "INSERT INTO atm_cards(card_id, token_hash, account_id, created_at_ms, revoked_at_ms)"
        " VALUES(?,?,?,?,?) ON CONFLICT DO NOTHING"));
    FACEPAY_RETURN_IF_ERROR(st.Bind(1, c.card_id).Bind(2, c.token_hash).Bind(3, c.account_id)
                                .Bind(4, c.created_at_ms).Bind(5, c.revoked_at_ms).Run());
    if (sqlite3_changes(db_->raw()) == 0) {
      return AlreadyExists("card_exists", "card " + c.card_id + " already exists");
    }
    return Status::Ok();
  }

  StatusOr<std::optional<service::CardRecord>> FindCard(const std::string& token_hash) override {
    if (token_hash.empty() || token_hash.size() > kMaxIdLen) {
      return InvalidArgument("invalid_card_hash", "a card token hash is 1..128 bytes");
    }
    std::lock_guard lock(mu_);
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "SELECT card_id, token_hash, account_id, created_at_ms, revoked_at_ms FROM atm_cards"
        " WHERE token_hash = ?"));
    st.Bind(1, token_hash);
    FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
    std::optional<service::CardRecord> out;
    if (row) out = service::CardRecord{st.Text(0), st.Text(1), st.Text(2), st.Int(3), st.Int(4)};
    st.Reset();
    return out;
  }

  Status RevokeCard(const std::string& card_id, int64_t at_ms) override {
    FACEPAY_RETURN_IF_ERROR(ValidateCardId(card_id));
    if (at_ms <= 0) return InvalidArgument("invalid_time", "revocation time must be > 0");
    std::lock_guard lock(mu_);
    return InTxn([&]() -> Status {
      FACEPAY_ASSIGN_OR_RETURN(auto ex, db_->Prepare("SELECT 1 FROM atm_cards WHERE card_id = ?"));
      ex.Bind(1, card_id);
      FACEPAY_ASSIGN_OR_RETURN(bool found, ex.Step());
      ex.Reset();
      if (!found) return NotFound("card_not_found", "no card " + card_id);
      FACEPAY_ASSIGN_OR_RETURN(auto up, db_->Prepare(
          "UPDATE atm_cards SET revoked_at_ms = ? WHERE card_id = ? AND revoked_at_ms = 0"));
      return up.Bind(1, at_ms).Bind(2, card_id).Run();
    });
  }

  Status CheckWritable() override {
    std::lock_guard lock(mu_);
    // Takes the write lock as a commit would, then gives it back. A health check waits 1 s for
    // the lock, not the 10 s a write would.
    sqlite3_busy_timeout(db_->raw(), 1000);
    Status s = db_->Exec("BEGIN IMMEDIATE");
    if (s.ok()) s = db_->Exec("ROLLBACK");
    sqlite3_busy_timeout(db_->raw(), 10000);
    return s;
  }

  std::string Backend() const override { return "sqlite"; }

 private:
  // Runs `fn` in an IMMEDIATE transaction; commits when it returns ok, else rolls back.
  template <typename Fn>
  Status InTxn(Fn fn) {
    FACEPAY_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
    Status s = fn();
    db_->ResetAll();
    if (!s.ok()) {
      (void)db_->Exec("ROLLBACK");
      return s;
    }
    return db_->Exec("COMMIT");
  }

  StatusOr<std::optional<std::string>> OneText(const char* sql, const std::string& arg) {
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(sql));
    st.Bind(1, arg);
    return st.FirstRow([](const SqliteStmt& r) { return r.Text(0); });
  }

  StatusOr<std::string> ReadCameraLocked(const std::string& camera) {
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "SELECT state_json FROM camera_states WHERE camera = ?"));
    st.Bind(1, camera);
    FACEPAY_ASSIGN_OR_RETURN(auto row, st.FirstRow([](const SqliteStmt& r) { return r.Text(0); }));
    return row.value_or(std::string());
  }

  StatusOr<service::FactorBudget> ReadBudgetLocked(const std::string& scope) {
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "SELECT failures, lockouts, locked_until_ms, updated_at_ms FROM factor_budgets"
        " WHERE scope = ?"));
    st.Bind(1, scope);
    FACEPAY_ASSIGN_OR_RETURN(auto row, st.FirstRow([](const SqliteStmt& r) {
      service::FactorBudget b;
      b.failures = static_cast<int>(r.Int(0));
      b.lockouts = static_cast<int>(r.Int(1));
      b.locked_until_ms = r.Int(2);
      b.updated_at_ms = r.Int(3);
      return b;
    }));
    return row.value_or(service::FactorBudget{});
  }

  StatusOr<std::optional<RequestRecord>> ReadRequestLocked(const std::string& scope,
                                                           const std::string& key) {
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(kRequestColumns));
    st.Bind(1, scope).Bind(2, key);
    FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
    std::optional<RequestRecord> out;
    if (row) out = ReadRequest(st);
    st.Reset();
    return out;
  }

  StatusOr<std::optional<Challenge>> ReadChallengeLocked(const std::string& id) {
    FACEPAY_ASSIGN_OR_RETURN(auto st, db_->Prepare(kChallengeColumns));
    st.Bind(1, id);
    FACEPAY_ASSIGN_OR_RETURN(bool row, st.Step());
    std::optional<Challenge> out;
    if (row) out = ReadChallenge(st);
    st.Reset();
    return out;
  }

  std::mutex mu_;  // guards db_ (one SQLite connection, used by one thread at a time)
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace

int ServiceSchemaVersion() { return kServiceSchemaVersion; }

StatusOr<std::unique_ptr<service::ServiceStore>> OpenSqliteServiceStore(const std::string& path) {
  FACEPAY_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path));
  FACEPAY_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
  FACEPAY_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL"));
  FACEPAY_RETURN_IF_ERROR(MigrateSqliteService(*db));
  return std::unique_ptr<service::ServiceStore>(new SqliteServiceStore(std::move(db)));
}

}  // namespace facepay::storage
