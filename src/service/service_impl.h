// Internals of Service shared by the route files: the route table, the call context and the
// helpers every flow uses (decide a probe, audit, idempotent replies).
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <semaphore>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "facepay/biometrics/enrollment.h"
#include "facepay/flows/cameras.h"
#include "facepay/flows/enrolment_flow.h"
#include "facepay/flows/factor_budget.h"
#include "facepay/flows/flow_deps.h"
#include "facepay/flows/guess_budgets.h"
#include "facepay/flows/identifier.h"
#include "facepay/flows/records.h"
#include "facepay/payments/banking.h"
#include "facepay/payments/transit.h"
#include "facepay/service/auth.h"
#include "facepay/service/metrics.h"
#include "facepay/service/service.h"
#include "flow_answers.h"
#include "probe.h"
#include "request_io.h"

namespace facepay::service {

using flows::AccountScope;
using flows::AfterFailure;
using flows::AfterSuccess;
using flows::BudgetPolicy;
using flows::IsLocked;
using flows::KeyBudgetPolicy;
using flows::KeyScope;
using flows::SubjectBudgetPolicy;
using flows::SubjectScope;
using flows::DecisionJson;
using flows::Identification;

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
  flows::Caller Who() const { return {Actor(), terminal}; }
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

// The audit log in the service store (a failed append is logged, never fails the request).
class StoreAudit final : public flows::AuditSink {
 public:
  explicit StoreAudit(ServiceStore& store) : store_(store) {}
  void Audit(const flows::Caller& who, int64_t at_ms, const std::string& action,
             const std::string& target, const std::string& outcome,
             nlohmann::json detail) override;

 private:
  ServiceStore& store_;
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
  std::unique_ptr<StoreAudit> audit_sink;
  std::unique_ptr<flows::CameraBook> cameras;  // calibration and drift of terminal cameras
  flows::FlowDeps flow_deps;  // the flows' view of deps (pointers into this Impl)
  std::vector<RouteSpec> routes;
  std::atomic<bool> stopping{false};
  // Bounds the route handlers running at once to options.threads (connections have their own
  // threads; the vision work behind a handler is what the cores can take).
  std::unique_ptr<std::counting_semaphore<>> handler_slots;

  void Register(RouteSpec spec);
  void AddAdminRoutes();
  void AddPeopleRoutes();
  void AddTerminalRoutes();
  void AddEdgeRoutes();  // routes_edge.cc: gate replicas and offline passages
  void AddPairingRoutes();  // routes_pairing.cc: terminal screens exchange a code for a key
  void AddConsoleRoutes();  // routes_console.cc: sessions, keys, terminals, frame checks
  void AddChallengeRoutes();  // routes_challenges.cc: kiosks' active liveness challenges
  void AddCameraRoutes();     // routes_cameras.cc: camera calibration and drift
  void AddPages();          // pages.cc: the web/ screens, when options.web_dir is set
  // When each key last called this node (GET /v1/terminals), in memory, bounded.
  mutable std::mutex last_seen_mu;  // guards last_seen
  std::map<std::string, int64_t> last_seen;
  int64_t LastSeen(const std::string& key_id) const;
  void MarkSeen(const std::string& key_id, int64_t now_ms);
  void Install();  // routes + handlers into `server`
  Reply Dispatch(const RouteSpec& spec, const httplib::Request& req);

  // What the terminal showed: frames (with their interval) or an edge template, read and
  // checked (template_not_allowed, frames_and_template, missing_frames, invalid_template...).
  StatusOr<flows::Sighting> SightingOf(const Input& in, bool allow_template) const;
  // An idempotent request: the stored answer of (scope, key) again, or run() and remember it.
  // kSafe: run() may run again for the same key (what it moves is keyed), so an answer that
  // cannot be recorded is a 503 for the terminal to retry; kUnsafe: it consumed something.
  enum class Rerun { kSafe, kUnsafe };
  StatusOr<Reply> Idempotent(const Call& c, const std::string& scope, const std::string& key,
                             const Input& in, Rerun rerun,
                             const std::function<StatusOr<Reply>()>& run) const;
  // An enrolment's images, burst and "fuse" option (routes_people.cc).
  StatusOr<flows::EnrolmentCapture> CaptureOf(const Input& in) const;
  void Audit(const Call& c, const std::string& action, const std::string& target,
             const std::string& outcome, nlohmann::json detail) const;
  // Idempotent requests: returns the stored reply of (scope, key) when there is one (409
  // idempotency_key_reused when its fingerprint differs), else nullopt.
  StatusOr<std::optional<Reply>> Replay(const std::string& scope, const std::string& key,
                                        const std::string& fingerprint) const;
  // Stores `reply` for (scope, key) unless a concurrent twin stored first: returns the winner.
  // When it cannot be stored: kSafe, 503 store_unavailable (the caller retries with the same
  // key); kUnsafe, `reply` itself.
  StatusOr<Reply> Remember(const std::string& scope, const std::string& key,
                           const std::string& fingerprint, Reply reply, int64_t now_ms,
                           Rerun rerun) const;
};

// BLAKE2b-256 hex of the request parts (idempotency fingerprints).
std::string Fingerprint(const nlohmann::json& fields, const Input& in);

}  // namespace facepay::service
