// PostgreSQL implementation of service::ServiceStore over a small connection pool: each call
// borrows a session, runs one short READ COMMITTED transaction and gives the session back, so
// concurrent callers (the HTTP workers) never queue behind one connection. A broken session is
// dropped (with the idle ones) and a new one is opened by the next call; a call that lost its
// session before its transaction began, or whose effect is idempotent, is retried once on a
// fresh session.
#include <functional>
#include <mutex>

#include "facepay/storage/service_stores.h"
#include "pg_service_schema.h"
#include "service_store_common.h"

namespace facepay::storage {
namespace {

using service::ApiKeyRecord;
using service::AuditQuery;
using service::AuditRecord;
using service::Challenge;
using service::RequestRecord;

constexpr size_t kMaxIdleSessions = 8;

StatusOr<std::unique_ptr<pqxx::connection>> Connect(const std::string& url) {
  try {
    auto c = std::make_unique<pqxx::connection>(url);
    PreparePgServiceStatements(*c);
    return c;
  } catch (const std::exception& e) {
    return Unavailable("store_unavailable",
                       std::string("cannot connect to PostgreSQL: ") + e.what());
  }
}

StatusOr<ApiKeyRecord> KeyFromRow(const pqxx::row& r) {
  ApiKeyRecord k;
  k.key_id = r[0].as<std::string>();
  k.secret_hash = r[1].as<std::string>();
  k.role = r[2].as<std::string>();
  FACEPAY_ASSIGN_OR_RETURN(k.bindings, DecodeBindings(r[3].as<std::string>()));
  k.label = r[4].as<std::string>();
  k.rate_per_s = r[5].as<double>();
  k.created_at_ms = r[6].as<int64_t>();
  k.revoked_at_ms = r[7].as<int64_t>();
  return k;
}

service::FactorBudget BudgetFrom(const pqxx::result& r) {
  service::FactorBudget b;
  if (r.empty()) return b;
  b.failures = r[0][0].as<int>();
  b.lockouts = r[0][1].as<int>();
  b.locked_until_ms = r[0][2].as<int64_t>();
  b.updated_at_ms = r[0][3].as<int64_t>();
  return b;
}

Challenge ChallengeFromRow(const pqxx::row& r) {
  Challenge c;
  c.id = r[0].as<std::string>();
  c.kind = r[1].as<std::string>();
  c.terminal = r[2].as<std::string>();
  c.payload_json = r[3].as<std::string>();
  c.expires_at_ms = r[4].as<int64_t>();
  c.attempts_left = r[5].as<int>();
  c.used = r[6].as<bool>();
  return c;
}

RequestRecord RequestFromRow(const pqxx::row& r) {
  RequestRecord q;
  q.scope = r[0].as<std::string>();
  q.key = r[1].as<std::string>();
  q.fingerprint = r[2].as<std::string>();
  q.status_code = r[3].as<int>();
  q.response_json = r[4].as<std::string>();
  q.at_ms = r[5].as<int64_t>();
  return q;
}

// Whether a call may run again after its session broke mid-transaction (commit in doubt).
enum class Retry { kOnlyBeforeBegin, kAlways };

class PgServiceStore final : public service::ServiceStore {
 public:
  PgServiceStore(std::string url, std::unique_ptr<pqxx::connection> first) : url_(std::move(url)) {
    idle_.push_back(std::move(first));
  }

  Status PutKey(const ApiKeyRecord& k) override {
    FACEPAY_RETURN_IF_ERROR(ValidateKey(k));
    return Exec(Retry::kOnlyBeforeBegin, [&](pqxx::work& w) -> Status {
      pqxx::result r = w.exec_prepared("svc_put_key", k.key_id, k.secret_hash, k.role,
                                       EncodeBindings(k.bindings), k.label, k.rate_per_s,
                                       k.created_at_ms, k.revoked_at_ms);
      if (r.empty()) return AlreadyExists("key_exists", "API key " + k.key_id + " already exists");
      return Status::Ok();
    });
  }

  StatusOr<std::optional<ApiKeyRecord>> GetKey(const std::string& key_id) override {
    FACEPAY_RETURN_IF_ERROR(ValidateKeyId(key_id));
    return Run<std::optional<ApiKeyRecord>>(
        Retry::kAlways, [&](pqxx::work& w) -> StatusOr<std::optional<ApiKeyRecord>> {
          pqxx::result r = w.exec_prepared("svc_get_key", key_id);
          if (r.empty()) return std::optional<ApiKeyRecord>();
          FACEPAY_ASSIGN_OR_RETURN(auto k, KeyFromRow(r[0]));
          return std::optional<ApiKeyRecord>(std::move(k));
        });
  }

