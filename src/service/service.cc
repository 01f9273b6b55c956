#include "facepay/service/service.h"

#include <filesystem>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <regex>

#include "facepay/service/http_status.h"
#include "facepay/storage/biometric_stores.h"
#include "http_server.h"
#include "service_impl.h"

namespace facepay::service {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

double MsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

// "/v1/gates/{gate}/passages" -> "/v1/gates/([^/]+)/passages"
std::string PatternOf(const std::string& path) {
  static const std::regex kParam("\\{[a-z_]+\\}");
  return std::regex_replace(path, kParam, "([^/]+)");
}

const char* TerminalNoun(TerminalKind k) {
  switch (k) {
    case TerminalKind::kGate: return "gate";
    case TerminalKind::kTill: return "till";
    case TerminalKind::kAtm: return "atm";
    case TerminalKind::kBorder: return "border_post";
    case TerminalKind::kNone: break;
  }
  return "terminal";
}

bool TerminalExists(const Terminals& t, TerminalKind k, const std::string& id) {
  switch (k) {
    case TerminalKind::kGate: return t.gates.count(id) > 0;
    case TerminalKind::kTill: return t.tills.count(id) > 0;
    case TerminalKind::kAtm: return t.atms.count(id) > 0;
    case TerminalKind::kBorder: return t.borders.count(id) > 0;
    case TerminalKind::kNone: break;
  }
  return true;
}

Reply ErrorReply(const Status& s) { return Reply{HttpStatusOf(s), ErrorJson(s), "", "application/json"}; }

Status EnsureSystemAccount(payments::Ledger& ledger, const std::string& id,
                           payments::AccountKind kind, const std::string& currency) {
  auto got = ledger.GetAccount(id);
  if (got.ok()) {
    if (got->kind != kind || got->currency != currency) {
      return FailedPrecondition("system_account_mismatch",
                                "account " + id + " exists with another kind or currency");
    }
    return Status::Ok();
  }
  if (got.status().code() != StatusCode::kNotFound) return got.status();
  payments::Account a;
  a.id = id;
  a.kind = kind;
  a.currency = currency;
  auto made = ledger.CreateAccount(a);
  if (!made.ok() && made.status().reason() != "account_exists") return made.status();
  return Status::Ok();
}

}  // namespace

inline constexpr const char* kTopUpDeskAccount = "cash:topup-desk";

std::string Fingerprint(const json& fields, const Input& in) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  const std::string f = fields.dump();
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(f.data()), f.size());
  for (const auto& [name, list] : in.images) {
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(name.data()),
                              name.size());
    for (const auto& b : list) {
      unsigned char h[32];
      crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(b.data()), b.size(),
                         nullptr, 0);
      crypto_generichash_update(&st, h, sizeof h);
    }
  }
  unsigned char out[32];
  crypto_generichash_final(&st, out, sizeof out);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  return hex;
}


