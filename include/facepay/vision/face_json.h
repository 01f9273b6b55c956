// JSON views of vision results, shared by the CLI and the HTTP service.
// The `facepay embed` line format is a contract: {"path","status","error","box",
// "landmarks","detection_score","quality","liveness","embedding"}; fields are absent when not
// applicable. Box is [x,y,w,h] in pixels; landmarks are the 5 points.
#pragma once

#include <nlohmann/json.hpp>

#include "facepay/vision/face_pipeline.h"

namespace facepay::vision {

nlohmann::json QualityToJson(const Quality& q);
nlohmann::json LivenessToJson(const LivenessVerdict& v);
nlohmann::json TimingsToJson(const StageTimings& t);
// One face: box, detection_score, landmarks (5), quality, liveness (p_live) and, when
// `with_embedding`, the embedding. With `with_landmarks68` also "landmarks68".
nlohmann::json FaceToJson(const FaceResult& f, bool with_embedding, bool with_landmarks68 = false);
// The `facepay embed` contract line for one analysed image.
nlohmann::json EmbedLine(const std::string& path, const StatusOr<FaceAnalysis>& a);

}  // namespace facepay::vision