  StatusOr<std::vector<ApiKeyRecord>> ListKeys() override {
    return Run<std::vector<ApiKeyRecord>>(
        Retry::kAlways, [&](pqxx::work& w) -> StatusOr<std::vector<ApiKeyRecord>> {
          std::vector<ApiKeyRecord> out;
          for (const auto& row : w.exec_prepared("svc_list_keys")) {
            FACEPAY_ASSIGN_OR_RETURN(auto k, KeyFromRow(row));
            out.push_back(std::move(k));
          }
          return out;
        });
  }

  Status RevokeKey(const std::string& key_id, int64_t at_ms) override {
    FACEPAY_RETURN_IF_ERROR(ValidateKeyId(key_id));
    if (at_ms <= 0) return InvalidArgument("invalid_time", "revocation time must be > 0");
    return Exec(Retry::kAlways, [&](pqxx::work& w) -> Status {
      if (w.exec_prepared("svc_revoke_key", key_id, at_ms).empty()) {
        return NotFound("key_not_found", "no API key " + key_id);
      }
      return Status::Ok();
    });
  }

  StatusOr<int64_t> CountActiveKeys() override {
    return Run<int64_t>(Retry::kAlways, [&](pqxx::work& w) -> StatusOr<int64_t> {
      return w.exec_prepared1("svc_count_keys")[0].as<int64_t>();
    });
  }

  StatusOr<int64_t> AppendAudit(const AuditRecord& a) override {
    FACEPAY_RETURN_IF_ERROR(ValidateAudit(a));
    return Run<int64_t>(Retry::kOnlyBeforeBegin, [&](pqxx::work& w) -> StatusOr<int64_t> {
      w.exec_prepared("svc_audit_gate_shared");  // held to the commit: kAuditAppendLockKey
      return w
          .exec_prepared1("svc_append_audit", a.at_ms, a.actor, a.action, a.target, a.outcome,
                          a.detail_json)[0]
          .as<int64_t>();
    });
  }

  StatusOr<std::vector<AuditRecord>> QueryAudit(const AuditQuery& q) override {
    FACEPAY_RETURN_IF_ERROR(ValidateAuditQuery(q));
    return Run<std::vector<AuditRecord>>(
        Retry::kAlways, [&](pqxx::work& w) -> StatusOr<std::vector<AuditRecord>> {
          // Waits for the appends in flight (kAuditAppendLockKey); the next statement's
          // snapshot then holds every seq below the largest it returns, so paging by seq
          // never skips a row that commits late.
          w.exec_prepared("svc_audit_gate_exclusive");
          std::vector<AuditRecord> out;
          for (const auto& r :
               w.exec_prepared("svc_query_audit", q.after_seq, q.action, q.target, q.limit)) {
            out.push_back({r[0].as<int64_t>(), r[1].as<int64_t>(), r[2].as<std::string>(),
                           r[3].as<std::string>(), r[4].as<std::string>(), r[5].as<std::string>(),
                           r[6].as<std::string>()});
          }
          return out;
        });
  }

  Status LinkSubject(const std::string& subject_id, const std::string& account_id) override {
    FACEPAY_RETURN_IF_ERROR(ValidateLink(subject_id, account_id));
    return Exec(Retry::kAlways, [&](pqxx::work& w) -> Status {
      try {
        w.exec_prepared("svc_link", subject_id, account_id);
      } catch (const pqxx::unique_violation&) {
        // Only the account's UNIQUE can fire: the subject's own row is upserted.
        return AlreadyExists("account_linked",
                             "account " + account_id + " is linked to another subject");
      }
      return Status::Ok();
    });
  }

  Status UnlinkSubject(const std::string& subject_id) override {
    FACEPAY_RETURN_IF_ERROR(ValidateSubjectId(subject_id));
    return Exec(Retry::kAlways, [&](pqxx::work& w) -> Status {
      w.exec_prepared("svc_unlink", subject_id);
      return Status::Ok();
    });
  }

  StatusOr<std::optional<std::string>> AccountOfSubject(const std::string& subject_id) override {
    FACEPAY_RETURN_IF_ERROR(ValidateSubjectId(subject_id));
    return OneText("svc_account_of", subject_id);
  }

  StatusOr<std::optional<std::string>> SubjectOfAccount(const std::string& account_id) override {
    FACEPAY_RETURN_IF_ERROR(ValidateAccountId(account_id));
    return OneText("svc_subject_of", account_id);
  }

