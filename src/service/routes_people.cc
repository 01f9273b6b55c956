// People and money: subjects (enroll, list, get, add images, erase) and accounts (create, top
// up, balance, transactions).
#include <charconv>
#include <span>
#include <string_view>

#include "facepay/biometrics/enrollment.h"
#include "facepay/biometrics/secret_hash.h"
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
StatusOr<std::vector<biometrics::NamedImage>> UploadedImages(const Input& in) {
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
  if (images.empty()) return InvalidArgument("missing_images", "send 1..8 'images'");
  return images;
}

// HTTP code of an enrolment result (201 enrolled, 409 duplicate, 422 no usable image); adds
// the error to `body` and fills the audit `detail`.
int EnrollReplyCode(const biometrics::EnrollResult& r, json& body, json& detail) {
  detail = {{"status", body["status"]}, {"templates", r.template_ids.size()}};
  if (r.status == biometrics::EnrollStatus::kEnrolled) return 201;
  const bool duplicate = r.status == biometrics::EnrollStatus::kDuplicate;
  if (duplicate) {
    detail["duplicate_of"] = r.duplicate_of;
    detail["duplicate_score"] = r.duplicate_score;
  }
  const char* message = duplicate ? "this face is already enrolled as another subject"
                        : r.reason == "images_do_not_match_subject"
                            ? "these images do not show the enrolled person"
                            : "no image passed the quality and liveness checks";
  body["error"] = {{"code", r.reason}, {"message", message}};
  return duplicate ? 409 : 422;
}

}  // namespace

