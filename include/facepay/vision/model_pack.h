// The model pack: models/manifest.json plus the ONNX files it names, loaded into memory once
// and verified by sha256. Immutable after Load, so one pack is shared by every thread and by
// every inference instance created from it. Swapping the pack (e.g. a stronger embedder) is a
// manifest change, not a code change: file names, input specs and thresholds come from it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "facepay/common/status_or.h"

namespace facepay::vision {

enum class ModelRole { kDetector, kLandmarks, kEmbedder, kLiveness };
const char* ModelRoleName(ModelRole role);  // "detector", "landmarks", ...

struct InputSpec {
  std::string name;
  int width = 0;
  int height = 0;
  int channels = 3;
  std::string channel_order;  // "BGR", "RGB" or "GRAY"
  float mean = 0.f;           // network input = (pixel - mean) * scale
  float scale = 1.f;
};

struct ModelSpec {
  ModelRole role;
  std::string file;
  std::string sha256;
  InputSpec input;
  std::vector<std::string> outputs;
};

struct PackParams {
  // detector
  float detect_confidence = 0.65f;
  float detect_nms_iou = 0.4f;
  int detect_max_faces = 50;
  // landmarks
  int landmark_points = 68;
  // "square_height": the box squared to its height, centred; "box": the box as detected.
  std::string landmark_crop = "square_height";
  // embedder
  int embedding_dim = 512;
  std::string embedder_model_id;
  // liveness
  float liveness_crop_scale = 2.7f;
  int liveness_live_index = 0;
  // thresholds
  float verify_cosine = 0.3f;
  float liveness_live = 0.5f;
};

class ModelPack {
 public:
  // Reads `<dir>/manifest.json`, reads each model file and checks its sha256.
  // Reasons: model_manifest_missing, model_manifest_invalid, model_file_missing,
  // model_checksum_mismatch.
  static StatusOr<std::shared_ptr<const ModelPack>> Load(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const std::string& pack_id() const { return pack_id_; }
  const ModelSpec& spec(ModelRole role) const { return specs_[static_cast<int>(role)]; }
  const std::string& bytes(ModelRole role) const { return bytes_[static_cast<int>(role)]; }
  const PackParams& params() const { return params_; }
  // The whole manifest, for optional sections (e.g. "sequence_liveness").
  const nlohmann::json& manifest() const { return manifest_; }

 private:
  ModelPack() = default;
  std::string dir_;
  std::string pack_id_;
  ModelSpec specs_[4];
  std::string bytes_[4];
  PackParams params_;
  nlohmann::json manifest_;
};

// Lower-case hex sha256 of `data`.
std::string Sha256Hex(const std::string& data);

}  // namespace facepay::vision