  StatusOr<std::optional<RequestRecord>> PutRequestIfAbsent(const RequestRecord& q) override {
    FACEPAY_RETURN_IF_ERROR(ValidateRequest(q));
    return Run<std::optional<RequestRecord>>(
        Retry::kOnlyBeforeBegin, [&](pqxx::work& w) -> StatusOr<std::optional<RequestRecord>> {
          // ON CONFLICT waits for a concurrent inserter of the same key to commit, and the
          // SELECT (a new READ COMMITTED snapshot) then sees its row.
          if (!w.exec_prepared("svc_put_request", q.scope, q.key, q.fingerprint, q.status_code,
                               q.response_json, q.at_ms)
                   .empty()) {
            return std::optional<RequestRecord>();
          }
          pqxx::result r = w.exec_prepared("svc_get_request", q.scope, q.key);
          if (r.empty()) return Internal("store_error", "request vanished after a conflict");
          return std::optional<RequestRecord>(RequestFromRow(r[0]));
        });
  }

  StatusOr<std::optional<RequestRecord>> GetRequest(const std::string& scope,
                                                    const std::string& key) override {
    FACEPAY_RETURN_IF_ERROR(ValidateRequestKey(scope, key));
    return Run<std::optional<RequestRecord>>(
        Retry::kAlways, [&](pqxx::work& w) -> StatusOr<std::optional<RequestRecord>> {
          pqxx::result r = w.exec_prepared("svc_get_request", scope, key);
          if (r.empty()) return std::optional<RequestRecord>();
          return std::optional<RequestRecord>(RequestFromRow(r[0]));
        });
  }

  Status PutChallenge(const Challenge& c) override {
    FACEPAY_RETURN_IF_ERROR(ValidateChallenge(c));
    return Exec(Retry::kOnlyBeforeBegin, [&](pqxx::work& w) -> Status {
      if (w.exec_prepared("svc_put_challenge", c.id, c.kind, c.terminal, c.payload_json,
                          c.expires_at_ms, c.attempts_left, c.used)
              .empty()) {
        return AlreadyExists("challenge_exists", "challenge " + c.id + " already exists");
      }
      return Status::Ok();
    });
  }

  StatusOr<std::optional<Challenge>> GetChallenge(const std::string& id) override {
    FACEPAY_RETURN_IF_ERROR(ValidateChallengeId(id));
    return Run<std::optional<Challenge>>(
        Retry::kAlways, [&](pqxx::work& w) -> StatusOr<std::optional<Challenge>> {
          pqxx::result r = w.exec_prepared("svc_get_challenge", id);
          if (r.empty()) return std::optional<Challenge>();
          return std::optional<Challenge>(ChallengeFromRow(r[0]));
        });
  }

  StatusOr<Challenge> TakeChallengeAttempt(const std::string& id, int64_t now_ms,
                                           bool mark_used) override {
    FACEPAY_RETURN_IF_ERROR(ValidateChallengeId(id));
    return Run<Challenge>(Retry::kOnlyBeforeBegin, [&](pqxx::work& w) -> StatusOr<Challenge> {
      pqxx::result r = w.exec_prepared("svc_take_challenge", id, now_ms, mark_used);
      if (!r.empty()) {
        // The update only ran on an unused challenge with attempts left: undo it in memory.
        Challenge before = ChallengeFromRow(r[0]);
        before.attempts_left += 1;
        before.used = false;
        return before;
      }
      // Refused: say why. A challenge only ever moves towards used / exhausted, so the reason
      // read now is the one that made the update skip it.
      pqxx::result cur = w.exec_prepared("svc_get_challenge", id);
      if (cur.empty()) return NotFound("challenge_not_found", "no challenge " + id);
      FACEPAY_RETURN_IF_ERROR(RefuseChallenge(ChallengeFromRow(cur[0]), now_ms));
      return Internal("store_error", "challenge update skipped without a reason");
    });
  }

  Status MarkChallengeUsed(const std::string& id) override {
    FACEPAY_RETURN_IF_ERROR(ValidateChallengeId(id));
    return Exec(Retry::kAlways, [&](pqxx::work& w) -> Status {
      if (w.exec_prepared("svc_mark_used", id).empty()) {
        return NotFound("challenge_not_found", "no challenge " + id);
      }
      return Status::Ok();
    });
  }

  StatusOr<service::FactorBudget> GetFactorBudget(const std::string& scope) override {
    FACEPAY_RETURN_IF_ERROR(ValidateBudgetScope(scope));
    return Run<service::FactorBudget>(
        Retry::kAlways, [&](pqxx::work& w) -> StatusOr<service::FactorBudget> {
          return BudgetFrom(w.exec_params(
              "SELECT failures, lockouts, locked_until_ms, updated_at_ms FROM factor_budgets"
              " WHERE scope = $1", scope));
        });
  }

