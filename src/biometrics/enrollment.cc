#include "facepay/biometrics/enrollment.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "facepay/vision/image_decode.h"

namespace facepay::biometrics {
namespace {

using Clock = std::chrono::steady_clock;
double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::string JoinReasons(const std::vector<std::string>& r) {
  std::string out;
  for (const auto& s : r) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

const char* EnrollStatusName(EnrollStatus s) {
  switch (s) {
    case EnrollStatus::kEnrolled: return "enrolled";
    case EnrollStatus::kDuplicate: return "duplicate";
    case EnrollStatus::kRejected: return "rejected";
  }
  return "rejected";
}

float QualityScore(const vision::Quality& q) {
  return 0.5f * std::min(1.0f, q.face_px / 112.0f) + 0.5f * std::min(1.0f, q.sharpness / 200.0f);
}

ProbeState ProbeStateOf(const vision::FaceAnalysis& a) {
  if (a.status == vision::FaceStatus::kNoFace || a.faces.empty()) return ProbeState::kNoFace;
  if (a.status == vision::FaceStatus::kMultipleFaces) return ProbeState::kMultipleFaces;
  const auto& f = a.faces[0];
  if (!f.liveness.signals.empty() && !f.liveness.live) return ProbeState::kSpoof;
  if (!f.quality.ok()) return ProbeState::kLowQuality;
  return ProbeState::kOk;
}

namespace {

using AnalyzeFn = std::function<StatusOr<vision::FaceAnalysis>(size_t, const vision::AnalyzeOptions&)>;

// The encoded bytes of input `i` (for EnrollOptions::keep_images).
using BytesFn = std::function<StatusOr<std::string>(size_t)>;

// Stores the kept templates under the subject: Gallery::Enroll or Gallery::AddTemplates.
using StoreFn = std::function<StatusOr<std::vector<int64_t>>(const std::vector<NewTemplate>&)>;

// The checks shared by enrolment and adding images: every image analysed (decode, one face,
// liveness, quality), the best-quality usable ones kept, then the duplicate check against
// every subject other than `subject_id`, optional fusion, and `store`.
StatusOr<EnrollResult> EnrollWith(const Gallery& gallery, const std::string& subject_id,
                                  const std::vector<std::string>& paths, const AnalyzeFn& analyze,
                                  const BytesFn& bytes_of, const EnrollOptions& options,
                                  const StoreFn& store) {
  FACEPAY_RETURN_IF_ERROR(ValidateSubjectId(subject_id));
  if (paths.empty() || static_cast<int>(paths.size()) > kMaxEnrollImages) {
    return InvalidArgument("invalid_image_count",
                           "enroll takes 1.." + std::to_string(kMaxEnrollImages) + " images");
  }
  if (options.max_templates < 1 || options.max_templates > kMaxEnrollImages) {
    return InvalidArgument("invalid_max_templates", "max templates must be 1..10");
  }
  EnrollResult result;
  std::vector<vision::Embedding> embeddings(paths.size());
  vision::AnalyzeOptions ao;
  ao.selection = options.selection;
  ao.single_subject = options.single_subject;
  ao.liveness = options.check_liveness;
  for (size_t i = 0; i < paths.size(); ++i) {
    ImageVerdict v;
    v.path = paths[i];
    auto a = analyze(i, ao);
    if (!a.ok()) {
      v.reason = std::string(a.status().reason());
    } else {
      ProbeState st = ProbeStateOf(*a);
      if (!a->faces.empty()) {
        v.quality_score = QualityScore(a->faces[0].quality);
        v.liveness = a->faces[0].liveness.score;
      }
      switch (st) {
        case ProbeState::kOk:
          v.usable = true;
          embeddings[i] = a->faces[0].embedding;
          break;
        case ProbeState::kLowQuality:
          v.reason = "low_quality:" + JoinReasons(a->faces[0].quality.reasons);
          break;
        default:
          v.reason = RejectReasonName(Decide(st, {}, {}).reason);
      }
    }
    result.images.push_back(std::move(v));
  }
  std::vector<size_t> order;
  for (size_t i = 0; i < paths.size(); ++i)
    if (result.images[i].usable) order.push_back(i);
  if (order.empty()) {
    result.status = EnrollStatus::kRejected;
    result.reason = "no_usable_image";
    return result;
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return result.images[a].quality_score > result.images[b].quality_score;
  });
  if (static_cast<int>(order.size()) > options.max_templates) order.resize(options.max_templates);
  std::vector<NewTemplate> templates;
  for (size_t i : order) {
    result.images[i].kept = true;
    NewTemplate t{embeddings[i], result.images[i].quality_score, {}};
    if (options.keep_images) {
      FACEPAY_ASSIGN_OR_RETURN(t.image, bytes_of(i));
    }
    templates.push_back(std::move(t));
  }
  if (options.same_subject_score) {
    for (size_t i : order) {
      FACEPAY_ASSIGN_OR_RETURN(auto score, options.same_subject_score(embeddings[i]));
      if (!score || *score < options.same_subject_threshold) {
        for (size_t j : order) result.images[j].kept = false;
        result.status = EnrollStatus::kRejected;
        result.reason = "images_do_not_match_subject";
        return result;
      }
    }
  }
  // Duplicate check against every OTHER subject, with each kept embedding.
  for (const auto& t : templates) {
    FACEPAY_ASSIGN_OR_RETURN(auto cands, gallery.Search(t.embedding, 2));
    for (const auto& c : cands) {
      if (c.subject_id == subject_id || c.score < options.duplicate_threshold) continue;
      if (c.score > result.duplicate_score || result.duplicate_of.empty()) {
        result.duplicate_of = c.subject_id;
        result.duplicate_score = c.score;
      }
    }
  }
  if (!result.duplicate_of.empty() && !options.allow_duplicate) {
    result.status = EnrollStatus::kDuplicate;
    result.reason = "duplicate_subject";
    return result;
  }
  if (options.fuse && templates.size() > 1) {
    NewTemplate fused;
    fused.embedding.assign(templates[0].embedding.size(), 0.0f);
    for (const auto& t : templates) {
      for (size_t d = 0; d < t.embedding.size(); ++d) fused.embedding[d] += t.embedding[d];
      fused.quality = std::max(fused.quality, t.quality);
    }
    double n2 = 0;
    for (float x : fused.embedding) n2 += static_cast<double>(x) * x;
    const auto inv = static_cast<float>(1.0 / std::sqrt(std::max(n2, 1e-12)));
    for (float& x : fused.embedding) x *= inv;
    fused.image = std::move(templates[0].image);  // the best-quality image
    templates = {std::move(fused)};
  }
  FACEPAY_ASSIGN_OR_RETURN(result.template_ids, store(templates));
  for (size_t j = 0; j < order.size(); ++j) {
    result.images[order[j]].template_id =
        result.template_ids[std::min(j, result.template_ids.size() - 1)];
  }
  result.status = EnrollStatus::kEnrolled;
  return result;
}

// Analyses uploaded image `i` of `images` with the pipeline's decode limits.
AnalyzeFn AnalyzeUploads(const vision::FacePipeline& pipeline,
                         const std::vector<NamedImage>& images) {
  return [&pipeline, &images](size_t i, const vision::AnalyzeOptions& ao) {
    const auto& b = images[i].bytes;
    return pipeline.AnalyzeBytes(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(b.data()), b.size()), ao);
  };
}

BytesFn UploadBytes(const std::vector<NamedImage>& images) {
  return [&images](size_t i) -> StatusOr<std::string> { return images[i].bytes; };
}

std::vector<std::string> NamesOf(const std::vector<NamedImage>& images) {
  std::vector<std::string> names;
  for (const auto& im : images) names.push_back(im.name);
  return names;
}

StoreFn EnrollInto(Gallery& gallery, const Subject& subject, int64_t now_ms) {
  return [&gallery, &subject, now_ms](const std::vector<NewTemplate>& t) {
    return gallery.Enroll(subject, t, now_ms);
  };
}

}  // namespace

StatusOr<EnrollResult> EnrollFromImages(const vision::FacePipeline& pipeline, Gallery& gallery,
                                        const Subject& subject,
                                        const std::vector<std::string>& paths,
                                        const EnrollOptions& options, int64_t now_ms) {
  return EnrollWith(
      gallery, subject.id, paths,
      [&](size_t i, const vision::AnalyzeOptions& ao) { return pipeline.AnalyzeFile(paths[i], ao); },
      [&](size_t i) {
        return vision::ReadFileBounded(paths[i], pipeline.options().decode.max_bytes);
      },
      options, EnrollInto(gallery, subject, now_ms));
}

StatusOr<EnrollResult> EnrollFromBytes(const vision::FacePipeline& pipeline, Gallery& gallery,
                                       const Subject& subject,
                                       const std::vector<NamedImage>& images,
                                       const EnrollOptions& options, int64_t now_ms) {
  return EnrollWith(gallery, subject.id, NamesOf(images), AnalyzeUploads(pipeline, images),
                    UploadBytes(images), options, EnrollInto(gallery, subject, now_ms));
}

StatusOr<EnrollResult> AddImagesFromBytes(const vision::FacePipeline& pipeline, Gallery& gallery,
                                          const std::string& subject_id,
                                          const std::vector<NamedImage>& images,
                                          const EnrollOptions& options, int64_t now_ms) {
  FACEPAY_RETURN_IF_ERROR(ValidateSubjectId(subject_id));
  // Before the images are analysed: an unknown subject is not found, not a duplicate of
  // someone else. (Gallery::AddTemplates checks again in the store's transaction.)
  FACEPAY_ASSIGN_OR_RETURN(auto subject, gallery.store().GetSubject(subject_id));
  if (!subject) return NotFound("subject_not_found", "no subject '" + subject_id + "'");
  return EnrollWith(gallery, subject_id, NamesOf(images), AnalyzeUploads(pipeline, images),
                    UploadBytes(images), options, [&](const std::vector<NewTemplate>& t) {
                      return gallery.AddTemplates(subject_id, t, now_ms);
                    });
}

nlohmann::json EnrollResultToJson(const EnrollResult& r) {
  nlohmann::json j;
  j["status"] = EnrollStatusName(r.status);
  if (!r.reason.empty()) j["reason"] = r.reason;
  if (!r.duplicate_of.empty()) {
    j["duplicate_of"] = r.duplicate_of;
    j["duplicate_score"] = r.duplicate_score;
  }
  j["templates"] = r.template_ids.size();
  j["images"] = nlohmann::json::array();
  for (const auto& v : r.images) {
    nlohmann::json i = {{"path", v.path},
                        {"usable", v.usable},
                        {"kept", v.kept},
                        {"quality_score", v.quality_score},
                        {"liveness", v.liveness}};
    if (!v.reason.empty()) i["reason"] = v.reason;
    // A decimal string: 63-bit ids do not survive a JavaScript number.
    if (v.template_id != 0) i["template_id"] = std::to_string(v.template_id);
    j["images"].push_back(std::move(i));
  }
  return j;
}

StatusOr<IdentifyResult> IdentifyImage(
    const vision::FacePipeline& pipeline, const Gallery& gallery, const PolicyThresholds& policy,
    const std::string& path, int k, const std::function<bool(const std::string&)>* second_factor) {
  if (k < 1 || k > kMaxIdentifyK) {
    return InvalidArgument("invalid_k", "k must be 1.." + std::to_string(kMaxIdentifyK));
  }
  IdentifyResult r;
  const auto t0 = Clock::now();
  vision::AnalyzeOptions ao;
  ao.single_subject = true;
  FACEPAY_ASSIGN_OR_RETURN(auto a, pipeline.AnalyzeFile(path, ao));
  const auto t1 = Clock::now();
  r.state = ProbeStateOf(a);
  auto t2 = t1;
  if (r.state == ProbeState::kOk || r.state == ProbeState::kLowQuality ||
      r.state == ProbeState::kSpoof) {
    // Searched even when the probe will be rejected, so the audit shows who it resembled.
    FACEPAY_ASSIGN_OR_RETURN(r.top, gallery.Search(a.faces[0].embedding, k));
    t2 = Clock::now();
  }
  r.decision = second_factor ? DecideWithSecondFactor(r.state, r.top, policy, *second_factor)
                             : Decide(r.state, r.top, policy);
  const auto t3 = Clock::now();
  r.analyze_ms = Ms(t0, t1);
  r.search_ms = Ms(t1, t2);
  r.decide_ms = Ms(t2, t3);
  r.total_ms = Ms(t0, t3);
  return r;
}

nlohmann::json IdentifyResultToJson(const IdentifyResult& r) {
  nlohmann::json j = DecisionToJson(r.decision);
  j["top"] = nlohmann::json::array();
  for (const auto& c : r.top) j["top"].push_back({{"subject_id", c.subject_id}, {"score", c.score}});
  j["timings_ms"] = {{"analyze", r.analyze_ms},
                     {"search", r.search_ms},
                     {"decide", r.decide_ms},
                     {"total", r.total_ms}};
  return j;
}

}  // namespace facepay::biometrics
