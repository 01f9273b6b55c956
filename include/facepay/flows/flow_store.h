// FlowStore: what the flows (and the HTTP service above them) keep durable beside the ledger
// and the biometric store: API keys (hashed), the append-only audit log, subject <-> account
// links, idempotent request records (a gate's event id, a till's order id), short-lived step-up
// challenges, second-factor budgets, ATM cards and terminal cameras' liveness calibration. Implemented in facepay::storage over SQLite
// and PostgreSQL (same database as the rest); facepay::service::ServiceStore names it too.
//
// Never holds a raw image, an embedding, a plaintext API key secret or a plaintext second
// factor. All methods are thread-safe. Times are Unix milliseconds.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "facepay/common/status_or.h"

namespace facepay::flows {

struct ApiKeyRecord {
  std::string key_id;       // public part, e.g. "k_3f9a..." (16..40 chars of [A-Za-z0-9_])
  std::string secret_hash;  // hex BLAKE2b-256 of the secret (secrets are 256-bit random)
  std::string role;         // admin | enroller | gate | merchant | atm | border | auditor
  std::vector<std::string> bindings;  // terminal ids the key may act for ("" list = none)
  std::string label;
  double rate_per_s = 0;  // 0 = service default
  int64_t created_at_ms = 0;
  int64_t revoked_at_ms = 0;  // 0 = active
};

struct AuditRecord {
  int64_t seq = 0;  // assigned by the store, strictly increasing
  int64_t at_ms = 0;
  std::string actor;    // key id, "cli" or "system"
  std::string action;   // e.g. "passage", "payment", "enroll", "erase", "key_create"
  std::string target;   // subject id / account id / key id / terminal id
  std::string outcome;  // accept | step_up | reject | ok | error ...
  std::string detail_json;  // scores, reasons, timings; never images or embeddings
};

struct AuditQuery {
  int64_t after_seq = 0;
  int limit = 100;      // 1..1000
  std::string action;   // "" = any
  std::string target;   // "" = any
};

// A stored answer to an idempotent request: the same (scope, key) returns it again.
struct RequestRecord {
  std::string scope;        // e.g. "passage:g1", "payment:t1"
  std::string key;          // event id / order id
  std::string fingerprint;  // hash of the request parameters
  int status_code = 200;
  std::string response_json;
  int64_t at_ms = 0;
};

struct Challenge {
  std::string id;       // random, unguessable
  std::string kind;     // ChallengeKindName(): "step_up:passage" | "step_up:payment" | "atm_verification"
  std::string terminal; // the terminal it is bound to
  std::string payload_json;  // what the follow-up needs (candidates + scores, amount, order...)
  int64_t expires_at_ms = 0;
  int attempts_left = 3;
  bool used = false;
};

// A budget of second-factor guesses (step-up PIN or phone digits, ATM face verifications) for
// one scope: "subject:<id>", "account:<id>" or "key:<key id>". Absent = all zero.
struct FactorBudget {
  int failures = 0;             // failed guesses since the last success or lockout
  int lockouts = 0;             // lockouts so far: each one lasts twice the one before
  int64_t locked_until_ms = 0;  // refused until then
  int64_t updated_at_ms = 0;
};

// A bank card an ATM reads: it names the one account an ATM may verify a face against. The
// token on the card is 256 random bits; the store keeps only its BLAKE2b-256 (like API keys).
struct CardRecord {
  std::string card_id;     // public id, e.g. "c_3f9a..." (what an operator revokes)
  std::string token_hash;  // hex BLAKE2b-256 of the card token
  std::string account_id;
  int64_t created_at_ms = 0;
  int64_t revoked_at_ms = 0;  // 0 = active
};

class FlowStore {
 public:
  virtual ~FlowStore() = default;

  // AlreadyExists("key_exists").
  virtual Status PutKey(const ApiKeyRecord& key) = 0;
  virtual StatusOr<std::optional<ApiKeyRecord>> GetKey(const std::string& key_id) = 0;
  virtual StatusOr<std::vector<ApiKeyRecord>> ListKeys() = 0;
  // NotFound("key_not_found"); revoking twice keeps the first time.
  virtual Status RevokeKey(const std::string& key_id, int64_t at_ms) = 0;
  virtual StatusOr<int64_t> CountActiveKeys() = 0;