// A live capture burst ("frames", >= kMinSequenceFrames with a face) is judged by sequence
// liveness, as a gate burst is: the passive one-frame model alone refuses most real people on
// ordinary webcams (docs/liveness.md). A live burst then enrolls from its best frames without
// the per-image liveness check; a burst judged an attack enrolls nothing. Uploaded photos
// ("images", or a shorter burst) keep the per-image checks. A burst is judged with ProbeOf
// (optional "frame_interval_ms", as at a gate; enrolment cameras have no calibration).
StatusOr<std::optional<Reply>> Service::Impl::JudgeEnrollmentBurst(
    const Call& c, const Input& in, const std::string& action, const std::string& subject_id,
    biometrics::EnrollOptions& eo, json& liveness) const {
  liveness = {{"mode", "per_image"}};
  auto it = in.images.find("frames");
  if (deps.sequence == nullptr || it == in.images.end() ||
      static_cast<int>(it->second.size()) < kMinSequenceFrames) {
    return std::optional<Reply>();
  }
  FACEPAY_ASSIGN_OR_RETURN(Probe burst, ProbeOf(in, 0, /*allow_template=*/false));
  if (burst.liveness_mode != "sequence") return std::optional<Reply>();  // < 3 face frames
  liveness = {{"mode", "sequence"}, {"score", burst.liveness}, {"frames", burst.frames},
              {"face_frames", burst.face_frames}};
  if (burst.state != biometrics::ProbeState::kSpoof &&
      burst.state != biometrics::ProbeState::kMultipleFaces) {
    eo.check_liveness = false;  // attested by the burst
    return std::optional<Reply>();
  }
  const bool spoof = burst.state == biometrics::ProbeState::kSpoof;
  const std::string code = spoof ? "spoof" : "multiple_faces";
  json body = {{"status", "rejected"},
               {"reason", code},
               {"templates", 0},
               {"liveness", liveness},
               {"subject_id", subject_id},
               {"error",
                {{"code", code},
                 {"message", spoof ? "the capture burst failed the liveness check"
                                   : "the capture burst shows more than one face"}}}};
  Audit(c, action, subject_id, "rejected",
        {{"status", "rejected"}, {"reason", code}, {"liveness", liveness}});
  return std::optional<Reply>(Reply{422, body});
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
              s.consent.at_ms = c.now_ms;
              s.created_at_ms = c.now_ms;
              FACEPAY_ASSIGN_OR_RETURN(std::string phone, OptionalString(f, "phone_last4", 4));
              if (!phone.empty()) {
                FACEPAY_RETURN_IF_ERROR(biometrics::ValidatePhoneLast4(phone));
                FACEPAY_ASSIGN_OR_RETURN(s.phone_last4_hash, biometrics::HashSecret(phone, deps.template_key->SecondFactorPepper()));
              }
              FACEPAY_ASSIGN_OR_RETURN(std::string pin, OptionalString(f, "pin", 8));
              if (!pin.empty()) {
                FACEPAY_RETURN_IF_ERROR(biometrics::ValidatePin(pin));
                FACEPAY_ASSIGN_OR_RETURN(s.pin_hash, biometrics::HashSecret(pin, deps.template_key->SecondFactorPepper()));
              }
              FACEPAY_ASSIGN_OR_RETURN(std::string account, OptionalString(f, "account_id", 128));
              if (!account.empty()) {
                FACEPAY_ASSIGN_OR_RETURN(payments::Account a, deps.ledger->GetAccount(account));
                if (!payments::IsCustomer(a.kind)) {
                  return InvalidArgument("not_a_customer_account",
                                         "subjects pay from stored-value or card accounts");
                }
                FACEPAY_ASSIGN_OR_RETURN(auto linked, deps.store->SubjectOfAccount(account));
                if (linked && *linked != s.id) {
                  // A link to a subject that does not exist is what an enrolment cut short
                  // (killed between linking and enrolling) leaves: it is released.
                  FACEPAY_ASSIGN_OR_RETURN(auto owner, deps.bio_store->GetSubject(*linked));
                  if (owner) {
                    return AlreadyExists("account_linked",
                                         "account " + account + " already belongs to a subject");
                  }
                  FACEPAY_RETURN_IF_ERROR(deps.store->UnlinkSubject(*linked));
                }
              }
              FACEPAY_ASSIGN_OR_RETURN(auto existing, deps.bio_store->GetSubject(s.id));
              if (existing) return AlreadyExists("subject_exists", "subject '" + s.id + "' exists");
              biometrics::EnrollOptions eo;
              FACEPAY_ASSIGN_OR_RETURN(eo.fuse, OptionalBool(f, "fuse"));
              eo.keep_images = options.keep_enrollment_images;
              FACEPAY_ASSIGN_OR_RETURN(auto images, UploadedImages(in));
              json liveness;
              FACEPAY_ASSIGN_OR_RETURN(auto refused,
                                       JudgeEnrollmentBurst(c, in, "enroll", s.id, eo, liveness));
              if (refused) return *refused;
              // Linked before the templates are stored: a crash in between leaves a link to a
              // subject that does not exist (harmless, released by the next enrolment naming
              // the account) rather than an enrolled face that pays from nowhere.
              if (!account.empty()) FACEPAY_RETURN_IF_ERROR(deps.store->LinkSubject(s.id, account));
              auto enrolled = biometrics::EnrollFromBytes(*deps.pipeline, *deps.gallery, s, images,
                                                          eo, c.now_ms);
              if (!account.empty() && (!enrolled.ok() ||
                                       enrolled->status != biometrics::EnrollStatus::kEnrolled)) {
                auto now_linked = deps.store->AccountOfSubject(s.id);
                if (now_linked.ok() && *now_linked == account) (void)deps.store->UnlinkSubject(s.id);
              }
              FACEPAY_ASSIGN_OR_RETURN(auto r, std::move(enrolled));
              json body = biometrics::EnrollResultToJson(r);
              body["subject_id"] = s.id;
              body["liveness"] = liveness;
              json detail;
              const int code = EnrollReplyCode(r, body, detail);
              detail["liveness"] = liveness;
              if (r.status == biometrics::EnrollStatus::kEnrolled && !account.empty()) {
                body["account_id"] = account;
              }
              Audit(c, "enroll", s.id, body["status"], detail);
              return Reply{code, body};
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
              biometrics::EnrollOptions eo;
              FACEPAY_ASSIGN_OR_RETURN(eo.fuse, OptionalBool(in.fields, "fuse"));
              eo.keep_images = options.keep_enrollment_images;
              FACEPAY_ASSIGN_OR_RETURN(auto images, UploadedImages(in));
              json liveness;
              FACEPAY_ASSIGN_OR_RETURN(auto refused,
                                       JudgeEnrollmentBurst(c, in, "add_images", id, eo, liveness));
              if (refused) return *refused;
              eo.same_subject_threshold = options.verify_threshold;
              eo.same_subject_score = [this, &id](const vision::Embedding& e) {
                return Verify(id, e);
              };
              FACEPAY_ASSIGN_OR_RETURN(auto r, biometrics::AddImagesFromBytes(
                                                   *deps.pipeline, *deps.gallery, id, images, eo,
                                                   c.now_ms));
              json body = biometrics::EnrollResultToJson(r);
              body["subject_id"] = id;
              body["liveness"] = liveness;
              json detail;
              const int code = EnrollReplyCode(r, body, detail);
              detail["liveness"] = liveness;
              if (r.status == biometrics::EnrollStatus::kEnrolled) {
                body["templates_total"] = deps.gallery->TemplatesOf(id).size();
              }
              Audit(c, "add_images", id, body["status"], detail);
              return Reply{code, body};
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
              // Unlinked first: an erasure cut short then leaves an unlinked face (it pays from
              // nothing; the retry erases it), never an erased face whose account stays linked.
              FACEPAY_RETURN_IF_ERROR(deps.store->UnlinkSubject(id));
              FACEPAY_ASSIGN_OR_RETURN(size_t removed, deps.gallery->Erase(id, c.now_ms));
              Audit(c, "erase", id, "ok", {{"templates_removed", removed}});
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