StatusOr<std::unique_ptr<Service>> Service::Create(ServiceDeps deps, ServiceOptions options) {
  if (!deps.pipeline || !deps.bio_store || !deps.gallery || !deps.template_key || !deps.ledger ||
      !deps.store || !deps.clock) {
    return InvalidArgument("missing_dependency", "the service needs every part wired in");
  }
  if (sodium_init() < 0) return Internal("sodium_init_failed", "libsodium failed to start");
  if (deps.border_hash_key.size() < 16) {
    return InvalidArgument("invalid_border_key", "the border hash key must be >= 16 bytes");
  }
  if (deps.offline_secret.size() < 16) {
    return InvalidArgument("invalid_offline_key", "the edge gates' offline secret must be >= 16 bytes");
  }
  const Terminals& t = deps.terminals;
  FACEPAY_RETURN_IF_ERROR(EnsureSystemAccount(*deps.ledger, t.fares.revenue_account,
                                              payments::AccountKind::kRevenue, t.currency));
  for (const auto& [id, till] : t.tills) {
    FACEPAY_RETURN_IF_ERROR(EnsureSystemAccount(*deps.ledger, till.merchant_account,
                                                payments::AccountKind::kMerchant, t.currency));
  }
  for (const auto& [id, atm] : t.atms) {
    FACEPAY_RETURN_IF_ERROR(EnsureSystemAccount(*deps.ledger, atm.cash_account,
                                                payments::AccountKind::kCash, t.currency));
  }
  FACEPAY_RETURN_IF_ERROR(EnsureSystemAccount(*deps.ledger, kTopUpDeskAccount,
                                              payments::AccountKind::kCash, t.currency));
  if (!options.web_dir.empty() && !std::filesystem::is_directory(options.web_dir)) {
    return InvalidArgument("web_dir_missing", "the pages folder '" + options.web_dir + "' does not exist");
  }
  auto impl = std::make_unique<Impl>();
  impl->deps = std::move(deps);
  impl->options = options;
  ConnectionLimits limits;
  limits.header_timeout_ms = options.header_timeout_ms;
  limits.request_timeout_ms = options.request_timeout_ms;
  limits.max_body_bytes = options.max_body_bytes;
  limits.max_connections = options.max_connections;
  limits.max_connections_per_address = options.max_connections_per_address;
  if (!options.tls_cert.empty() || !options.tls_key.empty()) {
    if (options.tls_cert.empty() || options.tls_key.empty()) {
      return InvalidArgument("invalid_tls", "TLS needs both --tls-cert and --tls-key");
    }
    auto ssl = std::make_unique<HardenedTlsServer>(limits, options.tls_cert.c_str(),
                                                   options.tls_key.c_str());
    if (!ssl->is_valid()) {
      return InvalidArgument("invalid_tls", "cannot load the TLS certificate or key");
    }
    impl->server = std::move(ssl);
  } else {
    impl->server = std::make_unique<HardenedServer>(limits);
  }
  impl->handler_slots = std::make_unique<std::counting_semaphore<>>(std::max(1, options.threads));
  impl->auth = std::make_unique<Authenticator>(*impl->deps.store, *impl->deps.clock);
  impl->limiter = std::make_unique<RateLimiter>(options.default_rate_per_s, *impl->deps.clock);
  impl->edge_limiter = std::make_unique<RateLimiter>(options.default_rate_per_s, *impl->deps.clock);
  impl->transit =
      std::make_unique<payments::TransitService>(*impl->deps.ledger, impl->deps.terminals.fares);
  impl->border_log = std::make_unique<payments::BorderLog>(
      impl->deps.ledger->store(), *impl->deps.clock, impl->deps.border_hash_key);
  impl->audit_sink = std::make_unique<StoreAudit>(*impl->deps.store);
  impl->cameras = std::make_unique<flows::CameraBook>(impl->deps.terminals, *impl->deps.store,
                                                      *impl->deps.clock, *impl->audit_sink,
                                                      impl->deps.sequence);
  flows::FlowDeps& fd = impl->flow_deps;
  fd.pipeline = impl->deps.pipeline;
  fd.sequence = impl->deps.sequence;
  fd.bio_store = impl->deps.bio_store;
  fd.gallery = impl->deps.gallery;
  fd.template_key = impl->deps.template_key;
  fd.policy = impl->deps.policy;
  fd.watchlist = impl->deps.watchlist;
  fd.ledger = impl->deps.ledger;
  fd.transit = impl->transit.get();
  fd.border_log = impl->border_log.get();
  fd.store = impl->deps.store;
  fd.clock = impl->deps.clock;
  fd.terminals = &impl->deps.terminals;
  fd.audit = impl->audit_sink.get();
  fd.counter = &impl->metrics;
  fd.challenge_order = impl->deps.challenge_order;
  fd.cameras = impl->cameras.get();
  fd.options.challenge_ttl_ms = options.challenge_ttl_ms;
  fd.options.verify_threshold = options.verify_threshold;
  fd.options.watchlist_threshold = options.watchlist_threshold;
  fd.options.keep_enrollment_images = options.keep_enrollment_images;
  impl->Install();
  return std::unique_ptr<Service>(new Service(std::move(impl)));
}

Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Service::~Service() { Stop(); }

StatusOr<int> Service::Listen(const std::string& host, int port) {
  int bound = port == 0 ? impl_->server->bind_to_any_port(host.c_str())
                        : (impl_->server->bind_to_port(host.c_str(), port) ? port : -1);
  if (bound <= 0) {
    return Unavailable("bind_failed", "cannot listen on " + host + ":" + std::to_string(port));
  }
  if (auto* hardened = dynamic_cast<HardenedListener*>(impl_->server.get())) {
    hardened->WidenBacklog(std::max(128, impl_->options.max_connections));
  }
  return bound;
}

