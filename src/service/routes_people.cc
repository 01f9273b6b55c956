// People and money: subjects (enroll, list, get, add images, erase) and accounts (create, top
// up, balance, transactions).
#include <charconv>
#include <span>
#include <string_view>

#include "facepay/biometrics/enrollment.h"
#include "facepay/biometrics/secret_hash.h"
#include "facepay/flows/enrolment_flow.h"
#include "facepay/payments/result_json.h"
#include "facepay/vision/image_decode.h"
#include "probe.h"
#include "service_impl.h"

namespace facepay::service {
namespace {

using nlohmann::json;

StatusOr<int64_t> OptionalInt(const json& o, const char* key, int64_t def) {
  if (!o.contains(key)) return def;
  const json& v = o[key];
  if (v.is_number_integer()) return v.get<int64_t>();  // forms are converted by ReadInput
  return InvalidArgument(std::string("invalid_") + key, std::string("'") + key + "' must be an integer");
}

StatusOr<bool> OptionalBool(const json& o, const char* key) {
  if (!o.contains(key)) return false;
  const json& v = o[key];
  if (v.is_boolean()) return v.get<bool>();
  return InvalidArgument(std::string("invalid_") + key, std::string("'") + key + "' must be a boolean");
}

// A template id path parameter: a positive decimal int64.
StatusOr<int64_t> ParseTemplateId(const std::string& text) {
  int64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0) {
    return InvalidArgument("invalid_template_id", "template id must be a positive integer");
  }
  return id;
}

// The media type of an image the decoder accepted (JPEG, PNG, BMP, WebP).
std::string ImageContentType(std::string_view b, const vision::DecodeLimits& limits) {
  auto info = vision::ProbeImage(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(b.data()), b.size()), limits);
  if (!info.ok()) return "application/octet-stream";
  return std::string("image/") + vision::ImageFormatName(info->format);
}

// The uploaded face images of an enrolment ("images", also accepted as "frames").
std::vector<biometrics::NamedImage> UploadedImages(const Input& in) {
  std::vector<biometrics::NamedImage> images;
  for (const char* field : {"images", "frames"}) {
    auto it = in.images.find(field);
    if (it == in.images.end()) continue;
    for (size_t i = 0; i < it->second.size(); ++i) {
      std::string name = field;
      name += "[";
      name += std::to_string(i);
      name += "]";
      images.push_back({std::move(name), it->second[i]});
    }
  }
  return images;
}

// The answer to an enrolment or added images: 201 enrolled, 409 duplicate, 422 refused (a
// burst judged an attack or showing several people, or no usable image), with the error.
Reply EnrolmentReply(const flows::EnrolmentOutcome& o, const std::string& subject_id) {
  const json liveness = flows::EnrolmentLivenessJson(o.liveness);
  if (o.burst_refused) {
    const bool spoof = *o.burst_refused == biometrics::ProbeState::kSpoof;
    const std::string code = spoof ? "spoof" : "multiple_faces";
    return Reply{422,
                 {{"status", "rejected"},
                  {"reason", code},
                  {"templates", 0},
                  {"liveness", liveness},
                  {"subject_id", subject_id},
                  {"error",
                   {{"code", code},
                    {"message", spoof ? "the capture burst failed the liveness check"
                                      : "the capture burst shows more than one face"}}}}};
  }
  const biometrics::EnrollResult& r = o.result;
  json body = biometrics::EnrollResultToJson(r);
  body["subject_id"] = subject_id;
  body["liveness"] = liveness;
  if (r.status == biometrics::EnrollStatus::kEnrolled) return Reply{201, body};
  const bool duplicate = r.status == biometrics::EnrollStatus::kDuplicate;
  const char* message = duplicate ? "this face is already enrolled as another subject"
                        : r.reason == "images_do_not_match_subject"
                            ? "these images do not show the enrolled person"
                        : r.reason == "challenge_face_mismatch"
                            ? "these images do not show the person who did the movement check"
                            : "no image passed the quality and liveness checks";
  body["error"] = {{"code", r.reason}, {"message", message}};
  return Reply{duplicate ? 409 : 422, body};
}

}  // namespace

// An enrolment's images ("images", also accepted as "frames"; none: the flow refuses) and
// its capture burst: the "frames" as a gate's (optional "frame_interval_ms") when there are
// enough of them to be judged by sequence liveness.
StatusOr<flows::EnrolmentCapture> Service::Impl::CaptureOf(const Input& in) const {
  flows::EnrolmentCapture capture;
  FACEPAY_ASSIGN_OR_RETURN(capture.fuse, OptionalBool(in.fields, "fuse"));
  capture.images = UploadedImages(in);
  auto it = in.images.find("frames");
  if (it != in.images.end() && static_cast<int>(it->second.size()) >= kMinSequenceFrames) {
    capture.burst = SightingOf(in, /*allow_template=*/false);
  }
  return capture;
}

