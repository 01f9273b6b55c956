#include "facepay/eval/verify_eval.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>

#include "facepay/common/progress.h"

namespace facepay::eval {

int EmbeddingSet::Index(const std::string& path) const {
  const auto it = std::lower_bound(paths.begin(), paths.end(), path);
  return (it != paths.end() && *it == path) ? static_cast<int>(it - paths.begin()) : -1;
}

EmbeddingSet EmbedAll(const vision::FacePipeline& pipeline, std::vector<std::string> paths,
                      int threads, bool progress, vision::FaceSelection selection) {
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  EmbeddingSet set;
  set.paths = std::move(paths);
  set.embeddings.resize(set.paths.size());
  std::mutex mu;  // guards set.failures
  Progress bar("embed", set.paths.size(), stderr, progress);
  vision::AnalyzeOptions opt;
  opt.liveness = false;
  opt.selection = selection;
  ParallelFor(set.paths.size(), threads, [&](size_t i) {
    auto a = pipeline.AnalyzeFile(set.paths[i], opt);
    if (a.ok() && !a->faces.empty()) {
      set.embeddings[i] = std::move(a->faces[0].embedding);
    } else {
      std::lock_guard<std::mutex> lock(mu);
      set.failures.push_back(set.paths[i] + ": " +
                             (a.ok() ? std::string("no_face") : std::string(a.status().reason())));
    }
    bar.Tick();
  });
  std::sort(set.failures.begin(), set.failures.end());
  return set;
}

std::vector<ScoredPair> ScorePairs(const EmbeddingSet& set, const std::vector<LfwPair>& pairs,
                                   size_t* failed_pairs) {
  std::vector<ScoredPair> out;
  size_t failed = 0;
  for (const LfwPair& p : pairs) {
    const int a = set.Index(p.a), b = set.Index(p.b);
    float s = -1.f;
    if (a >= 0 && b >= 0 && !set.embeddings[a].empty() && !set.embeddings[b].empty()) {
      s = vision::CosineSimilarity(set.embeddings[a], set.embeddings[b]);
    } else {
      ++failed;
    }
    out.push_back({s, p.same, 0});
  }
  if (failed_pairs) *failed_pairs = failed;
  return out;
}

namespace {

void FillRates(VerifyReport& r, const std::vector<float>& gen, const std::vector<float>& imp) {
  r.genuine = gen.size();
  r.impostor = imp.size();
  r.roc = ComputeRoc(gen, imp);
  r.auc = AreaUnderCurve(r.roc);
  r.eer = EqualErrorRate(gen, imp);
  r.tar_at_far_1e2 = TarAtFar(gen, imp, 1e-2);
  r.tar_at_far_1e3 = TarAtFar(gen, imp, 1e-3);
  r.tar_at_far_1e4 = TarAtFar(gen, imp, 1e-4);
  r.tar_at_far_1e5 = TarAtFar(gen, imp, 1e-5);
}

nlohmann::json OpJson(const std::optional<OperatingPoint>& op) {
  if (!op) return nullptr;
  return {{"tar", op->tar}, {"far", op->far}, {"threshold", op->threshold}};
}

}  // namespace

VerifyReport EvaluatePairs(const std::vector<ScoredPair>& scored_in, int folds) {
  std::vector<ScoredPair> scored = scored_in;
  AssignFolds(scored, folds);
  VerifyReport r;
  r.pairs = scored.size();
  std::vector<float> gen, imp;
  for (const auto& p : scored) (p.same ? gen : imp).push_back(p.score);
  FillRates(r, gen, imp);
  r.kfold = KFoldAccuracy(scored, folds);
  return r;
}

VerifyReport EvaluateAllVsAll(const EmbeddingSet& set) {
  std::vector<int> idx;
  std::vector<std::string> who;
  for (size_t i = 0; i < set.paths.size(); ++i) {
    if (set.embeddings[i].empty()) continue;
    idx.push_back(static_cast<int>(i));
    who.push_back(std::filesystem::path(set.paths[i]).parent_path().filename().string());
  }
  std::vector<float> gen, imp;
  imp.reserve(idx.size() * idx.size() / 2);
  for (size_t a = 0; a < idx.size(); ++a) {
    const auto& ea = set.embeddings[idx[a]];
    for (size_t b = a + 1; b < idx.size(); ++b) {
      const float s = vision::CosineSimilarity(ea, set.embeddings[idx[b]]);
      (who[a] == who[b] ? gen : imp).push_back(s);
    }
  }
  VerifyReport r;
  r.pairs = gen.size() + imp.size();
  r.failures = set.failures;
  FillRates(r, gen, imp);
  return r;
}

nlohmann::json VerifyReportToJson(const VerifyReport& r) {
  nlohmann::json j{{"pairs", r.pairs},
                   {"genuine", r.genuine},
                   {"impostor", r.impostor},
                   {"failed_pairs", r.failed_pairs},
                   {"failures_to_detect", r.failures.size()},
                   {"failures", r.failures},
                   {"auc", r.auc},
                   {"eer", r.eer.far},
                   {"eer_threshold", r.eer.threshold},
                   {"tar_at_far_1e-2", OpJson(r.tar_at_far_1e2)},
                   {"tar_at_far_1e-3", OpJson(r.tar_at_far_1e3)}};
  if (r.tar_at_far_1e4) j["tar_at_far_1e-4"] = OpJson(r.tar_at_far_1e4);
  if (r.tar_at_far_1e5) j["tar_at_far_1e-5"] = OpJson(r.tar_at_far_1e5);
  if (!r.kfold.fold_accuracy.empty()) {
    j["kfold"] = {{"folds", r.kfold.fold_accuracy.size()},
                  {"mean_accuracy", r.kfold.mean_accuracy},
                  {"std_accuracy", r.kfold.std_accuracy},
                  {"fold_accuracy", r.kfold.fold_accuracy},
                  {"fold_threshold", r.kfold.fold_threshold}};
  }
  if (!r.threshold_source.empty()) {
    j["threshold"] = {{"value", r.threshold},
                      {"source", r.threshold_source},
                      {"accuracy", r.accuracy_at_threshold}};
  }
  return j;
}

}  // namespace facepay::eval
