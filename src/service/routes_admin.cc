// Operations routes: health, metrics, OpenAPI, audit log, stats.
#include <cstdio>
#include <regex>

#include "service_impl.h"

namespace facepay::service {
namespace {

using nlohmann::json;

json OpenApi(const std::vector<RouteSpec>& routes) {
  json doc;
  doc["openapi"] = "3.0.3";
  doc["info"] = {{"title", "facepay"},
                 {"version", "1"},
                 {"description",
                  "Face-biometric payments and ticketing. Errors: {\"error\": {\"code\", "
                  "\"message\"}}; see docs/api.md for every code and limit."}};
  doc["components"]["securitySchemes"]["bearer"] = {{"type", "http"}, {"scheme", "bearer"}};
  doc["components"]["securitySchemes"]["apiKey"] = {
      {"type", "apiKey"}, {"in", "header"}, {"name", "X-API-Key"}};
  json err_props;
  err_props["code"] = {{"type", "string"}};
  err_props["message"] = {{"type", "string"}};
  json error_schema;
  error_schema["type"] = "object";
  error_schema["properties"]["error"] = {{"type", "object"}, {"properties", err_props}};
  doc["components"]["schemas"]["Error"] = error_schema;
  doc["paths"] = json::object();
  static const std::regex kParam("\\{([a-z_]+)\\}");
  for (const RouteSpec& r : routes) {
    std::string method = r.method;
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    json op = {{"summary", r.summary}, {"operationId", method + r.path}};
    json params = json::array();
    for (std::sregex_iterator it(r.path.begin(), r.path.end(), kParam), end; it != end; ++it) {
      params.push_back({{"name", (*it)[1].str()},
                        {"in", "path"},
                        {"required", true},
                        {"schema", {{"type", "string"}}}});
    }
    if (!params.empty()) op["parameters"] = params;
    json roles = json::array();
    for (Role role : r.roles) roles.push_back(RoleName(role));
    if (r.roles.empty()) {
      op["security"] = json::array();
    } else {
      op["security"] = json::array({{{"bearer", json::array()}}, {{"apiKey", json::array()}}});
      roles.push_back("admin");
      op["x-roles"] = roles;
    }
    if (r.method == "POST") {
      op["requestBody"] = {
          {"required", true},
          {"content",
           {{"application/json", {{"schema", {{"type", "object"}}}}},
            {"multipart/form-data", {{"schema", {{"type", "object"}}}}}}}};
    }
    json err = {{"description", "error"},
                {"content",
                 {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
    op["responses"] = {{"200", {{"description", "success"}}}, {"default", err}};
    doc["paths"][r.path][method] = op;
  }
  return doc;
}

}  // namespace

namespace {

// Every judged burst's calibrated CNN logit, per camera (this node): a Prometheus histogram.
std::string CameraHistograms(const std::vector<flows::CameraView>& views) {
  std::string o =
      "# HELP facepay_camera_cnn_logit Calibrated median CNN logit of judged bursts, per camera.\n"
      "# TYPE facepay_camera_cnn_logit histogram\n";
  char buf[64];
  for (const auto& v : views) {
    const std::string cam = "camera=\"" + v.camera + "\"";
    int64_t cumulative = 0;
    for (size_t b = 0; b <= flows::kLogitBuckets.size(); ++b) {
      cumulative += v.histogram[b];
      if (b < flows::kLogitBuckets.size()) {
        std::snprintf(buf, sizeof buf, "%g", static_cast<double>(flows::kLogitBuckets[b]));
      } else {
        std::snprintf(buf, sizeof buf, "+Inf");
      }
      o.append("facepay_camera_cnn_logit_bucket{").append(cam).append(",le=\"").append(buf);
      o.append("\"} ").append(std::to_string(cumulative)).append("\n");
    }
    std::snprintf(buf, sizeof buf, "%.6g", v.logit_sum);
    o.append("facepay_camera_cnn_logit_sum{").append(cam).append("} ").append(buf).append("\n");
    o.append("facepay_camera_cnn_logit_count{").append(cam).append("} ");
    o.append(std::to_string(v.bursts_total)).append("\n");
  }
  return o;
}

}  // namespace

void Service::Impl::AddAdminRoutes() {
  // Liveness: the process answers (a supervisor restarts it when this fails). Readiness: it
  // can do its work now, i.e. both stores answer and the service store can commit (a locked
  // SQLite file or a read-only PostgreSQL makes it unready: a load balancer sends elsewhere).
  Register({"GET", "/healthz/live", {}, TerminalKind::kNone, "Liveness: the server answers",
            [](Call&) -> StatusOr<Reply> { return Reply{200, json{{"status", "ok"}}}; }});
  auto ready = [this](Call&) -> StatusOr<Reply> {
    json j = {{"status", "ok"},
              {"store", deps.store->Backend()},
              {"gallery_templates", deps.gallery->template_count()}};
    auto seq = deps.bio_store->LatestSequence();
    if (!seq.ok()) return Unavailable("store_unavailable", "the biometric store does not answer");
    j["change_log_sequence"] = *seq;
    // Said on every health check: a camera without calibration is judged conservatively (its
    // unsure bursts step up), so its genuine users meet more step-ups until it is calibrated;
    // a calibrated camera whose genuine scores moved (drift) needs calibrating again.
    auto views = cameras->Views();
    if (!views.ok()) return Unavailable("store_unavailable", "the service store does not answer");
    json uncalibrated = json::array(), drifted = json::array(), warnings = json::array();
    for (const auto& v : *views) {
      if (!v.profile) uncalibrated.push_back(v.camera);
      if (v.drift_alert) drifted.push_back(v.camera);
    }
    j["uncalibrated_cameras"] = uncalibrated;
    j["drifted_cameras"] = drifted;
    if (!uncalibrated.empty()) {
      warnings.push_back(std::to_string(uncalibrated.size()) +
                         " terminal camera(s) have no calibration profile: judged at the "
                         "conservative liveness offset, unsure bursts step up (docs/liveness.md)");
    }
    for (const auto& v : *views) {
      if (!v.drift_alert) continue;
      char buf[200];
      std::snprintf(buf, sizeof buf,
                    "camera %s has drifted: its matched bursts' median CNN logit is %+.1f from "
                    "the calibration target; calibrate it again",
                    v.camera.c_str(), *v.drift_logits);
      warnings.push_back(buf);
    }
    if (!warnings.empty()) j["warnings"] = warnings;
    Status w = deps.store->CheckWritable();
    if (!w.ok()) return Unavailable("store_not_writable", "the store cannot commit: " + std::string(w.message()));
    return Reply{200, j};
  };
  Register({"GET", "/healthz/ready", {}, TerminalKind::kNone,
            "Readiness: the stores answer and can commit", ready});
  Register({"GET", "/healthz", {}, TerminalKind::kNone, "Readiness (as /healthz/ready)", ready});
  Register({"GET", "/v1/openapi.json", {}, TerminalKind::kNone, "This OpenAPI document",
            [this](Call&) -> StatusOr<Reply> { return Reply{200, OpenApi(routes)}; }});
  Register({"GET", "/metrics", {Role::kAuditor}, TerminalKind::kNone,
            "Prometheus metrics (text format 0.0.4)", [this](Call&) -> StatusOr<Reply> {
              std::vector<Metrics::Gauge> g;
              g.push_back({"facepay_gallery_templates", "Templates in the in-memory gallery.",
                           static_cast<double>(deps.gallery->template_count())});
              g.push_back({"facepay_gallery_subjects", "Subjects in the in-memory gallery.",
                           static_cast<double>(deps.gallery->subject_count())});
              FACEPAY_ASSIGN_OR_RETURN(auto views, cameras->Views());
              int uncalibrated = 0;
              for (const auto& v : views) uncalibrated += v.profile ? 0 : 1;
              g.push_back({"facepay_uncalibrated_cameras",
                           "Terminal cameras with no calibration profile (judged conservatively).",
                           static_cast<double>(uncalibrated)});
              for (const auto& v : views) {
                const std::string l = "{camera=\"" + v.camera + "\"}";
                g.push_back({"facepay_camera_calibrated" + l,
                             "1 when the camera has a calibration profile.", v.profile ? 1.0 : 0.0});
                g.push_back({"facepay_camera_cnn_logit_offset" + l,
                             "The CNN logit offset the camera's bursts are judged with.",
                             v.judged_offset});
                if (v.drift_logits) {
                  g.push_back({"facepay_camera_drift_logits" + l,
                               "Median calibrated CNN logit of the camera's last matched bursts "
                               "minus the calibration target.",
                               *v.drift_logits});
                }
                g.push_back({"facepay_camera_drift_alert" + l,
                             "1 when the camera's drift is past the alert bound.",
                             v.drift_alert ? 1.0 : 0.0});
              }
              auto rev = deps.ledger->GetAccount(deps.terminals.fares.revenue_account);
              if (rev.ok()) {
                g.push_back({"facepay_ledger_fare_revenue_minor",
                             "Balance of the fare revenue account (minor units).",
                             static_cast<double>(rev->balance_minor)});
              }
              for (const auto& [id, till] : deps.terminals.tills) {
                auto m = deps.ledger->GetAccount(till.merchant_account);
                if (m.ok()) {
                  g.push_back({"facepay_ledger_merchant_balance_minor{account=\"" +
                                   till.merchant_account + "\"}",
                               "Merchant settlement balances (minor units).",
                               static_cast<double>(m->balance_minor)});
                }
              }
              Reply r;
              r.text = metrics.Render(g) + CameraHistograms(views);
              r.content_type = "text/plain; version=0.0.4";
              return r;
            }});
  Register({"GET", "/v1/audit", {Role::kAuditor}, TerminalKind::kNone,
            "Audit log, oldest first (query: after, limit, action, target)",
            [this](Call& c) -> StatusOr<Reply> {
              AuditQuery q;
              FACEPAY_ASSIGN_OR_RETURN(q.limit, QueryLimit(c.req));
              if (c.req.has_param("after")) {
                try {
                  q.after_seq = std::stoll(c.req.get_param_value("after"));
                } catch (const std::exception&) {
                  return InvalidArgument("invalid_after", "after must be an audit sequence number");
                }
              }
              q.action = c.req.get_param_value("action");
              q.target = c.req.get_param_value("target");
              FACEPAY_ASSIGN_OR_RETURN(auto rows, deps.store->QueryAudit(q));
              json items = json::array();
              for (const auto& a : rows) {
                json d = json::parse(a.detail_json, nullptr, false);
                items.push_back({{"seq", a.seq},
                                 {"at_ms", a.at_ms},
                                 {"actor", a.actor},
                                 {"action", a.action},
                                 {"target", a.target},
                                 {"outcome", a.outcome},
                                 {"detail", d.is_discarded() ? json(a.detail_json) : d}});
              }
              json j = {{"items", items}};
              if (!rows.empty()) j["next_after"] = rows.back().seq;
              return Reply{200, j};
            }});
  Register({"GET", "/v1/stats", {Role::kAuditor}, TerminalKind::kNone,
            "Gallery, policy and ledger summary", [this](Call&) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(int64_t subjects, deps.bio_store->CountSubjects());
              FACEPAY_ASSIGN_OR_RETURN(int64_t seq, deps.bio_store->LatestSequence());
              json j = {{"subjects", subjects},
                        {"gallery_templates", deps.gallery->template_count()},
                        {"change_log_sequence", seq},
                        {"policy", biometrics::PolicyToJson(deps.policy)},
                        {"ledger_backend", deps.ledger->store().Backend()},
                        {"gates", deps.terminals.gates.size()},
                        {"tills", deps.terminals.tills.size()}};
              return Reply{200, j};
            }});
}

}  // namespace facepay::service
