#include "facepay/eval/identify_eval.h"

#include <algorithm>
#include <filesystem>
#include <random>

#include "facepay/biometrics/calibration.h"
#include "facepay/biometrics/gallery_index.h"

namespace facepay::eval {
namespace {

namespace bio = facepay::biometrics;
namespace fs = std::filesystem;

struct Scored {
  std::vector<bio::Candidate> cands;  // best first; empty when the probe had no face
};

std::string Fmt4(int v) {
  char b[8];
  std::snprintf(b, sizeof b, "%04d", v);
  return b;
}

void Count(std::map<std::string, int64_t>& m, const std::string& k) { ++m[k]; }

}  // namespace

StatusOr<IdentifyProtocol> BuildLfwIdentifyProtocol(const std::string& images_dir) {
  std::error_code ec;
  if (!fs::is_directory(images_dir, ec)) {
    return NotFound("dataset_missing", "no image folder at " + images_dir);
  }
  std::map<std::string, std::vector<std::string>> by_id;
  for (const auto& e : fs::directory_iterator(images_dir, ec)) {
    if (!e.is_directory()) continue;
    auto imgs = ListImages(e.path().string());
    if (imgs.ok() && !imgs->empty()) by_id[e.path().filename().string()] = *imgs;
  }
  if (by_id.empty()) return NotFound("dataset_missing", "no identities under " + images_dir);
  IdentifyProtocol p;
  size_t multi = 0, held = 0;
  for (const auto& [id, imgs] : by_id) {
    if (imgs.size() < 2) {
      p.gallery_paths.push_back(imgs[0]);
      p.gallery_ids.push_back(id);
      ++p.distractors;
      continue;
    }
    if (multi++ % 2 == 0) {
      p.gallery_paths.push_back(imgs[0]);
      p.gallery_ids.push_back(id);
      for (size_t i = 1; i < imgs.size(); ++i) p.probes.push_back({imgs[i], id, true, false});
    } else {
      const bool calib = held++ % 2 == 0;
      for (const auto& img : imgs) p.probes.push_back({img, id, false, calib});
    }
  }
  return p;
}

StatusOr<IdentifyReport> EvaluateIdentification(const EmbeddingSet& set,
                                                const IdentifyProtocol& protocol,
                                                const IdentifyEvalOptions& options) {
  IdentifyReport r;
  const int dim = 512;
  FACEPAY_ASSIGN_OR_RETURN(auto index, bio::MakeGalleryIndex("Flat", dim));
  std::vector<int64_t> labels;
  std::vector<float> data;
  for (size_t g = 0; g < protocol.gallery_paths.size(); ++g) {
    int i = set.Index(protocol.gallery_paths[g]);
    if (i < 0 || set.embeddings[static_cast<size_t>(i)].size() != static_cast<size_t>(dim)) {
      ++r.failures;  // failure to enrol: the subject is simply absent
      continue;
    }
    labels.push_back(static_cast<int64_t>(g));
    const auto& e = set.embeddings[static_cast<size_t>(i)];
    data.insert(data.end(), e.begin(), e.end());
  }
  FACEPAY_RETURN_IF_ERROR(index->AddBatch(labels, data));
  r.gallery = labels.size();
  r.distractors = protocol.distractors;
  const int k = std::min<int>(options.candidates, static_cast<int>(labels.size()));

  std::vector<Scored> scored(protocol.probes.size());
  for (size_t p = 0; p < protocol.probes.size(); ++p) {
    int i = set.Index(protocol.probes[p].path);
    if (i < 0 || set.embeddings[static_cast<size_t>(i)].empty()) {
      ++r.failures;
      continue;
    }
    FACEPAY_ASSIGN_OR_RETURN(auto hits, index->Search(set.embeddings[static_cast<size_t>(i)], k));
    for (const auto& h : hits) {
      scored[p].cands.push_back({protocol.gallery_ids[static_cast<size_t>(h.label)], h.score});
    }
  }

  // Rank-1 and FNIR at FPIR over all probes.
  std::vector<float> nonmated_top;
  std::vector<std::pair<bool, float>> mated;  // rank-1 is the mate, its score
  bio::CalibrationInput calib;
  calib.target_fpir = options.policy_target_fpir;
  calib.margin = options.margin;
  calib.gallery_size = static_cast<int64_t>(r.gallery);
  for (size_t p = 0; p < protocol.probes.size(); ++p) {
    const auto& pr = protocol.probes[p];
    const auto& c = scored[p].cands;
    if (pr.mated) {
      ++r.mated;
      bool hit = !c.empty() && c[0].subject_id == pr.identity;
      mated.push_back({hit, c.empty() ? -2.0f : c[0].score});
    } else {
      ++r.nonmated;
      nonmated_top.push_back(c.empty() ? -2.0f : c[0].score);
      if (pr.calibration) {
        ++r.calibration;
        std::vector<float> s;
        for (const auto& x : c) s.push_back(x.score);
        if (!s.empty()) calib.nonmated_top_scores.push_back(std::move(s));
      }
    }
  }
  size_t hits = 0;
  for (const auto& m : mated) hits += m.first;
  r.rank1 = mated.empty() ? 0 : static_cast<double>(hits) / static_cast<double>(mated.size());
  for (double fpir : options.fpirs) {
    IdentifyReport::Point pt;
    pt.target_fpir = fpir;
    const auto allowed = static_cast<int64_t>(fpir * static_cast<double>(nonmated_top.size()));
    pt.threshold = bio::ThresholdAllowing(nonmated_top, allowed);
    size_t fp = 0, found = 0;
    for (float s : nonmated_top) fp += s >= pt.threshold;
    for (const auto& m : mated) found += m.first && m.second >= pt.threshold;
    pt.fpir = static_cast<double>(fp) / static_cast<double>(std::max<size_t>(1, nonmated_top.size()));
    pt.fnir = 1.0 - static_cast<double>(found) / static_cast<double>(std::max<size_t>(1, mated.size()));
    r.points.push_back(pt);
  }

  // Decision policy calibrated on the calibration half, measured on the rest.
  FACEPAY_ASSIGN_OR_RETURN(r.policy, bio::Calibrate(calib));
  std::mt19937 rng(static_cast<uint32_t>(options.seed));
  std::uniform_int_distribution<int> digit4(0, 9999);
  std::map<std::string, std::string> digits;
  for (const auto& id : protocol.gallery_ids) digits[id] = Fmt4(digit4(rng));
  const auto& t = r.policy.thresholds;
  for (size_t p = 0; p < protocol.probes.size(); ++p) {
    const auto& pr = protocol.probes[p];
    if (!pr.mated && pr.calibration) continue;
    const auto& c = scored[p].cands;
    const auto state = c.empty() ? bio::ProbeState::kNoFace : bio::ProbeState::kOk;
    std::vector<bio::Candidate> top10(c.begin(), c.begin() + std::min<size_t>(c.size(), 10));
    bio::Decision d1 = bio::Decide(state, top10, t);
    bio::Decision d2 = d1;
    if (d1.outcome == bio::Outcome::kStepUp) {
      const std::string typed = pr.mated ? digits[pr.identity] : Fmt4(digit4(rng));
      d2 = bio::DecideWithSecondFactor(state, c, t, [&](const std::string& s) {
        return digits[s] == typed;
      });
    }
    for (int pass = 0; pass < 2; ++pass) {
      const bio::Decision& d = pass == 0 ? d1 : d2;
      OutcomeSplit& split = pass == 0 ? r.face_only : r.with_phone_digits;
      std::string key = bio::OutcomeName(d.outcome);
      if (d.outcome == bio::Outcome::kAccept && pr.mated) {
        key = d.subject_id == pr.identity ? "accept_correct" : "accept_wrong";
      }
      if (d.outcome == bio::Outcome::kReject) key += std::string(":") + bio::RejectReasonName(d.reason);
      Count(pr.mated ? split.mated : split.nonmated, key);
    }
  }
  return r;
}

nlohmann::json IdentifyReportToJson(const IdentifyReport& r) {
  nlohmann::json j;
  j["gallery"] = r.gallery;
  j["distractors"] = r.distractors;
  j["mated_probes"] = r.mated;
  j["nonmated_probes"] = r.nonmated;
  j["nonmated_calibration_probes"] = r.calibration;
  j["failures_to_embed"] = r.failures;
  j["rank1"] = r.rank1;
  j["fnir_at_fpir"] = nlohmann::json::array();
  for (const auto& p : r.points) {
    j["fnir_at_fpir"].push_back({{"target_fpir", p.target_fpir},
                                 {"fpir", p.fpir},
                                 {"fnir", p.fnir},
                                 {"threshold", p.threshold}});
  }
  j["policy"] = biometrics::PolicyToJson(r.policy);
  j["outcomes_face_only"] = {{"mated", r.face_only.mated}, {"nonmated_test", r.face_only.nonmated}};
  j["outcomes_with_phone_digits"] = {{"mated", r.with_phone_digits.mated},
                                     {"nonmated_test", r.with_phone_digits.nonmated}};
  return j;
}

}  // namespace facepay::eval
