#include "facepay/vision/model_pack.h"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include "facepay/vision/image_decode.h"
#include "json_int.h"

namespace facepay::vision {
namespace {

using nlohmann::json;
constexpr size_t kMaxModelBytes = 512u << 20;
constexpr size_t kMaxManifestBytes = 1u << 20;

StatusOr<InputSpec> ParseInput(const json& j) {
  InputSpec in;
  in.name = j.at("name").get<std::string>();
  in.width = JsonInt(j.at("width"));
  in.height = JsonInt(j.at("height"));
  in.channels = JsonInt(j.at("channels"));
  in.channel_order = j.at("channel_order").get<std::string>();
  in.mean = j.at("mean").get<float>();
  in.scale = j.at("scale").get<float>();
  if (in.width <= 0 || in.height <= 0 || in.width > 4096 || in.height > 4096) {
    return InvalidArgument("model_manifest_invalid", "input size out of range");
  }
  if (in.channel_order != "BGR" && in.channel_order != "RGB" && in.channel_order != "GRAY") {
    return InvalidArgument("model_manifest_invalid", "channel_order must be BGR, RGB or GRAY");
  }
  if ((in.channel_order == "GRAY") != (in.channels == 1)) {
    return InvalidArgument("model_manifest_invalid", "channels does not match channel_order");
  }
  return in;
}

}  // namespace

const char* ModelRoleName(ModelRole role) {
  switch (role) {
    case ModelRole::kDetector: return "detector";
    case ModelRole::kLandmarks: return "landmarks";
    case ModelRole::kEmbedder: return "embedder";
    case ModelRole::kLiveness: return "liveness";
  }
  return "unknown";
}

std::string Sha256Hex(const std::string& data) {
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * sizeof(out));
  for (unsigned char c : out) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  return hex;
}

StatusOr<std::shared_ptr<const ModelPack>> ModelPack::Load(const std::string& dir) {
  const std::string manifest_path = dir + "/manifest.json";
  auto text = ReadFileBounded(manifest_path, kMaxManifestBytes);
  if (!text.ok()) {
    return FailedPrecondition("model_manifest_missing",
                              "cannot read " + manifest_path + " (" + text.status().ToString() +
                                  "); run scripts/setup");
  }
  auto pack = std::shared_ptr<ModelPack>(new ModelPack());
  pack->dir_ = dir;
  try {
    const json m = json::parse(*text);
    pack->manifest_ = m;
    pack->pack_id_ = m.at("pack").at("id").get<std::string>();
    const json& models = m.at("models");
    for (int r = 0; r < 4; ++r) {
      const auto role = static_cast<ModelRole>(r);
      const json& j = models.at(ModelRoleName(role));
      ModelSpec& s = pack->specs_[r];
      s.role = role;
      s.file = j.at("file").get<std::string>();
      s.sha256 = j.at("sha256").get<std::string>();
      if (s.file.find('/') != std::string::npos || s.file.find("..") != std::string::npos) {
        return InvalidArgument("model_manifest_invalid", "model file must be a plain name");
      }
      FACEPAY_ASSIGN_OR_RETURN(s.input, ParseInput(j.at("input")));
      s.outputs = j.at("outputs").get<std::vector<std::string>>();
    }
    PackParams& p = pack->params_;
    const json& dp = models.at("detector").at("params");
    p.detect_confidence = dp.at("confidence").get<float>();
    p.detect_nms_iou = dp.at("nms_iou").get<float>();
    p.detect_max_faces = JsonInt(dp.at("max_faces"));
    const json& lp = models.at("landmarks").at("params");
    p.landmark_points = JsonInt(lp.at("points"));
    p.landmark_crop = lp.value("crop", std::string("square_height"));
    if (p.landmark_crop != "square_height" && p.landmark_crop != "box") {
      return InvalidArgument("model_manifest_invalid", "landmarks crop must be square_height or box");
    }
    p.embedding_dim = JsonInt(models.at("embedder").at("params").at("dim"));
    p.embedder_model_id = models.at("embedder").at("params").at("model_id").get<std::string>();
    p.liveness_crop_scale = models.at("liveness").at("params").at("crop_scale").get<float>();
    p.liveness_live_index = JsonInt(models.at("liveness").at("params").at("live_index"));
    p.verify_cosine = m.at("thresholds").at("verify_cosine").get<float>();
    p.liveness_live = m.at("thresholds").at("liveness_live").get<float>();
    if (p.landmark_points != 68) {
      return InvalidArgument("model_manifest_invalid", "only 68-point landmark models are supported");
    }
    if (p.embedding_dim <= 0 || p.embedding_dim > 4096 || p.detect_max_faces <= 0 ||
        p.liveness_live_index < 0 || p.liveness_live_index > 2) {
      return InvalidArgument("model_manifest_invalid", "model parameter out of range");
    }
  } catch (const json::exception& e) {
    return InvalidArgument("model_manifest_invalid", manifest_path + ": " + e.what());
  }
  if (sodium_init() < 0) return Internal("crypto_init_failed", "libsodium failed to initialise");
  for (int r = 0; r < 4; ++r) {
    const ModelSpec& s = pack->specs_[r];
    auto bytes = ReadFileBounded(dir + "/" + s.file, kMaxModelBytes);
    if (!bytes.ok()) {
      return FailedPrecondition("model_file_missing", "cannot read model " + s.file + " (" +
                                                          bytes.status().ToString() +
                                                          "); run scripts/setup");
    }
    const std::string got = Sha256Hex(*bytes);
    if (got != s.sha256) {
      return DataLoss("model_checksum_mismatch", s.file + ": sha256 " + got + ", manifest says " +
                                                     s.sha256 + "; run scripts/setup");
    }
    pack->bytes_[r] = std::move(bytes).value();
  }
  return std::shared_ptr<const ModelPack>(std::move(pack));
}

}  // namespace facepay::vision
