// 1:1 verification evaluation over LFW-style pair lists and all-vs-all image sets.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "facepay/eval/datasets.h"
#include "facepay/eval/metrics.h"
#include "facepay/vision/face_pipeline.h"

namespace facepay::eval {

// Embeds every distinct path once (in parallel, progress on stderr). Images without a face
// or that fail to decode get an empty embedding and are listed in `failures`.
struct EmbeddingSet {
  std::vector<std::string> paths;
  std::vector<vision::Embedding> embeddings;  // parallel to paths; empty = failure to enrol
  std::vector<std::string> failures;          // "path: reason"
  int Index(const std::string& path) const;   // -1 when absent
};
EmbeddingSet EmbedAll(const vision::FacePipeline& pipeline, std::vector<std::string> paths,
                      int threads, bool progress, vision::FaceSelection selection);

struct VerifyReport {
  size_t pairs = 0;
  size_t genuine = 0, impostor = 0;
  size_t failed_pairs = 0;       // at least one image without a face (scored as a reject)
  std::vector<std::string> failures;
  KFoldResult kfold;
  double auc = 0;
  OperatingPoint eer;
  std::optional<OperatingPoint> tar_at_far_1e2, tar_at_far_1e3, tar_at_far_1e4, tar_at_far_1e5;
  // Fixed threshold evaluation (from --train-pairs, --threshold or the manifest).
  float threshold = 0;
  std::string threshold_source;
  double accuracy_at_threshold = 0;
  std::vector<RocPoint> roc;
};

// Scores pairs; failed images give score -1 (a certain reject).
std::vector<ScoredPair> ScorePairs(const EmbeddingSet& set, const std::vector<LfwPair>& pairs,
                                   size_t* failed_pairs);
VerifyReport EvaluatePairs(const std::vector<ScoredPair>& scored, int folds);
// Every pair of images; identity is the parent folder name. Fills genuine/impostor counts,
// AUC, EER and TAR at FAR 1e-2..1e-5.
VerifyReport EvaluateAllVsAll(const EmbeddingSet& set);

nlohmann::json VerifyReportToJson(const VerifyReport& r);
// Draws the ROC (TAR vs log10 FAR) into a PNG. Reason: write_failed.
Status WriteRocPng(const std::vector<RocPoint>& roc, const std::string& title,
                   const std::string& path);

}  // namespace facepay::eval
