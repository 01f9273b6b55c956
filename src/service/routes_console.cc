// Routes the terminal screens and the operator dashboard need beyond the flows (web/,
// docs/terminals.md): who a key is (a screen notices its revocation), the keys and terminals
// an operator manages, and a one-frame presentation check that tells a person standing at a
// camera what to do (move closer, face the camera, ...).
#include <algorithm>
#include <cmath>

#include "facepay/flows/erasure_by_face.h"
#include "facepay/vision/presence_tracker.h"
#include "service_impl.h"

namespace facepay::service {

using nlohmann::json;

namespace {

json KeyJson(const ApiKeyRecord& k) {
  return {{"key_id", k.key_id},
          {"role", k.role},
          {"bindings", k.bindings},
          {"label", k.label},
          {"rate_per_s", k.rate_per_s},
          {"created_at_ms", k.created_at_ms},
          {"revoked", k.revoked_at_ms != 0}};
}

// The one thing a person at the camera should do next, from the quality verdict: the first
// failed check in the order a person can fix them.
const char* HintOf(const vision::FaceAnalysis& a, float height_ratio, float min_height_ratio) {
  if (a.status == vision::FaceStatus::kNoFace || a.faces.empty()) return "no_face";
  if (a.status == vision::FaceStatus::kMultipleFaces) return "multiple_faces";
  const auto& reasons = a.faces[0].quality.reasons;
  auto has = [&](const char* r) { return std::find(reasons.begin(), reasons.end(), r) != reasons.end(); };
  if (has("face_cut_off")) return "face_cut_off";
  if (has("face_too_small") || height_ratio < min_height_ratio) return "move_closer";
  if (has("pose_yaw") || has("pose_pitch")) return "face_the_camera";
  if (has("too_dark")) return "too_dark";
  if (has("too_bright") || has("badly_exposed")) return "too_bright";
  if (has("blurry")) return "hold_still";
  return "ok";
}

}  // namespace

void Service::Impl::AddConsoleRoutes() {
  const std::vector<Role> any_key = {Role::kEnroller, Role::kGate,   Role::kMerchant,
                                     Role::kAtm,      Role::kBorder, Role::kAuditor};
  Register({"GET", "/v1/session", any_key, TerminalKind::kNone,
            "The calling key: id, role, bindings, label (a paired screen polls it to notice a "
            "revocation)",
            [](Call& c) -> StatusOr<Reply> {
              const Principal& p = *c.who;
              json label = p.label.empty() ? json(nullptr) : json(p.label);
              return Reply{200, json{{"key_id", p.key_id},
                                     {"role", RoleName(p.role)},
                                     {"bindings", p.bindings},
                                     {"label", label}}};
            }});

  Register({"GET", "/v1/keys", {Role::kAdmin}, TerminalKind::kNone,
            "API keys (never their secrets), newest first",
            [this](Call&) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(auto all, deps.store->ListKeys());
              std::sort(all.begin(), all.end(), [](const ApiKeyRecord& a, const ApiKeyRecord& b) {
                return a.created_at_ms != b.created_at_ms ? a.created_at_ms > b.created_at_ms
                                                          : a.key_id < b.key_id;
              });
              json items = json::array();
              for (const auto& k : all) items.push_back(KeyJson(k));
              return Reply{200, json{{"items", items}}};
            }});