  StatusOr<service::FactorBudget> UpdateFactorBudget(
      const std::string& scope,
      const std::function<service::FactorBudget(service::FactorBudget)>& update) override {
    FACEPAY_RETURN_IF_ERROR(ValidateBudgetScope(scope));
    // The row is created first so that FOR UPDATE has something to lock: concurrent updates of
    // one scope on any node then run one after the other.
    return Run<service::FactorBudget>(
        Retry::kAlways, [&](pqxx::work& w) -> StatusOr<service::FactorBudget> {
          w.exec_params("INSERT INTO factor_budgets(scope, failures, lockouts, locked_until_ms,"
                        " updated_at_ms) VALUES($1, 0, 0, 0, 0) ON CONFLICT(scope) DO NOTHING",
                        scope);
          const service::FactorBudget next = update(BudgetFrom(w.exec_params(
              "SELECT failures, lockouts, locked_until_ms, updated_at_ms FROM factor_budgets"
              " WHERE scope = $1 FOR UPDATE", scope)));
          w.exec_params("UPDATE factor_budgets SET failures = $2, lockouts = $3,"
                        " locked_until_ms = $4, updated_at_ms = $5 WHERE scope = $1",
                        scope, next.failures, next.lockouts, next.locked_until_ms,
                        next.updated_at_ms);
          return next;
        });
  }

  StatusOr<std::string> GetCameraState(const std::string& camera) override {
    FACEPAY_RETURN_IF_ERROR(ValidateCameraName(camera));
    return Run<std::string>(Retry::kAlways, [&](pqxx::work& w) -> StatusOr<std::string> {
      const auto r = w.exec_params("SELECT state_json FROM camera_states WHERE camera = $1", camera);
      return r.empty() ? std::string() : r[0][0].as<std::string>();
    });
  }

  StatusOr<std::string> UpdateCameraState(
      const std::string& camera, int64_t now_ms,
      const std::function<std::string(std::string)>& update) override {
    FACEPAY_RETURN_IF_ERROR(ValidateCameraName(camera));
    // Created first so that FOR UPDATE has a row to lock (as for factor budgets).
    return Run<std::string>(Retry::kAlways, [&](pqxx::work& w) -> StatusOr<std::string> {
      w.exec_params("INSERT INTO camera_states(camera, state_json, updated_at_ms)"
                    " VALUES($1, '', $2) ON CONFLICT(camera) DO NOTHING", camera, now_ms);
      const auto r = w.exec_params(
          "SELECT state_json FROM camera_states WHERE camera = $1 FOR UPDATE", camera);
      std::string next = update(r.empty() ? std::string() : r[0][0].as<std::string>());
      FACEPAY_RETURN_IF_ERROR(ValidateCameraState(next));
      w.exec_params("UPDATE camera_states SET state_json = $2, updated_at_ms = $3 WHERE camera = $1",
                    camera, next, now_ms);
      return next;
    });
  }

  StatusOr<std::vector<std::pair<std::string, std::string>>> ListCameraStates() override {
    using Rows = std::vector<std::pair<std::string, std::string>>;
    return Run<Rows>(Retry::kAlways, [&](pqxx::work& w) -> StatusOr<Rows> {
      Rows out;
      for (const auto& row : w.exec("SELECT camera, state_json FROM camera_states"
                                    " WHERE state_json <> '' ORDER BY camera")) {
        out.emplace_back(row[0].as<std::string>(), row[1].as<std::string>());
      }
      return out;
    });
  }

  Status PutCard(const service::CardRecord& c) override {
    FACEPAY_RETURN_IF_ERROR(ValidateCard(c));
    return Exec(Retry::kOnlyBeforeBegin, [&](pqxx::work& w) -> Status {
      if (w.exec_prepared("svc_put_card", c.card_id, c.token_hash, c.account_id,
                          c.created_at_ms, c.revoked_at_ms).empty()) {
        return AlreadyExists("card_exists", "card " + c.card_id + " already exists");
      }
      return Status::Ok();
    });
  }

