// Edge gate routes (offline operation, include/facepay/flows/offline.h): the gallery replica a
// gate keeps for when the server is unreachable, and the settlement of the passages it decided
// then. Only gates the terminals config declares `"edge": true`, with a gate key bound to them.
#include <sodium.h>

#include "facepay/flows/offline.h"
#include "facepay/payments/result_json.h"
#include "service_impl.h"

namespace facepay::service {
namespace {

using nlohmann::json;

Status RequireEdge(const Terminals& t, const std::string& gate) {
  const auto it = t.gates.find(gate);
  if (it == t.gates.end() || !it->second.edge) {
    return PermissionDenied("not_an_edge_gate", "gate " + gate + " is not an edge gate");
  }
  return Status::Ok();
}

StatusOr<int64_t> QueryInt(const httplib::Request& req, const char* name, int64_t fallback,
                           int64_t lo, int64_t hi) {
  if (!req.has_param(name)) return fallback;
  const std::string v = req.get_param_value(name);
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgument(std::string("invalid_") + name, std::string(name) + " must be a number");
  }
  const int64_t n = std::stoll(v);
  if (n < lo || n > hi) {
    return InvalidArgument(std::string("invalid_") + name,
                           std::string(name) + " must be in " + std::to_string(lo) + ".." +
                               std::to_string(hi));
  }
  return n;
}

StatusOr<flows::OfflineRecord> ReadRecord(const json& o) {
  if (!o.is_object()) return InvalidArgument("invalid_records", "each record is an object");
  flows::OfflineRecord r;
  FACEPAY_ASSIGN_OR_RETURN(r.event_id, RequiredId(o, "event_id"));
  FACEPAY_ASSIGN_OR_RETURN(r.subject_id, RequiredId(o, "subject_id"));
  FACEPAY_ASSIGN_OR_RETURN(r.signature, RequiredString(o, "signature", 64));
  const auto t = o.find("event_time_ms");
  if (t == o.end() || !t->is_number_integer() || t->get<int64_t>() <= 0) {
    return InvalidArgument("invalid_records", "'event_time_ms' must be a positive integer");
  }
  r.event_time_ms = t->get<int64_t>();
  const auto s = o.find("score_milli");
  if (s == o.end() || !s->is_number_integer() || s->get<int64_t>() < -1000 || s->get<int64_t>() > 1000) {
    return InvalidArgument("invalid_records", "'score_milli' must be an integer in -1000..1000");
  }
  r.score_milli = static_cast<int>(s->get<int64_t>());
  return r;
}

}  // namespace

void Service::Impl::AddEdgeRoutes() {
  Register({"GET", "/v1/gates/{gate}/replica", {Role::kGate}, TerminalKind::kGate,
            "An edge gate's gallery replica: template changes after `after` (query: after, "
            "limit 1..500), with embeddings, and the gate's offline-signing key",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_RETURN_IF_ERROR(RequireEdge(deps.terminals, c.terminal));
              FACEPAY_ASSIGN_OR_RETURN(int64_t after, QueryInt(c.req, "after", 0, 0, INT64_MAX / 2));
              FACEPAY_ASSIGN_OR_RETURN(int64_t limit,
                                       QueryInt(c.req, "limit", 100, 1, flows::kMaxReplicaPage));
              FACEPAY_ASSIGN_OR_RETURN(auto page, flows::ReadReplicaPage(flow_deps, after,
                                                                         static_cast<int>(limit)));
              json changes = json::array();
              for (const auto& ch : page.changes) {
                json j = {{"seq", ch.sequence},
                          {"op", ch.op == biometrics::ChangeOp::kAdd ? "add" : "remove"},
                          {"template_id", ch.template_id},
                          {"subject_id", ch.subject_id}};
                if (ch.op == biometrics::ChangeOp::kAdd) j["template"] = ch.embedding;
                changes.push_back(std::move(j));
              }
              const std::string key = flows::GateOfflineKey(deps.offline_secret, c.terminal);
              std::string hex(key.size() * 2 + 1, '\0');
              sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(key.data()),
                             key.size());
              hex.pop_back();
              if (!page.changes.empty()) {
                audit_sink->Audit(c.Who(), c.now_ms, "replica_read", c.terminal, "ok",
                                  {{"after", after}, {"changes", page.changes.size()}});
              }
              return Reply{200, json{{"changes", std::move(changes)},
                                     {"next_after", page.next_after},
                                     {"latest", page.latest},
                                     {"offline_key", hex}}};
            }});
  Register({"POST", "/v1/gates/{gate}/offline-passages", {Role::kGate}, TerminalKind::kGate,
            "Settle passages an edge gate decided while offline: `records` (1..200, each "
            "event_id, subject_id, event_time_ms, score_milli, signature), exactly once each",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_RETURN_IF_ERROR(RequireEdge(deps.terminals, c.terminal));
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              const auto recs = in.fields.find("records");
              if (recs == in.fields.end() || !recs->is_array() || recs->empty() ||
                  recs->size() > static_cast<size_t>(flows::kMaxOfflineRecordsPerBatch)) {
                return InvalidArgument("invalid_records",
                                       "'records' must be a list of 1.." +
                                           std::to_string(flows::kMaxOfflineRecordsPerBatch));
              }
              flows::OfflineReplayRequest r;
              r.gate = c.terminal;
              for (const auto& o : *recs) {
                FACEPAY_ASSIGN_OR_RETURN(auto rec, ReadRecord(o));
                r.records.push_back(std::move(rec));
              }
              FACEPAY_ASSIGN_OR_RETURN(
                  auto out, flows::OfflineReplayFlow(flow_deps, deps.offline_secret, options.offline_limits)
                               .Run(c.Who(), r));
              json results = json::array();
              for (const auto& s : out) {
                json j = {{"event_id", s.event_id}, {"result", flows::OfflineResultName(s.result)}};
                if (!s.reason.empty()) j["reason"] = s.reason;
                if (s.tap) {
                  j["fare_minor"] = s.tap->fare_minor;
                  j["balance_minor"] = s.tap->balance_minor;
                }
                results.push_back(std::move(j));
              }
              return Reply{200, json{{"results", std::move(results)}}};
            }});
}

}  // namespace facepay::service
