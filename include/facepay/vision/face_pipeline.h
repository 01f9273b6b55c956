// FacePipeline: image in, faces + quality + liveness + embedding out.
//
// Thread-safe: Analyze may be called from many threads at once. Internally it keeps a pool of
// inference instances (one set of networks each, created from the one in-memory ModelPack
// on first need, reused afterwards); a call borrows an instance and returns it, waiting when
// `max_instances` are all busy. Outcomes such as "no face" or "multiple faces" are values in
// FaceAnalysis, not errors; errors are bad input (decode reasons) or inference_failed.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <span>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "facepay/common/status_or.h"
#include "facepay/vision/face_types.h"
#include "facepay/vision/image_decode.h"
#include "facepay/vision/liveness.h"
#include "facepay/vision/model_pack.h"
#include "facepay/vision/quality.h"

namespace facepay::vision {

struct PipelineOptions {
  int max_instances = 0;  // 0 = number of hardware threads
  QualityConfig quality;
  DecodeLimits decode;
  bool flip_embedding = false;  // average with the mirrored face's embedding
  // With AnalyzeOptions::single_subject, another face at least this fraction of the chosen
  // face's box area makes the result multiple_faces.
  float multiple_face_area_ratio = 0.25f;
};

// Which face is "the" face of an image.
enum class FaceSelection {
  kLargest,  // largest box (a gate camera: the person in front is the closest)
  // Largest after down-weighting faces far from the image centre (area * (1 - 0.6 d/r), d the
  // distance of the box centre to the image centre, r half the diagonal): photos framed on one
  // person, such as LFW, where a bigger bystander can be cut off at the edge.
  kCentral,
};
// Parses "largest" / "central"; nullopt otherwise.
std::optional<FaceSelection> ParseFaceSelection(std::string_view name);

struct AnalyzeOptions {
  FaceSelection selection = FaceSelection::kLargest;
  bool single_subject = false;  // report multiple_faces instead of choosing one
  bool all_faces = false;       // run landmarks/quality/liveness on every face, not just one
  bool liveness = true;
  bool embed = true;
};

enum class FaceStatus { kOk, kNoFace, kMultipleFaces };
const char* FaceStatusName(FaceStatus s);  // "ok", "no_face", "multiple_faces"

struct FaceResult {
  Detection detection;
  Landmarks68 landmarks;
  FivePoints five;
  Quality quality;
  LivenessVerdict liveness;  // empty signals when liveness was not run
  Embedding embedding;       // empty when not embedded
};

struct StageTimings {
  double decode_ms = 0, detect_ms = 0, landmarks_ms = 0, align_ms = 0, quality_ms = 0,
         liveness_ms = 0, embed_ms = 0, total_ms = 0;
};

struct FaceAnalysis {
  FaceStatus status = FaceStatus::kNoFace;
  int image_width = 0, image_height = 0;
  std::vector<Detection> detections;  // every face found, best score first
  // faces[0] is the chosen face; with all_faces, the others follow in selection order.
  std::vector<FaceResult> faces;
  StageTimings timings;
};

class FacePipeline {
 public:
  static StatusOr<std::unique_ptr<FacePipeline>> Create(std::shared_ptr<const ModelPack> pack,
                                                        PipelineOptions options);
  ~FacePipeline();

  StatusOr<FaceAnalysis> Analyze(const cv::Mat& bgr, const AnalyzeOptions& options) const;
  StatusOr<FaceAnalysis> AnalyzeBytes(std::span<const uint8_t> bytes,
                                      const AnalyzeOptions& options) const;
  StatusOr<FaceAnalysis> AnalyzeFile(const std::string& path, const AnalyzeOptions& options) const;

  const ModelPack& pack() const { return *pack_; }
  const PipelineOptions& options() const { return options_; }
  const LivenessFusion& liveness_fusion() const { return fusion_; }

  struct Instance;  // one set of networks (internal)

 private:
  FacePipeline(std::shared_ptr<const ModelPack> pack, PipelineOptions options);
  StatusOr<std::unique_ptr<Instance>> Acquire() const;
  void Release(std::unique_ptr<Instance> inst) const;

  std::shared_ptr<const ModelPack> pack_;
  PipelineOptions options_;
  LivenessFusion fusion_;
  mutable std::mutex mu_;  // guards free_ and created_
  mutable std::condition_variable cv_;
  mutable std::vector<std::unique_ptr<Instance>> free_;
  mutable int created_ = 0;
};

// Cosine similarity of two L2-normalised embeddings (their dot product).
float CosineSimilarity(const Embedding& a, const Embedding& b);

}  // namespace facepay::vision