void Service::Run() { impl_->server->listen_after_bind(); }

void Service::Stop() {
  if (impl_ && !impl_->stopping.exchange(true)) impl_->server->stop();
}

void Service::Impl::Register(RouteSpec spec) { routes.push_back(std::move(spec)); }

void Service::Impl::Install() {
  AddAdminRoutes();
  AddPeopleRoutes();
  AddEdgeRoutes();
  AddPairingRoutes();
  AddConsoleRoutes();
  AddChallengeRoutes();
  AddCameraRoutes();
  AddTerminalRoutes();
  // Connections get their own threads (a slow client holds only its own); handlers are
  // bounded by handler_slots.
  const size_t connection_threads = static_cast<size_t>(std::max(1, options.max_connections)) + 16;
  server->new_task_queue = [connection_threads] { return NewConnectionThreads(connection_threads); };
  server->set_payload_max_length(options.max_body_bytes);
  server->set_tcp_nodelay(true);
  server->set_read_timeout(5, 0);
  server->set_write_timeout(30, 0);
  // After the headers, before the body: the body deadline starts, framing is checked.
  server->set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    BeginRequestBody();
    res.set_header("X-Request-Id", CurrentRequest().request_id);
    const bool has_body_method = req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
    if (has_body_method && !req.has_header("Content-Length") &&
        req.get_header_value("Transfer-Encoding").find("chunked") == std::string::npos) {
      CurrentRequest().close_connection = true;
      res.status = 411;
      res.set_header("Connection", "close");
      res.set_content(ErrorJson(InvalidArgument("length_required",
                                                "send Content-Length or a chunked body"))
                          .dump(),
                      "application/json");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // spdlog makes its registry and default logger on first use; made here, before any
  // connection thread logs, two first requests never race to build it (found by TSan).
  (void)spdlog::default_logger_raw();
  if (options.access_log) {
    server->set_logger([](const httplib::Request& req, const httplib::Response& res) {
      const RequestTrace& t = CurrentRequest();
      const double ms =
          std::chrono::duration<double, std::milli>(SteadyClock::now() - t.started).count();
      // No query string, no headers, no body: nothing secret or biometric reaches the log.
      json line = {{"request_id", t.request_id}, {"method", req.method},
                   {"route", t.route},           {"status", res.status},
                   {"key_id", t.key_id.empty() ? json(nullptr) : json(t.key_id)},
                   {"ms", std::round(ms * 10) / 10},
                   {"bytes_in", req.body.size()}, {"remote", req.remote_addr}};
      if (res.status >= 500) {
        spdlog::error("access {}", line.dump());
      } else {
        spdlog::info("access {}", line.dump());
      }
    });
  }
  for (const RouteSpec& spec : routes) {
    const RouteSpec* s = &spec;
    auto fn = [this, s](const httplib::Request& req, httplib::Response& res) {
      Reply r = Dispatch(*s, req);
      res.status = r.status;
      if (!r.text.empty()) {
        res.set_content(r.text, r.content_type.c_str());
      } else {
        res.set_content(r.body.dump(), "application/json");
      }
    };
    const std::string pattern = PatternOf(spec.path);
    if (spec.method == "GET") server->Get(pattern, fn);
    if (spec.method == "POST") server->Post(pattern, fn);
    if (spec.method == "DELETE") server->Delete(pattern, fn);
  }
  AddPages();
  server->set_exception_handler([this](const httplib::Request& req, httplib::Response& res,
                                       std::exception_ptr ep) {
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      spdlog::error("request {}: unhandled exception on {} {}: {}", CurrentRequest().request_id,
                    req.method, req.path, e.what());
    } catch (...) {
      spdlog::error("request {}: unhandled exception on {} {}", CurrentRequest().request_id,
                    req.method, req.path);
    }
    res.status = 500;
    res.set_content(ErrorJson(Internal("internal", "request " + CurrentRequest().request_id)).dump(),
                    "application/json");
    metrics.ObserveRequest(req.method, "unhandled", 500, 0);
  });
  server->set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    // Only reached for errors httplib raises itself (no route, payload too large...).
    if (!res.body.empty()) return;
    const RequestTrace& t = CurrentRequest();
    if (t.body_over_limit) res.status = 413;  // a chunked body outgrew the limit
    if (t.body_timed_out && !t.body_over_limit) res.status = 408;
    Status s = res.status == 404   ? NotFound("no_such_route", "no route " + req.method + " " + req.path)
               : res.status == 413 ? InvalidArgument("payload_too_large", "the request body is too large")
               : res.status == 405 ? InvalidArgument("method_not_allowed", "method not allowed")
               : res.status == 408 ? InvalidArgument("request_timeout", "the request took too long to arrive")
                                   : InvalidArgument("bad_request", "the request is malformed");
    const int code = res.status;
    res.set_content(ErrorJson(s).dump(), "application/json");
    metrics.ObserveRequest(req.method, "unmatched", code, 0);
  });
}

