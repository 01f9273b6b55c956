#include "facepay/vision/face_json.h"

#include <cmath>

namespace facepay::vision {
namespace {

using nlohmann::json;

double Round(double v, double scale) { return std::round(v * scale) / scale; }

json Point(const cv::Point2f& p) { return json::array({Round(p.x, 100), Round(p.y, 100)}); }

}  // namespace

json QualityToJson(const Quality& q) {
  return json{{"ok", q.ok()},
              {"reasons", q.reasons},
              {"face_px", Round(q.face_px, 10)},
              {"sharpness", Round(q.sharpness, 10)},
              {"brightness", Round(q.brightness, 10)},
              {"clipped_fraction", Round(q.clipped_fraction, 1000)},
              {"yaw_deg", Round(q.yaw_deg, 10)},
              {"pitch_deg", Round(q.pitch_deg, 10)},
              {"inside_frame", q.inside_frame}};
}

json LivenessToJson(const LivenessVerdict& v) {
  json signals = json::array();
  for (const auto& s : v.signals) {
    signals.push_back({{"name", s.name}, {"value", Round(s.value, 1e4)},
                       {"contribution", Round(s.contribution, 1e4)}});
  }
  return json{{"score", Round(v.score, 1e4)}, {"live", v.live}, {"signals", signals}};
}

json TimingsToJson(const StageTimings& t) {
  return json{{"decode_ms", Round(t.decode_ms, 100)},     {"detect_ms", Round(t.detect_ms, 100)},
              {"landmarks_ms", Round(t.landmarks_ms, 100)}, {"align_ms", Round(t.align_ms, 100)},
              {"quality_ms", Round(t.quality_ms, 100)},   {"liveness_ms", Round(t.liveness_ms, 100)},
              {"embed_ms", Round(t.embed_ms, 100)},       {"total_ms", Round(t.total_ms, 100)}};
}

json FaceToJson(const FaceResult& f, bool with_embedding, bool with_landmarks68) {
  const cv::Rect2f& b = f.detection.box;
  json j{{"box", {Round(b.x, 10), Round(b.y, 10), Round(b.width, 10), Round(b.height, 10)}},
         {"detection_score", Round(f.detection.score, 1e4)},
         {"quality", QualityToJson(f.quality)}};
  json lm = json::array();
  for (const auto& p : f.five) lm.push_back(Point(p));
  j["landmarks"] = lm;
  if (with_landmarks68) {
    json l68 = json::array();
    for (const auto& p : f.landmarks) l68.push_back(Point(p));
    j["landmarks68"] = l68;
  }
  if (!f.liveness.signals.empty()) j["liveness"] = Round(f.liveness.score, 1e4);
  if (with_embedding && !f.embedding.empty()) j["embedding"] = f.embedding;
  return j;
}

json EmbedLine(const std::string& path, const StatusOr<FaceAnalysis>& a) {
  json j{{"path", path}};
  if (!a.ok()) {
    j["status"] = "error";
    j["error"] = std::string(a.status().reason());
    j["message"] = std::string(a.status().message());
    return j;
  }
  if (a->faces.empty()) {
    j["status"] = "no_face";
    return j;
  }
  j["status"] = "ok";
  j.update(FaceToJson(a->faces[0], /*with_embedding=*/true));
  return j;
}

}  // namespace facepay::vision