  // Appends; returns the record's seq.
  virtual StatusOr<int64_t> AppendAudit(const AuditRecord& rec) = 0;
  virtual StatusOr<std::vector<AuditRecord>> QueryAudit(const AuditQuery& q) = 0;

  // Links a subject to the account it pays from (replaces an earlier link of the subject).
  virtual Status LinkSubject(const std::string& subject_id, const std::string& account_id) = 0;
  virtual Status UnlinkSubject(const std::string& subject_id) = 0;
  virtual StatusOr<std::optional<std::string>> AccountOfSubject(const std::string& subject_id) = 0;
  virtual StatusOr<std::optional<std::string>> SubjectOfAccount(const std::string& account_id) = 0;

  // Inserts when (scope, key) is new and returns nullopt; otherwise returns the existing record
  // without changing it (the caller compares fingerprints). Atomic under concurrency: of two
  // concurrent inserts of one (scope, key) exactly one wins.
  virtual StatusOr<std::optional<RequestRecord>> PutRequestIfAbsent(const RequestRecord& rec) = 0;
  virtual StatusOr<std::optional<RequestRecord>> GetRequest(const std::string& scope,
                                                            const std::string& key) = 0;

  // AlreadyExists("challenge_exists").
  virtual Status PutChallenge(const Challenge& c) = 0;
  virtual StatusOr<std::optional<Challenge>> GetChallenge(const std::string& id) = 0;
  // Atomically: decrements attempts_left (when `consume_attempt`) and/or marks used. Returns the
  // challenge as it was BEFORE the update; FailedPrecondition("challenge_used") when already
  // used, ("challenge_expired") past expires_at_ms at `now_ms`, ("challenge_exhausted") when no
  // attempts are left; NotFound("challenge_not_found").
  virtual StatusOr<Challenge> TakeChallengeAttempt(const std::string& id, int64_t now_ms,
                                                   bool mark_used) = 0;
  virtual Status MarkChallengeUsed(const std::string& id) = 0;

  virtual StatusOr<FactorBudget> GetFactorBudget(const std::string& scope) = 0;
  // Atomically (across threads and nodes) replaces the budget of `scope` by update(current)
  // and returns the new value. `update` may run more than once (a retried transaction).
  virtual StatusOr<FactorBudget> UpdateFactorBudget(
      const std::string& scope, const std::function<FactorBudget(FactorBudget)>& update) = 0;

  // AlreadyExists("card_exists") when the id or the token hash is taken.
  virtual Status PutCard(const CardRecord& card) = 0;
  // The card whose token hashes to `token_hash` (revoked ones too: the caller refuses them).
  virtual StatusOr<std::optional<CardRecord>> FindCard(const std::string& token_hash) = 0;
  // NotFound("card_not_found"); revoking twice keeps the first time.
  virtual Status RevokeCard(const std::string& card_id, int64_t at_ms) = 0;

  // A terminal camera's liveness calibration state ("gate:g1", ...; flows/cameras.h owns the
  // JSON), "" when none. UpdateCameraState atomically (across threads and nodes) replaces it by
  // update(current) and returns the new value; `update` may run more than once. A state is at
  // most 64 KiB: InvalidArgument("camera_state_too_large").
  virtual StatusOr<std::string> GetCameraState(const std::string& camera) = 0;
  virtual StatusOr<std::string> UpdateCameraState(
      const std::string& camera, int64_t now_ms,
      const std::function<std::string(std::string)>& update) = 0;
  // Every camera with a state, by name.
  virtual StatusOr<std::vector<std::pair<std::string, std::string>>> ListCameraStates() = 0;

  // Ok when the store can start and commit a write now (readiness); Unavailable otherwise.
  virtual Status CheckWritable() = 0;

  virtual std::string Backend() const = 0;  // "sqlite" | "postgres"
};

}  // namespace facepay::flows