Reply Service::Impl::Dispatch(const RouteSpec& spec, const httplib::Request& req) {
  const auto t0 = SteadyClock::now();
  Call call{req, std::nullopt, "", deps.clock->NowMs()};
  Reply reply;
  RequestTrace& trace = CurrentRequest();
  trace.route = spec.path;
  auto run = [&]() -> StatusOr<Reply> {
    if (!spec.roles.empty()) {
      std::string header = req.get_header_value("Authorization");
      if (header.empty()) header = req.get_header_value("X-API-Key");
      FACEPAY_ASSIGN_OR_RETURN(Principal p, auth->Authenticate(header));
      const bool role_ok =
          p.role == Role::kAdmin ||
          std::find(spec.roles.begin(), spec.roles.end(), p.role) != spec.roles.end();
      if (!role_ok) {
        return PermissionDenied("forbidden_role", std::string("a ") + RoleName(p.role) +
                                                      " key may not call " + spec.method + " " +
                                                      spec.path);
      }
      if (spec.terminal != TerminalKind::kNone) {
        call.terminal = call.Param(1);
        if (p.role != Role::kAdmin && !p.BoundTo(call.terminal)) {
          return PermissionDenied("terminal_not_bound", std::string("this key is not bound to ") +
                                                            TerminalNoun(spec.terminal) + " " +
                                                            call.terminal);
        }
      }
      if (!limiter->Allow(p.key_id, p.rate_per_s)) {
        return ResourceExhausted("rate_limited", "too many requests for this key; slow down");
      }
      trace.key_id = p.key_id;
      MarkSeen(p.key_id, call.now_ms);
      call.who = std::move(p);
    }
    if (spec.terminal != TerminalKind::kNone &&
        !TerminalExists(deps.terminals, spec.terminal, call.Param(1))) {
      return NotFound(std::string("unknown_") + TerminalNoun(spec.terminal),
                      std::string("no ") + TerminalNoun(spec.terminal) + " '" + call.Param(1) +
                          "'");
    }
    call.terminal = call.Param(1);
    if (spec.roles.empty()) return spec.handler(call);  // health, OpenAPI: never queued
    handler_slots->acquire();
    struct Release {
      std::counting_semaphore<>& s;
      ~Release() { s.release(); }
    } release{*handler_slots};
    return spec.handler(call);
  };
  try {
    auto r = run();
    if (r.ok()) {
      reply = std::move(*r);
    } else {
      if (HttpStatusOf(r.status()) >= 500) {
        spdlog::error("request {}: {} {}: {}", trace.request_id, req.method, req.path,
                      r.status().ToString());
      }
      reply = ErrorReply(r.status());
    }
  } catch (const std::exception& e) {
    spdlog::error("request {}: {} {}: exception: {}", trace.request_id, req.method, req.path,
                  e.what());
    reply = ErrorReply(Internal("internal", "request " + trace.request_id));
  }
  metrics.ObserveRequest(spec.method, spec.path, reply.status, MsSince(t0) / 1000.0);
  return reply;
}

StatusOr<flows::Sighting> Service::Impl::SightingOf(const Input& in, bool allow_template) const {
  flows::Sighting s;
  if (in.fields.contains("template")) {
    if (!allow_template) {
      return InvalidArgument("template_not_allowed", "this route needs camera frames");
    }
    if (!in.images.empty()) {
      return InvalidArgument("frames_and_template", "send either frames or a template");
    }
    FACEPAY_ASSIGN_OR_RETURN(s.edge,
                             ProbeFromTemplate(in.fields, deps.pipeline->pack().params().embedding_dim));
    return s;
  }
  auto it = in.images.find("frames");
  if (it == in.images.end()) return InvalidArgument("missing_frames", "send 'frames'");
  if (in.fields.contains("frame_interval_ms")) {
    const auto& v = in.fields["frame_interval_ms"];
    if (!v.is_number() || v.get<double>() < 1 || v.get<double>() > 2000) {
      return InvalidArgument("invalid_frame_interval_ms", "frame_interval_ms must be 1..2000");
    }
    s.frame_interval_ms = v.get<double>();
  }
  s.frames = it->second;
  return s;
}