  StatusOr<std::optional<service::CardRecord>> FindCard(const std::string& token_hash) override {
    if (token_hash.empty() || token_hash.size() > kMaxIdLen) {
      return InvalidArgument("invalid_card_hash", "a card token hash is 1..128 bytes");
    }
    return Run<std::optional<service::CardRecord>>(
        Retry::kAlways, [&](pqxx::work& w) -> StatusOr<std::optional<service::CardRecord>> {
          pqxx::result r = w.exec_prepared("svc_find_card", token_hash);
          if (r.empty()) return std::optional<service::CardRecord>();
          return std::optional<service::CardRecord>(service::CardRecord{
              r[0][0].as<std::string>(), r[0][1].as<std::string>(), r[0][2].as<std::string>(),
              r[0][3].as<int64_t>(), r[0][4].as<int64_t>()});
        });
  }

  Status RevokeCard(const std::string& card_id, int64_t at_ms) override {
    FACEPAY_RETURN_IF_ERROR(ValidateCardId(card_id));
    if (at_ms <= 0) return InvalidArgument("invalid_time", "revocation time must be > 0");
    return Exec(Retry::kAlways, [&](pqxx::work& w) -> Status {
      if (w.exec_prepared("svc_revoke_card", card_id, at_ms).empty()) {
        return NotFound("card_not_found", "no card " + card_id);
      }
      return Status::Ok();
    });
  }

  Status CheckWritable() override {
    // txid_current() assigns a transaction id, which only a writable primary can do.
    return Exec(Retry::kAlways, [&](pqxx::work& w) -> Status {
      w.exec("SELECT txid_current()");
      return Status::Ok();
    });
  }

  std::string Backend() const override { return "postgres"; }

 private:
  // Runs `fn` in one transaction on a pooled session; commits only when it returns ok.
  // libpq / libpqxx exceptions become Unavailable("store_unavailable" | "store_error").
  template <typename T>
  StatusOr<T> Run(Retry retry, const std::function<StatusOr<T>(pqxx::work&)>& fn) {
    for (int attempt = 0;; ++attempt) {
      FACEPAY_ASSIGN_OR_RETURN(std::unique_ptr<pqxx::connection> conn, Acquire());
      bool began = false;
      try {
        std::optional<StatusOr<T>> out;
        {
          pqxx::work w(*conn);
          began = true;
          out.emplace(fn(w));
          if (out->ok()) w.commit();
        }
        Release(std::move(conn));
        return std::move(*out);
      } catch (const pqxx::broken_connection& e) {
        // conn is dropped. A lost session usually means a server restart, which took the idle
        // ones with it: drop them too, so the retry (and the next calls) connect afresh.
        DropIdle();
        bool again = attempt == 0 && (!began || retry == Retry::kAlways);
        if (!again) return Unavailable("store_unavailable", e.what());
      } catch (const pqxx::in_doubt_error& e) {
        return Unavailable("store_unavailable", e.what());
      } catch (const std::exception& e) {
        Release(std::move(conn));
        return Unavailable("store_error", e.what());
      }
    }
  }

  Status Exec(Retry retry, const std::function<Status(pqxx::work&)>& fn) {
    return Run<bool>(retry,
                     [&](pqxx::work& w) -> StatusOr<bool> {
                       FACEPAY_RETURN_IF_ERROR(fn(w));
                       return true;
                     })
        .status();
  }

  StatusOr<std::optional<std::string>> OneText(const char* stmt, const std::string& arg) {
    return Run<std::optional<std::string>>(
        Retry::kAlways, [&](pqxx::work& w) -> StatusOr<std::optional<std::string>> {
          pqxx::result r = w.exec_prepared(stmt, arg);
          if (r.empty()) return std::optional<std::string>();
          return std::optional<std::string>(r[0][0].as<std::string>());
        });
  }

  StatusOr<std::unique_ptr<pqxx::connection>> Acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    return Connect(url_);  // outside the lock: connecting takes a round trip or more
  }

  void DropIdle() {
    std::vector<std::unique_ptr<pqxx::connection>> dropped;
    std::lock_guard lock(mu_);
    dropped.swap(idle_);  // closed after the unlock (declared first, destroyed last)
  }

  void Release(std::unique_ptr<pqxx::connection> c) {
    if (!c || !c->is_open()) return;
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdleSessions) idle_.push_back(std::move(c));
  }

  const std::string url_;
  std::mutex mu_;  // guards idle_ (sessions not lent out; each is used by one caller at a time)
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
};

}  // namespace

StatusOr<std::unique_ptr<service::ServiceStore>> OpenPgServiceStore(const std::string& url) {
  FACEPAY_ASSIGN_OR_RETURN(auto conn, Connect(url));
  FACEPAY_RETURN_IF_ERROR(MigratePgService(*conn));
  return std::unique_ptr<service::ServiceStore>(new PgServiceStore(url, std::move(conn)));
}

}  // namespace facepay::storage