void Service::Impl::AddPeopleRoutes() {
  Register({"POST", "/v1/subjects", {Role::kEnroller}, TerminalKind::kNone,
            "Enroll a subject: images + consent + optional phone digits/PIN + account link",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              const json& f = in.fields;
              biometrics::Subject s;
              FACEPAY_ASSIGN_OR_RETURN(s.id, RequiredString(f, "id", 64));
              FACEPAY_RETURN_IF_ERROR(biometrics::ValidateSubjectId(s.id));
              FACEPAY_ASSIGN_OR_RETURN(s.display_name, OptionalString(f, "display_name", 128));
              FACEPAY_RETURN_IF_ERROR(biometrics::ValidateDisplayName(s.display_name));
              FACEPAY_ASSIGN_OR_RETURN(s.external_ref, OptionalString(f, "external_ref", 128));
              json consent = f.contains("consent") && f["consent"].is_object() ? f["consent"] : f;
              FACEPAY_ASSIGN_OR_RETURN(s.consent.text_version,
                                       OptionalString(consent, "consent_text_version", 32));
              if (s.consent.text_version.empty()) {
                FACEPAY_ASSIGN_OR_RETURN(s.consent.text_version,
                                         RequiredString(consent, "text_version", 32));
              }
              FACEPAY_ASSIGN_OR_RETURN(s.consent.channel, OptionalString(consent, "channel", 32));
              if (s.consent.channel.empty()) s.consent.channel = "api";
              flows::EnrolmentRequest r;
              FACEPAY_ASSIGN_OR_RETURN(r.phone_last4, OptionalString(f, "phone_last4", 4));
              if (!r.phone_last4.empty()) {
                FACEPAY_RETURN_IF_ERROR(biometrics::ValidatePhoneLast4(r.phone_last4));
              }
              FACEPAY_ASSIGN_OR_RETURN(r.pin, OptionalString(f, "pin", 8));
              if (!r.pin.empty()) FACEPAY_RETURN_IF_ERROR(biometrics::ValidatePin(r.pin));
              FACEPAY_ASSIGN_OR_RETURN(r.account_id, OptionalString(f, "account_id", 128));
              FACEPAY_ASSIGN_OR_RETURN(r.challenge_id, OptionalString(f, "challenge_id", 64));
              FACEPAY_ASSIGN_OR_RETURN(r.capture, CaptureOf(in));
              r.subject = std::move(s);
              FACEPAY_ASSIGN_OR_RETURN(auto out, flows::EnrolmentFlow(flow_deps).Enrol(c.Who(), r));
              Reply reply = EnrolmentReply(out, r.subject.id);
              if (!out.account_id.empty()) reply.body["account_id"] = out.account_id;
              return reply;
            }});
  // Registered as an exact path: httplib matches the whole path, so this never catches
  // /v1/subjects/{id}.
  Register({"GET", "/v1/subjects", {Role::kEnroller, Role::kAuditor}, TerminalKind::kNone,
            "Subjects in id order, a page at a time (query: after, limit); next_after when the "
            "page is full",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(int limit, QueryLimit(c.req));
              std::string after;
              if (c.req.has_param("after")) {
                after = c.req.get_param_value("after");
                if (!biometrics::ValidateSubjectId(after).ok()) {
                  return InvalidArgument("invalid_after", "after must be a subject id");
                }
              }
              FACEPAY_ASSIGN_OR_RETURN(auto subjects, deps.bio_store->ListSubjects(after, limit));
              json items = json::array();
              for (const auto& s : subjects) {
                items.push_back({{"id", s.id},
                                 {"display_name", s.display_name},
                                 {"created_at_ms", s.created_at_ms},
                                 {"templates", deps.gallery->TemplatesOf(s.id).size()}});
              }
              json j = {{"items", std::move(items)}};
              if (static_cast<int>(subjects.size()) == limit) j["next_after"] = subjects.back().id;
              return Reply{200, j};
            }});
  Register({"POST", "/v1/subjects/{id}/images", {Role::kEnroller}, TerminalKind::kNone,
            "Add face images to an enrolled subject (enrolment checks; at most 4 templates)",
            [this](Call& c) -> StatusOr<Reply> {
              const std::string id = c.Param(1);
              FACEPAY_RETURN_IF_ERROR(biometrics::ValidateSubjectId(id));
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              flows::AddImagesRequest r{id, {}};
              FACEPAY_ASSIGN_OR_RETURN(r.capture, CaptureOf(in));
              FACEPAY_ASSIGN_OR_RETURN(auto out, flows::EnrolmentFlow(flow_deps).AddImages(c.Who(), r));
              Reply reply = EnrolmentReply(out, id);
              if (!out.burst_refused && out.result.status == biometrics::EnrollStatus::kEnrolled) {
                reply.body["templates_total"] = out.templates_total;
              }
              return reply;
            }});
  Register({"GET", "/v1/subjects/{id}", {Role::kEnroller, Role::kAuditor}, TerminalKind::kNone,
            "A subject (never its templates or second factors)",
            [this](Call& c) -> StatusOr<Reply> {
              const std::string id = c.Param(1);
              FACEPAY_RETURN_IF_ERROR(biometrics::ValidateSubjectId(id));
              FACEPAY_ASSIGN_OR_RETURN(auto s, deps.bio_store->GetSubject(id));
              if (!s) return NotFound("subject_not_found", "no subject '" + id + "'");
              FACEPAY_ASSIGN_OR_RETURN(auto account, deps.store->AccountOfSubject(id));
              json j = {{"id", s->id},
                        {"display_name", s->display_name},
                        {"external_ref", s->external_ref},
                        {"consent",
                         {{"text_version", s->consent.text_version},
                          {"at_ms", s->consent.at_ms},
                          {"channel", s->consent.channel}}},
                        {"has_phone_last4", !s->phone_last4_hash.empty()},
                        {"has_pin", !s->pin_hash.empty()},
                        {"templates", deps.gallery->TemplatesOf(id).size()},
                        {"created_at_ms", s->created_at_ms}};
              FACEPAY_ASSIGN_OR_RETURN(auto stored, deps.bio_store->ListSubjectTemplates(id));
              json kept = json::array();
              for (const auto& [template_id, has_image] : stored) {
                if (has_image) kept.push_back(std::to_string(template_id));  // as template_id
              }
              j["kept_images"] = std::move(kept);
              j["account_id"] = account ? json(*account) : json(nullptr);
              return Reply{200, j};
            }});
  Register({"GET", "/v1/subjects/{id}/images/{template_id}", {Role::kAuditor},
            TerminalKind::kNone,
            "The enrolment image kept with a template (serve --keep-enrollment-images), as it "
            "was uploaded; audited",
            [this](Call& c) -> StatusOr<Reply> {
              const std::string id = c.Param(1);
              FACEPAY_RETURN_IF_ERROR(biometrics::ValidateSubjectId(id));
              FACEPAY_ASSIGN_OR_RETURN(int64_t template_id, ParseTemplateId(c.Param(2)));
              FACEPAY_ASSIGN_OR_RETURN(auto s, deps.bio_store->GetSubject(id));
              if (!s) return NotFound("subject_not_found", "no subject '" + id + "'");
              auto image = deps.gallery->TemplateImage(id, template_id);
              Audit(c, "image_read", id, image.ok() ? "ok" : std::string(image.status().reason()),
                    {{"template_id", template_id}});
              if (!image.ok()) return image.status();
              Reply r;
              r.content_type = ImageContentType(*image, deps.pipeline->options().decode);
              r.text = std::move(*image);
              return r;
            }});
  Register({"DELETE", "/v1/subjects/{id}", {Role::kEnroller}, TerminalKind::kNone,
            "Erase a subject: templates and index entries everywhere; payments history kept",
            [this](Call& c) -> StatusOr<Reply> {
              const std::string id = c.Param(1);
              FACEPAY_RETURN_IF_ERROR(biometrics::ValidateSubjectId(id));
              FACEPAY_ASSIGN_OR_RETURN(size_t removed, flows::ErasureFlow(flow_deps).Erase(c.Who(), id));
              return Reply{200, {{"subject_id", id}, {"erased", true}, {"templates_removed", removed}}};
            }});

  Register({"POST", "/v1/accounts", {Role::kEnroller}, TerminalKind::kNone,
            "Create a customer account (stored value or tokenized card)",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              const json& f = in.fields;
              payments::Account a;
              FACEPAY_ASSIGN_OR_RETURN(a.id, RequiredId(f, "id"));
              FACEPAY_ASSIGN_OR_RETURN(std::string kind, OptionalString(f, "kind", 32));
              FACEPAY_ASSIGN_OR_RETURN(a.kind,
                                       payments::ParseAccountKind(kind.empty() ? "stored_value" : kind));
              if (!payments::IsCustomer(a.kind)) {
                return InvalidArgument("invalid_kind", "kind must be stored_value or card");
              }
              FACEPAY_ASSIGN_OR_RETURN(a.currency, OptionalString(f, "currency", 3));
              if (a.currency.empty()) a.currency = deps.terminals.currency;
              if (a.kind == payments::AccountKind::kStoredValue) {
                FACEPAY_ASSIGN_OR_RETURN(int64_t floor, OptionalInt(f, "floor_minor", 0));
                a.floor_minor = floor;
              }
              FACEPAY_ASSIGN_OR_RETURN(a.daily_limit_minor, OptionalInt(f, "daily_limit_minor", 0));
              FACEPAY_ASSIGN_OR_RETURN(a.concession, OptionalString(f, "concession", 32));
              FACEPAY_ASSIGN_OR_RETURN(a.card_token, OptionalString(f, "card_token", 128));
              FACEPAY_ASSIGN_OR_RETURN(a.card_last4, OptionalString(f, "card_last4", 4));
              FACEPAY_ASSIGN_OR_RETURN(a.card_brand, OptionalString(f, "card_brand", 32));
              a.created_at_ms = c.now_ms;
              FACEPAY_ASSIGN_OR_RETURN(payments::Account made, deps.ledger->CreateAccount(a));
              Audit(c, "account_create", made.id, "ok", {{"kind", kind.empty() ? "stored_value" : kind}});
              return Reply{201, payments::AccountToJson(made)};
            }});
  Register({"GET", "/v1/accounts/{id}", {Role::kEnroller, Role::kAuditor}, TerminalKind::kNone,
            "An account and its balance", [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(payments::Account a, deps.ledger->GetAccount(c.Param(1)));
              return Reply{200, payments::AccountToJson(a)};
            }});
  Register({"POST", "/v1/accounts/{id}/topups", {Role::kEnroller}, TerminalKind::kNone,
            "Top up a stored-value account (idempotent on idempotency_key)",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              payments::TopUpRequest r;
              FACEPAY_ASSIGN_OR_RETURN(r.idempotency_key, RequiredId(in.fields, "idempotency_key"));
              FACEPAY_ASSIGN_OR_RETURN(r.amount_minor, RequiredAmount(in.fields, "amount_minor"));
              r.account_id = c.Param(1);
              FACEPAY_ASSIGN_OR_RETURN(payments::Account a, deps.ledger->GetAccount(r.account_id));
              r.currency = a.currency;
              r.source_id = "cash:topup-desk";
              r.idempotency_key = "topup:" + r.idempotency_key;
              FACEPAY_ASSIGN_OR_RETURN(auto res, deps.ledger->TopUp(r));
              Audit(c, "topup", r.account_id,
                    res.outcome == payments::Outcome::kApproved ? "approved" : "declined",
                    {{"amount_minor", r.amount_minor}, {"replayed", res.replayed}});
              return Reply{200, payments::ChargeResultToJson(res)};
            }});
  Register({"POST", "/v1/accounts/{id}/atm-cards", {Role::kEnroller}, TerminalKind::kNone,
            "Issue an ATM card for an account: the token (shown once) names the account at ATMs",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(payments::Account a, deps.ledger->GetAccount(c.Param(1)));
              if (!payments::IsCustomer(a.kind)) {
                return InvalidArgument("invalid_kind", "only a customer account gets an ATM card");
              }
              NewAtmCard card = MakeAtmCard(a.id, c.now_ms);
              FACEPAY_RETURN_IF_ERROR(deps.store->PutCard(card.record));
              Audit(c, "atm_card_issue", a.id, "ok", {{"card_id", card.record.card_id}});
              return Reply{201, {{"card_id", card.record.card_id},
                                 {"account_id", a.id},
                                 {"atm_card", card.token},
                                 {"note", "write atm_card to the card now: it is not shown again"}}};
            }});
  Register({"DELETE", "/v1/atm-cards/{card}", {Role::kEnroller}, TerminalKind::kNone,
            "Cancel an ATM card (a lost or stolen card stops working at once)",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_RETURN_IF_ERROR(deps.store->RevokeCard(c.Param(1), c.now_ms));
              Audit(c, "atm_card_revoke", c.Param(1), "ok", json::object());
              return Reply{200, {{"card_id", c.Param(1)}, {"revoked", true}}};
            }});
  Register({"GET", "/v1/accounts/{id}/transactions", {Role::kEnroller, Role::kAuditor},
            TerminalKind::kNone, "An account's transactions, newest first (query: limit)",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(int limit, QueryLimit(c.req));
              FACEPAY_ASSIGN_OR_RETURN(payments::Account a, deps.ledger->GetAccount(c.Param(1)));
              FACEPAY_ASSIGN_OR_RETURN(auto txns, deps.ledger->store().ListTransactions(a.id, limit));
              json items = json::array();
              for (const auto& t : txns) items.push_back(payments::TxnToJson(t));
              return Reply{200, {{"account_id", a.id}, {"items", items}}};
            }});
}

}  // namespace facepay::service
