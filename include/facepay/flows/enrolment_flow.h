// Enrolment as one operation: consent, second factors, the account link and the face templates
// of a new subject, or nothing. The account is linked before the templates are stored, and the
// link is released when the enrolment fails or is refused, so no step that fails leaves a
// subject enrolled but unlinked (or an account linked to a face that was not stored); a crash
// between the two leaves a link to a subject that does not exist, released by the next
// enrolment naming the account. Also: adding images to a subject, and erasure. Thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "facepay/biometrics/enrollment.h"
#include "facepay/flows/flow_deps.h"
#include "facepay/flows/probe.h"

namespace facepay::flows {

// What an enrolment camera or upload gave.
struct EnrolmentCapture {
  std::vector<biometrics::NamedImage> images;  // uploaded images and burst frames, all of them
  // A live capture burst (>= kMinSequenceFrames frames, with their interval) is judged by
  // sequence liveness, as a gate burst is: the passive one-frame model alone refuses most real
  // people on ordinary webcams (docs/liveness.md). A live burst enrols from its best frames
  // without the per-image liveness check; a burst judged an attack enrols nothing. No frames
  // (uploaded photos, or a shorter burst): the per-image checks. As read, or why it could not
  // be read (reported when the burst is judged).
  StatusOr<Sighting> burst = Sighting{};
  bool fuse = false;
};

// How liveness was judged: per image, or over the burst by the sequence model.
struct EnrolmentLiveness {
  bool sequence = false;
  float score = 0;
  int frames = 0, face_frames = 0;
  bool unsure = false;  // in the uncalibrated unsure band: attested by the passed challenge
};
// {"mode": "per_image"} | {"mode": "sequence", "score", "frames", "face_frames"}
nlohmann::json EnrolmentLivenessJson(const EnrolmentLiveness& l);

struct EnrolmentOutcome {
  // Set (kSpoof or kMultipleFaces) when the burst was refused: nothing was stored.
  std::optional<biometrics::ProbeState> burst_refused;
  biometrics::EnrollResult result;  // otherwise: enrolled, duplicate or rejected
  EnrolmentLiveness liveness;
  std::string account_id;      // enrolled with an account: the account now linked
  size_t templates_total = 0;  // images added: the subject's templates now
};

struct EnrolmentRequest {
  biometrics::Subject subject;  // id, names and consent checked; times are set by the flow
  std::string phone_last4, pin;  // well-formed or empty: hashed with the node's pepper
  std::string account_id;        // "" = no account
  // A passed active liveness challenge of the calling key (liveness_challenge_flow.h), or "".
  // Given, it is taken (once) and every kept image must be the face its response saw, else the
  // enrolment is rejected with reason challenge_face_mismatch and nothing is stored.
  std::string challenge_id;
  EnrolmentCapture capture;
};

struct AddImagesRequest {
  std::string subject_id;  // checked
  EnrolmentCapture capture;
};

class EnrolmentFlow {
 public:
  explicit EnrolmentFlow(const FlowDeps& deps) : deps_(deps) {}
  // Errors: the ledger's (account_not_found), InvalidArgument("not_a_customer_account" |
  // "missing_images"), AlreadyExists("account_linked" | "subject_exists"), the challenge's
  // (LivenessChallengeFlow::TakePassed), the burst's and the stores' errors. Refusals (burst, duplicate face, no usable image) are outcomes.
  StatusOr<EnrolmentOutcome> Enrol(const Caller& who, const EnrolmentRequest& r) const;
  // Errors as AddImagesFromBytes (subject_not_found, too_many_templates), missing_images.
  StatusOr<EnrolmentOutcome> AddImages(const Caller& who, const AddImagesRequest& r) const;

 private:
  // The burst's verdict: `refused` set for an attack or several people (audited as `action`);
  // eo.check_liveness off when the burst attested liveness.
  Status JudgeBurst(const Caller& who, const EnrolmentCapture& capture, const std::string& action,
                    const std::string& subject_id, bool challenge_passed,
                    biometrics::EnrollOptions& eo, EnrolmentOutcome& out) const;
  const FlowDeps& deps_;
};

// Erasure: the subject's account link first, then its templates and index entries everywhere
// (payments history is kept). Cut short, it leaves an unlinked face (it pays from nothing; the
// retry erases it), never an erased face whose account stays linked. Audited.
class ErasureFlow {
 public:
  explicit ErasureFlow(const FlowDeps& deps) : deps_(deps) {}
  // The number of templates removed. NotFound("subject_not_found") for a subject not enrolled
  // (already erased: its link, if any, is released all the same).
  StatusOr<size_t> Erase(const Caller& who, const std::string& subject_id) const;

 private:
  const FlowDeps& deps_;
};

}  // namespace facepay::flows
