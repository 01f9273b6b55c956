// Enrollment from images and identification of a probe image: the glue between the vision
// pipeline, the gallery and the decision policy. Thread-safe as the pipeline and gallery are.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "facepay/biometrics/decision_policy.h"
#include "facepay/biometrics/gallery.h"
#include "facepay/vision/face_pipeline.h"

namespace facepay::biometrics {

inline constexpr int kMaxEnrollImages = 10;
inline constexpr int kMaxIdentifyK = 50;

struct EnrollOptions {
  int max_templates = 3;  // best-quality images kept
  bool fuse = false;      // store one template: the normalised mean of the kept embeddings
  // Another subject scoring at least this against a kept embedding is a duplicate.
  float duplicate_threshold = 0.48f;
  bool allow_duplicate = false;
  vision::FaceSelection selection = vision::FaceSelection::kLargest;
  // Live captures (kiosk, API) keep both on. Off only for curated photo sets an operator
  // imports (facepay demo seed): a press photo is a photo, so a liveness check says nothing
  // about it, and a bystander in the frame is cropped out by `selection`.
  bool check_liveness = true;
  bool single_subject = true;
  // Keep each kept template's source image, sealed with the template key (a fused template
  // keeps its best image). Off by default: facepay stores no raw image unless the operator
  // turns this on (serve --keep-enrollment-images).
  bool keep_images = false;
  // Adding images to an existing subject: when set, every kept embedding must score at least
  // same_subject_threshold against the subject's own templates (the scorer returns the best
  // 1:1 score, nullopt when the subject has none), else the result is rejected with reason
  // images_do_not_match_subject and nothing is stored: an enroller key must not be able to
  // add a stranger's face to someone else's account.
  std::function<StatusOr<std::optional<float>>(const vision::Embedding&)> same_subject_score;
  float same_subject_threshold = 0.41f;
};

struct ImageVerdict {
  std::string path;
  bool usable = false;
  bool kept = false;
  std::string reason;  // why not usable: decode reason, no_face, multiple_faces, spoof,
                       // low_quality:<checks>
  float quality_score = 0;
  float liveness = 0;
  int64_t template_id = 0;  // kept and stored: the template it made (fused: the one template)
};

enum class EnrollStatus { kEnrolled, kDuplicate, kRejected };
const char* EnrollStatusName(EnrollStatus s);  // "enrolled" | "duplicate" | "rejected"

struct EnrollResult {
  EnrollStatus status = EnrollStatus::kRejected;
  std::string reason;  // rejected: no_usable_image; duplicate: duplicate_subject
  std::vector<ImageVerdict> images;
  std::string duplicate_of;
  float duplicate_score = 0;
  std::vector<int64_t> template_ids;
};
nlohmann::json EnrollResultToJson(const EnrollResult& r);

// Scalar quality in 0..1 for ranking enrollment images: face size (to 112 px) and sharpness
// (to a Laplacian variance of 200), equally weighted.
float QualityScore(const vision::Quality& q);

// InvalidArgument("invalid_image_count") unless 1..kMaxEnrollImages paths; subject errors
// (invalid_subject_id, subject_exists) as errors; unusable images and duplicates as results.
StatusOr<EnrollResult> EnrollFromImages(const vision::FacePipeline& pipeline, Gallery& gallery,
                                        const Subject& subject,
                                        const std::vector<std::string>& paths,
                                        const EnrollOptions& options, int64_t now_ms);

// An image already in memory (an upload); `name` labels it in the result.
struct NamedImage {
  std::string name;
  std::string bytes;
};
// As EnrollFromImages, from encoded image bytes (decoded with the pipeline's limits).
StatusOr<EnrollResult> EnrollFromBytes(const vision::FacePipeline& pipeline, Gallery& gallery,
                                       const Subject& subject,
                                       const std::vector<NamedImage>& images,
                                       const EnrollOptions& options, int64_t now_ms);

// Adds images of an already enrolled subject, with the enrolment's checks: each image
// analysed (quality, liveness), the best `options.max_templates` usable ones kept, and an image
// that matches ANOTHER subject at or above the duplicate threshold refuses the whole call
// (status kDuplicate; matching the subject itself is expected). kEnrolled carries the new
// template ids. Errors: NotFound("subject_not_found"), invalid_subject_id,
// invalid_image_count, FailedPrecondition("too_many_templates") past kTemplatesPerSubject.
StatusOr<EnrollResult> AddImagesFromBytes(const vision::FacePipeline& pipeline, Gallery& gallery,
                                          const std::string& subject_id,
                                          const std::vector<NamedImage>& images,
                                          const EnrollOptions& options, int64_t now_ms);

struct IdentifyResult {
  Decision decision;
  std::vector<Candidate> top;  // top-k subjects with scores (empty when no usable face)
  ProbeState state = ProbeState::kOk;
  double analyze_ms = 0, search_ms = 0, decide_ms = 0, total_ms = 0;
};
nlohmann::json IdentifyResultToJson(const IdentifyResult& r);

// Maps an analysis to the policy's probe state (chosen face: liveness, then quality).
ProbeState ProbeStateOf(const vision::FaceAnalysis& a);

// Analyses the image, searches the top k subjects and decides. With `second_factor` set, the
// candidates are narrowed by it (see DecideWithSecondFactor). InvalidArgument("invalid_k").
StatusOr<IdentifyResult> IdentifyImage(
    const vision::FacePipeline& pipeline, const Gallery& gallery, const PolicyThresholds& policy,
    const std::string& path, int k,
    const std::function<bool(const std::string&)>* second_factor = nullptr);

}  // namespace facepay::biometrics