  Register({"POST", "/v1/keys", {Role::kAdmin}, TerminalKind::kNone,
            "Create an API key: `role`, `bindings` (terminal ids; gate, merchant, atm and border "
            "keys need one), optional `label`; the token is in this answer only",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              FACEPAY_ASSIGN_OR_RETURN(std::string role_name, RequiredString(in.fields, "role", 16));
              FACEPAY_ASSIGN_OR_RETURN(Role role, ParseRole(role_name));
              std::vector<std::string> bindings;
              if (in.fields.contains("bindings")) {
                const json& b = in.fields["bindings"];
                if (!b.is_array() || b.size() > 64) {
                  return InvalidArgument("invalid_binding", "'bindings' is a list of at most 64 terminal ids");
                }
                for (const json& v : b) {
                  if (!v.is_string()) return InvalidArgument("invalid_binding", "a binding is a terminal id");
                  bindings.push_back(v.get<std::string>());
                }
              }
              FACEPAY_ASSIGN_OR_RETURN(std::string label, OptionalString(in.fields, "label", 128));
              FACEPAY_ASSIGN_OR_RETURN(NewApiKey k, MakeApiKey(role, bindings, label, 0, c.now_ms));
              FACEPAY_RETURN_IF_ERROR(deps.store->PutKey(k.record));
              audit_sink->Audit(c.Who(), c.now_ms, "key_create", k.record.key_id, "ok",
                                {{"role", k.record.role}, {"bindings", k.record.bindings}});
              json out = KeyJson(k.record);
              out["token"] = k.token;
              return Reply{201, out};
            }});

  Register({"DELETE", "/v1/keys/{key}", {Role::kAdmin}, TerminalKind::kNone,
            "Revoke a key: this node refuses it at once, every other node within 1 s (a paired screen shows \"not paired\")",
            [this](Call& c) -> StatusOr<Reply> {
              const std::string id = c.Param(1);
              if (c.who && id == c.who->key_id) {
                return FailedPrecondition("revoke_own_key", "an admin key cannot revoke itself here; use facepay keys revoke");
              }
              FACEPAY_ASSIGN_OR_RETURN(auto rec, deps.store->GetKey(id));
              if (!rec) return NotFound("key_not_found", "no key '" + id + "'");
              FACEPAY_RETURN_IF_ERROR(deps.store->RevokeKey(id, c.now_ms));
              auth->Forget(id);  // this node at once; the others within their 1 s key cache
              audit_sink->Audit(c.Who(), c.now_ms, "key_revoke", id, "ok", {{"role", rec->role}});
              return Reply{200, json{{"key_id", id}, {"revoked", true}}};
            }});

  Register({"GET", "/v1/terminals", {Role::kAuditor}, TerminalKind::kNone,
            "Configured terminals and paired kiosks: whether an active key is bound to each and "
            "when a key of it last called this node (`last_seen_ms`, null when never)",
            [this](Call&) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(auto keys, deps.store->ListKeys());
              json items = json::array();
              auto add = [&](const char* kind, const std::string& id) {
                json key_ids = json::array();
                int64_t seen = 0;
                for (const auto& k : keys) {
                  const bool bound = std::find(k.bindings.begin(), k.bindings.end(), id) != k.bindings.end();
                  const bool kiosk = std::string(kind) == "kiosk" && k.label == "paired:kiosk:" + id;
                  if (k.revoked_at_ms != 0 || !(bound || kiosk)) continue;
                  key_ids.push_back(k.key_id);
                  seen = std::max(seen, LastSeen(k.key_id));
                }
                items.push_back({{"kind", kind},
                                 {"id", id},
                                 {"paired", !key_ids.empty()},
                                 {"key_ids", key_ids},
                                 {"last_seen_ms", seen == 0 ? json(nullptr) : json(seen)}});
              };
              for (const auto& [id, g] : deps.terminals.gates) add("gate", id);
              for (const auto& [id, t] : deps.terminals.tills) add("till", id);
              for (const auto& [id, a] : deps.terminals.atms) add("atm", id);
              for (const auto& [id, b] : deps.terminals.borders) add("border", id);
              std::vector<std::string> kiosks;
              for (const auto& k : keys) {
                if (k.revoked_at_ms == 0 && k.label.rfind("paired:kiosk:", 0) == 0) {
                  kiosks.push_back(k.label.substr(13));
                }
              }
              std::sort(kiosks.begin(), kiosks.end());
              kiosks.erase(std::unique(kiosks.begin(), kiosks.end()), kiosks.end());
              for (const auto& id : kiosks) add("kiosk", id);
              return Reply{200, json{{"terminals", items}}};
            }});

  Register({"POST", "/v1/frames/check",
            {Role::kEnroller, Role::kGate, Role::kMerchant, Role::kAtm, Role::kBorder},
            TerminalKind::kNone,
            "One camera frame (`frame`): is one face there, close and frontal enough? `hint` says "
            "what the person should do (ok, no_face, multiple_faces, move_closer, "
            "face_the_camera, too_dark, too_bright, hold_still, face_cut_off). Nothing is kept",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              auto it = in.images.find("frame");
              if (it == in.images.end() || it->second.size() != 1) {
                return InvalidArgument("missing_frame", "send exactly one image as 'frame'");
              }
              const std::string& bytes = it->second[0];
              vision::AnalyzeOptions o;
              o.single_subject = true;
              o.liveness = false;
              o.embed = false;
              FACEPAY_ASSIGN_OR_RETURN(
                  vision::FaceAnalysis a,
                  deps.pipeline->AnalyzeBytes(
                      {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, o));
              json out = {{"face", vision::FaceStatusName(a.status)}};
              float ratio = 0;
              if (!a.faces.empty() && a.image_width > 0 && a.image_height > 0) {
                const auto& d = a.faces[0].detection;
                const float w = static_cast<float>(a.image_width), h = static_cast<float>(a.image_height);
                ratio = std::clamp(d.box.height / h, 0.f, 1.f);
                auto r3 = [](float v) { return std::round(std::clamp(double{v}, 0.0, 1.0) * 1000) / 1000; };
                out["box"] = {r3(d.box.x / w), r3(d.box.y / h), r3(d.box.width / w), r3(d.box.height / h)};
              }
              out["face_height_ratio"] = std::round(double{ratio} * 1000) / 1000;
              out["hint"] = HintOf(a, ratio, vision::PresenceConfig{}.min_face_height);
              return Reply{200, out};
            }});

  Register({"POST", "/v1/kiosks/{kiosk}/erasures", {Role::kEnroller}, TerminalKind::kNone,
            "Self-service erasure at a kiosk: a live camera burst (`frames`) and the person's "
            "`pin`. The face must be recognised and the PIN must be that person's; then their "
            "templates are erased everywhere (payments history is kept without biometrics)",
            [this](Call& c) -> StatusOr<Reply> {
              c.terminal = c.Param(1);
              FACEPAY_RETURN_IF_ERROR(biometrics::ValidateSubjectId(c.terminal).ok()
                                          ? Status::Ok()
                                          : InvalidArgument("invalid_kiosk", "a kiosk id is 1..64 of [A-Za-z0-9_.:-]"));
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              FACEPAY_ASSIGN_OR_RETURN(flows::Sighting s, SightingOf(in, false));
              FACEPAY_ASSIGN_OR_RETURN(std::string pin, RequiredString(in.fields, "pin", 12));
              FACEPAY_ASSIGN_OR_RETURN(
                  flows::ErasureByFaceOutcome o,
                  flows::ErasureByFaceFlow(flow_deps).Run(c.Who(), s, pin, c.now_ms));
              json out = {{"erased", o.result == flows::ErasureByFaceResult::kErased},
                          {"result", flows::ErasureByFaceResultName(o.result)}};
              if (o.result == flows::ErasureByFaceResult::kErased) {
                out["subject_id"] = o.subject_id;
                out["templates_removed"] = o.templates_removed;
                out["kept"] = json::array(
                    {"payments history (the ledger: amounts, times, terminals) without any face data, as the law on payment records requires",
                     "the audit record that this erasure happened, when and at which kiosk"});
              }
              return Reply{200, out};
            }});
}

int64_t Service::Impl::LastSeen(const std::string& key_id) const {
  std::lock_guard<std::mutex> lock(last_seen_mu);
  auto it = last_seen.find(key_id);
  return it == last_seen.end() ? 0 : it->second;
}

void Service::Impl::MarkSeen(const std::string& key_id, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(last_seen_mu);
  if (last_seen.size() >= 100'000 && !last_seen.contains(key_id)) return;  // bounded
  last_seen[key_id] = now_ms;
}

}  // namespace facepay::service
