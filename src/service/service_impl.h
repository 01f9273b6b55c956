// Internals of Service shared by the route files: the route table, the call context and the
// helpers every flow uses (decide a probe, audit, idempotent replies).
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <semaphore>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "facepay/biometrics/enrollment.h"
#include "facepay/payments/banking.h"
#include "facepay/payments/transit.h"
#include "facepay/service/auth.h"
#include "facepay/service/metrics.h"
#include "facepay/service/service.h"
#include "probe.h"
#include "request_io.h"

namespace facepay::service {

struct Reply {
  int status = 200;
  nlohmann::json body;
  std::string text;  // non-JSON body (metrics), with content_type
  std::string content_type = "application/json";
};

enum class TerminalKind { kNone, kGate, kTill, kAtm, kBorder };

struct Call {
  const httplib::Request& req;
  std::optional<Principal> who;  // unset on public routes
  std::string terminal;          // the {gate}/{till}/{atm}/{post} path parameter
  int64_t now_ms = 0;
  std::string Param(size_t i) const { return i < req.matches.size() ? req.matches[i].str() : ""; }
  std::string Actor() const { return who ? who->key_id : "anonymous"; }
  // Exact scores, thresholds and margins are for operators (admin, auditor keys) and the audit
  // log; a terminal's answer carries the decision only, so it cannot be used as a score oracle.
  bool SeesScores() const {
    return who && (who->role == Role::kAdmin || who->role == Role::kAuditor);
  }
};

using Handler = std::function<StatusOr<Reply>(Call&)>;

struct RouteSpec {
  std::string method;   // GET | POST | DELETE
  std::string path;     // OpenAPI form, e.g. /v1/gates/{gate}/passages
  std::vector<Role> roles;  // empty = public; admin is always allowed
  TerminalKind terminal = TerminalKind::kNone;
  std::string summary;
  Handler handler;
};

// What one biometric identification concluded.
struct Identification {
  Probe probe;
  biometrics::Decision decision;
  std::vector<biometrics::Candidate> top;
  double search_ms = 0, decide_ms = 0;
};

struct Service::Impl {
  ServiceDeps deps;
  ServiceOptions options;
  std::unique_ptr<httplib::Server> server;
  Metrics metrics;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<RateLimiter> limiter;
  std::unique_ptr<RateLimiter> edge_limiter;  // template passages per edge gate
  std::unique_ptr<payments::TransitService> transit;
  std::unique_ptr<payments::BorderLog> border_log;
  std::vector<RouteSpec> routes;
  std::atomic<bool> stopping{false};
  // Bounds the route handlers running at once to options.threads (connections have their own
  // threads; the vision work behind a handler is what the cores can take).
  std::unique_ptr<std::counting_semaphore<>> handler_slots;

  void Register(RouteSpec spec);
  void AddAdminRoutes();
  void AddPeopleRoutes();
  void AddTerminalRoutes();
  void Install();  // routes + handlers into `server`
  Reply Dispatch(const RouteSpec& spec, const httplib::Request& req);

  // Frames (or an edge template) of the request -> probe, for terminal `cnn_logit_offset`.
  StatusOr<Probe> ProbeOf(const Input& in, float cnn_logit_offset, bool allow_template) const;
  // An enrolment's camera burst (>= 3 "frames" with a face) judged by sequence liveness: the
  // 422 reply (audited as `action`) when it is an attack or shows several people; otherwise
  // nullopt, with eo.check_liveness off when the burst attested liveness. `liveness` gets
  // the verdict for the reply ({"mode": "per_image"} when the request is not such a burst).
  StatusOr<std::optional<Reply>> JudgeEnrollmentBurst(const Call& c, const Input& in,
                                                      const std::string& action,
                                                      const std::string& subject_id,
                                                      biometrics::EnrollOptions& eo,
                                                      nlohmann::json& liveness) const;
  // 1:N search + policy; with `second_factor` the candidates are narrowed by it.
  StatusOr<Identification> Identify(
      Probe probe, const std::function<bool(const std::string&)>* second_factor = nullptr) const;
  // 1:1: best score of the probe against the subject's templates; nullopt without templates.
  StatusOr<std::optional<float>> Verify(const std::string& subject_id,
                                        const vision::Embedding& probe) const;
  // Second-factor budgets (factor_budget.h): Locked() reads, CountFailure/CountSuccess update
  // and audit (a lockout is audited with its scope as the target and raises an alert line).
  StatusOr<bool> Locked(const std::string& scope, int64_t now_ms) const;
  void CountFailure(const Call& c, const std::string& scope, bool per_key);
  void CountSuccess(const Call& c, const std::string& scope);
  void Audit(const Call& c, const std::string& action, const std::string& target,
             const std::string& outcome, nlohmann::json detail) const;
  // Idempotent requests: returns the stored reply of (scope, key) when there is one (409
  // idempotency_key_reused when its fingerprint differs), else nullopt.
  StatusOr<std::optional<Reply>> Replay(const std::string& scope, const std::string& key,
                                        const std::string& fingerprint) const;
  // Stores `reply` for (scope, key) unless a concurrent twin stored first: returns the winner.
  Reply Remember(const std::string& scope, const std::string& key,
                 const std::string& fingerprint, Reply reply, int64_t now_ms) const;
};

// BLAKE2b-256 hex of the request parts (idempotency fingerprints).
std::string Fingerprint(const nlohmann::json& fields, const Input& in);
nlohmann::json DecisionJson(const biometrics::Decision& d, bool scores = true);
nlohmann::json IdentificationTimings(const Identification& id);

}  // namespace facepay::service
