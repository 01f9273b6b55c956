// Presentation-attack detection evaluation over still images and videos (frames sampled).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "facepay/eval/datasets.h"
#include "facepay/eval/metrics.h"
#include "facepay/vision/face_pipeline.h"

namespace facepay::eval {

struct PadEvalOptions {
  int threads = 1;
  int frame_step = 5;    // videos: score every Nth frame
  int max_frames = 600;  // videos: at most this many scored frames per file
  bool progress = true;
};

struct PadScore {
  std::string source;  // file path, with "#frame" for video frames
  std::string label;   // "live" or attack type
  float score = 0;     // fused liveness score (p_live)
};

struct PadScores {
  std::vector<PadScore> scored;
  std::vector<std::string> failures;  // "source: reason" (no face, decode error)
};

// Expands each sample (image, folder of images, or video) and scores every image/frame.
PadScores ScorePad(const vision::FacePipeline& pipeline, const std::vector<PadSample>& samples,
                   const PadEvalOptions& options);

struct PadReport {
  size_t bona_fide = 0, attacks = 0, failures = 0;
  PadPoint at_threshold;                       // at the configured threshold
  std::map<std::string, PadPoint> per_attack;  // APCER per attack type at the threshold
  PadPoint bpcer_at_apcer_1pct;
  PadPoint bpcer_at_apcer_5pct;
  double auc = 0;
};
PadReport EvaluatePad(const PadScores& scores, float threshold);
nlohmann::json PadReportToJson(const PadReport& r);

}  // namespace facepay::eval
