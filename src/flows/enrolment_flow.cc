#include "facepay/flows/enrolment_flow.h"

#include "facepay/biometrics/secret_hash.h"
#include "facepay/flows/identifier.h"
#include "facepay/flows/liveness_challenge_flow.h"

namespace facepay::flows {

using nlohmann::json;

namespace {

json AuditDetail(const biometrics::EnrollResult& r, const EnrolmentLiveness& l) {
  json detail = {{"status", biometrics::EnrollStatusName(r.status)},
                 {"templates", r.template_ids.size()}};
  if (r.status == biometrics::EnrollStatus::kDuplicate) {
    detail["duplicate_of"] = r.duplicate_of;
    detail["duplicate_score"] = r.duplicate_score;
  }
  detail["liveness"] = EnrolmentLivenessJson(l);
  return detail;
}

}  // namespace

json EnrolmentLivenessJson(const EnrolmentLiveness& l) {
  if (!l.sequence) return {{"mode", "per_image"}};
  json j = {{"mode", "sequence"}, {"score", l.score}, {"frames", l.frames},
            {"face_frames", l.face_frames}};
  if (l.unsure) j["unsure"] = true;
  return j;
}

Status EnrolmentFlow::JudgeBurst(const Caller& who, const EnrolmentCapture& capture,
                                 const std::string& action, const std::string& subject_id,
                                 bool challenge_passed, biometrics::EnrollOptions& eo,
                                 EnrolmentOutcome& out) const {
  if (deps_.sequence == nullptr) return Status::Ok();
  if (!capture.burst.ok()) return capture.burst.status();
  if (static_cast<int>(capture.burst->frames.size()) < kMinSequenceFrames) return Status::Ok();
  // The kiosk's camera (uncalibrated unless the config or a calibration says otherwise): a burst
  // in the unsure band enrols only after a passed active challenge (which a replay cannot follow).
  StatusOr<Probe> judged = Identifier(deps_).ProbeOf(*capture.burst, "kiosk:" + who.terminal);
  if (!judged.ok()) return judged.status();
  if (!challenge_passed) RefuseUnsure(*judged);
  const Probe& burst = *judged;
  if (burst.liveness_mode != "sequence") return Status::Ok();  // < 3 face frames
  out.liveness = {true, burst.liveness, burst.frames, burst.face_frames, burst.liveness_unsure};
  if (burst.state != biometrics::ProbeState::kSpoof &&
      burst.state != biometrics::ProbeState::kMultipleFaces) {
    eo.check_liveness = false;  // attested by the burst
    return Status::Ok();
  }
  out.burst_refused = burst.state;
  const char* code = burst.state == biometrics::ProbeState::kSpoof ? "spoof" : "multiple_faces";
  deps_.audit->Audit(who, deps_.clock->NowMs(), action, subject_id, "rejected",
                     {{"status", "rejected"},
                      {"reason", code},
                      {"liveness", EnrolmentLivenessJson(out.liveness)}});
  return Status::Ok();
}

StatusOr<EnrolmentOutcome> EnrolmentFlow::Enrol(const Caller& who, const EnrolmentRequest& r) const {
  const int64_t now_ms = deps_.clock->NowMs();
  biometrics::Subject s = r.subject;
  s.consent.at_ms = now_ms;
  s.created_at_ms = now_ms;
  const std::string& pepper = deps_.template_key->SecondFactorPepper();
  if (!r.phone_last4.empty()) {
    FACEPAY_ASSIGN_OR_RETURN(s.phone_last4_hash, biometrics::HashSecret(r.phone_last4, pepper));
  }
  if (!r.pin.empty()) {
    FACEPAY_ASSIGN_OR_RETURN(s.pin_hash, biometrics::HashSecret(r.pin, pepper));
  }
  const std::string& account = r.account_id;
  if (!account.empty()) {
    FACEPAY_ASSIGN_OR_RETURN(payments::Account a, deps_.ledger->GetAccount(account));
    if (!payments::IsCustomer(a.kind)) {
      return InvalidArgument("not_a_customer_account",
                             "subjects pay from stored-value or card accounts");
    }
    FACEPAY_ASSIGN_OR_RETURN(auto linked, deps_.store->SubjectOfAccount(account));
    if (linked && *linked != s.id) {
      // A link to a subject that does not exist is what an enrolment cut short (killed between
      // linking and enrolling) leaves: it is released.
      FACEPAY_ASSIGN_OR_RETURN(auto owner, deps_.bio_store->GetSubject(*linked));
      if (owner) {
        return AlreadyExists("account_linked", "account " + account + " already belongs to a subject");
      }
      FACEPAY_RETURN_IF_ERROR(deps_.store->UnlinkSubject(*linked));
    }
  }
  FACEPAY_ASSIGN_OR_RETURN(auto existing, deps_.bio_store->GetSubject(s.id));
  if (existing) return AlreadyExists("subject_exists", "subject '" + s.id + "' exists");
  biometrics::EnrollOptions eo;
  eo.fuse = r.capture.fuse;
  eo.keep_images = deps_.options.keep_enrollment_images;
  if (r.capture.images.empty()) return InvalidArgument("missing_images", "send 1..8 'images'");
  EnrolmentOutcome out;
  if (!r.challenge_id.empty()) {
    // Taken before anything is judged: one passed challenge, one enrolment attempt.
    FACEPAY_ASSIGN_OR_RETURN(vision::Embedding seen,
                             LivenessChallengeFlow(deps_).TakePassed(who, r.challenge_id));
    eo.same_subject_threshold = deps_.options.verify_threshold;
    eo.same_subject_score = [seen = std::move(seen)](const vision::Embedding& e)
        -> StatusOr<std::optional<float>> { return std::optional<float>(vision::CosineSimilarity(e, seen)); };
  }
  FACEPAY_RETURN_IF_ERROR(JudgeBurst(who, r.capture, "enroll", s.id, !r.challenge_id.empty(), eo, out));
  if (out.burst_refused) return out;
  // Linked before the templates are stored: a crash in between leaves a link to a subject that
  // does not exist (harmless, released by the next enrolment naming the account) rather than an
  // enrolled face that pays from nowhere. A link the store refuses (the account was linked to
  // another subject meanwhile) stops the enrolment before anything is stored.
  if (!account.empty()) FACEPAY_RETURN_IF_ERROR(deps_.store->LinkSubject(s.id, account));
  auto enrolled =
      biometrics::EnrollFromBytes(*deps_.pipeline, *deps_.gallery, s, r.capture.images, eo, now_ms);
  if (!account.empty() &&
      (!enrolled.ok() || enrolled->status != biometrics::EnrollStatus::kEnrolled)) {
    auto now_linked = deps_.store->AccountOfSubject(s.id);
    if (now_linked.ok() && *now_linked == account) (void)deps_.store->UnlinkSubject(s.id);
  }
  FACEPAY_ASSIGN_OR_RETURN(out.result, std::move(enrolled));
  if (!r.challenge_id.empty() && out.result.reason == "images_do_not_match_subject") {
    out.result.reason = "challenge_face_mismatch";
  }
  if (out.result.status == biometrics::EnrollStatus::kEnrolled) out.account_id = account;
  json detail = AuditDetail(out.result, out.liveness);
  if (!r.challenge_id.empty()) detail["challenge"] = r.challenge_id;
  deps_.audit->Audit(who, now_ms, "enroll", s.id, biometrics::EnrollStatusName(out.result.status),
                     std::move(detail));
  return out;
}

StatusOr<EnrolmentOutcome> EnrolmentFlow::AddImages(const Caller& who,
                                                    const AddImagesRequest& r) const {
  const int64_t now_ms = deps_.clock->NowMs();
  const std::string& id = r.subject_id;
  biometrics::EnrollOptions eo;
  eo.fuse = r.capture.fuse;
  eo.keep_images = deps_.options.keep_enrollment_images;
  if (r.capture.images.empty()) return InvalidArgument("missing_images", "send 1..8 'images'");
  EnrolmentOutcome out;
  FACEPAY_RETURN_IF_ERROR(JudgeBurst(who, r.capture, "add_images", id, false, eo, out));
  if (out.burst_refused) return out;
  eo.same_subject_threshold = deps_.options.verify_threshold;
  const Identifier identifier(deps_);
  eo.same_subject_score = [&identifier, &id](const vision::Embedding& e) {
    return identifier.Verify(id, e);
  };
  FACEPAY_ASSIGN_OR_RETURN(out.result, biometrics::AddImagesFromBytes(*deps_.pipeline, *deps_.gallery,
                                                                      id, r.capture.images, eo,
                                                                      now_ms));
  if (out.result.status == biometrics::EnrollStatus::kEnrolled) {
    out.templates_total = deps_.gallery->TemplatesOf(id).size();
  }
  deps_.audit->Audit(who, now_ms, "add_images", id, biometrics::EnrollStatusName(out.result.status),
                     AuditDetail(out.result, out.liveness));
  return out;
}

StatusOr<size_t> ErasureFlow::Erase(const Caller& who, const std::string& subject_id) const {
  const int64_t now_ms = deps_.clock->NowMs();
  FACEPAY_RETURN_IF_ERROR(deps_.store->UnlinkSubject(subject_id));
  FACEPAY_ASSIGN_OR_RETURN(size_t removed, deps_.gallery->Erase(subject_id, now_ms));
  deps_.audit->Audit(who, now_ms, "erase", subject_id, "ok", {{"templates_removed", removed}});
  return removed;
}

}  // namespace facepay::flows