StatusOr<Reply> Service::Impl::Idempotent(const Call& c, const std::string& scope,
                                          const std::string& key, const Input& in, Rerun rerun,
                                          const std::function<StatusOr<Reply>()>& run) const {
  const std::string fp = Fingerprint(in.fields, in);
  FACEPAY_ASSIGN_OR_RETURN(auto replay, Replay(scope, key, fp));
  if (replay) return std::move(*replay);
  FACEPAY_ASSIGN_OR_RETURN(Reply reply, run());
  return Remember(scope, key, fp, std::move(reply), c.now_ms, rerun);
}

void StoreAudit::Audit(const flows::Caller& who, int64_t at_ms, const std::string& action,
                       const std::string& target, const std::string& outcome, json detail) {
  AuditRecord rec;
  rec.at_ms = at_ms;
  rec.actor = who.actor;
  rec.action = action;
  rec.target = target;
  rec.outcome = outcome;
  if (!who.terminal.empty()) detail["terminal"] = who.terminal;
  rec.detail_json = detail.dump();
  auto s = store_.AppendAudit(rec);
  if (!s.ok()) spdlog::error("audit append failed ({} {}): {}", action, target, s.status().ToString());
}

void Service::Impl::Audit(const Call& c, const std::string& action, const std::string& target,
                          const std::string& outcome, json detail) const {
  audit_sink->Audit(c.Who(), c.now_ms, action, target, outcome, std::move(detail));
}

StatusOr<std::optional<Reply>> Service::Impl::Replay(const std::string& scope,
                                                     const std::string& key,
                                                     const std::string& fingerprint) const {
  FACEPAY_ASSIGN_OR_RETURN(auto rec, deps.store->GetRequest(scope, key));
  if (!rec) return std::optional<Reply>();
  if (rec->fingerprint != fingerprint) {
    return FailedPrecondition("idempotency_key_reused",
                              "'" + key + "' was already used with different parameters");
  }
  Reply r;
  r.status = rec->status_code;
  r.body = json::parse(rec->response_json, nullptr, false);
  if (r.body.is_discarded()) return DataLoss("bad_request_record", "stored reply is not JSON");
  r.body["replayed"] = true;
  return std::optional<Reply>(std::move(r));
}

StatusOr<Reply> Service::Impl::Remember(const std::string& scope, const std::string& key,
                                        const std::string& fingerprint, Reply reply,
                                        int64_t now_ms, Rerun rerun) const {
  RequestRecord rec;
  rec.scope = scope;
  rec.key = key;
  rec.fingerprint = fingerprint;
  rec.status_code = reply.status;
  reply.body["replayed"] = false;
  rec.response_json = reply.body.dump();
  rec.at_ms = now_ms;
  auto prior = deps.store->PutRequestIfAbsent(rec);
  if (!prior.ok()) {
    spdlog::error("cannot record request {}/{}: {}", scope, key, prior.status().ToString());
    // Not recorded (the store failed between the flow's commit and this write). A request that
    // may run again is not answered: the terminal's retry runs it again, and what it moved is
    // keyed in the ledger too, so it is replayed there, never charged twice, and this time the
    // answer is kept. One that consumed something (a verification, a challenge) cannot run
    // again: it sends its answer, which a lost-answer retry will not get back.
    if (rerun == Rerun::kUnsafe) return reply;
    return Unavailable("store_unavailable",
                       "the answer could not be recorded: retry with the same key (nothing is "
                       "charged twice)");
  }
  if (*prior) {  // a concurrent twin answered first: its answer is the answer
    Reply r;
    r.status = (*prior)->status_code;
    r.body = json::parse((*prior)->response_json, nullptr, false);
    if (!r.body.is_discarded()) {
      r.body["replayed"] = true;
      return r;
    }
  }
  return reply;
}

}  // namespace facepay::service
