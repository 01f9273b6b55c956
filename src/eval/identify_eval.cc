#include "facepay/eval/identify_eval.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "facepay/biometrics/calibration.h"
#include "facepay/biometrics/gallery_index.h"
#include "facepay/eval/metrics.h"

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

StatusOr<std::vector<Sample>> ReadSamples(const std::string& src) {
  std::error_code ec;
  std::vector<Sample> out;
  if (fs::is_directory(src, ec)) {
    for (const auto& e : fs::directory_iterator(src, ec)) {
      if (!e.is_directory()) continue;
      auto imgs = ListImages(e.path().string());
      if (!imgs.ok()) continue;
      for (const auto& img : *imgs) out.push_back({e.path().filename().string(), img});
    }
  } else {
    std::ifstream in(src);
    if (!in) return NotFound("dataset_missing", "no sample folder or list at " + src);
    const fs::path base = fs::path(src).parent_path();
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      Sample smp;
      const auto tab = line.find('\t');
      fs::path path = tab == std::string::npos ? line : line.substr(tab + 1);
      if (path.empty()) {
        std::string msg = src;
        msg += ":";
        msg += std::to_string(n);
        msg += ": no path";
        return InvalidArgument("samples_malformed", msg);
      }
      if (path.is_relative()) path = base / path;
      smp.path = path.string();
      smp.identity = tab == std::string::npos ? path.parent_path().filename().string()
                                               : line.substr(0, tab);
      if (smp.identity.empty()) {
        std::string msg = src;
        msg += ":";
        msg += std::to_string(n);
        msg += ": no identity";
        return InvalidArgument("samples_malformed", msg);
      }
      out.push_back(std::move(smp));
    }
  }
  if (out.empty()) return NotFound("dataset_missing", "no samples in " + src);
  std::sort(out.begin(), out.end(), [](const Sample& a, const Sample& b) {
    return a.identity != b.identity ? a.identity < b.identity : a.path < b.path;
  });
  return out;
}

StatusOr<IdentifyProtocol> BuildIdentifyProtocol(const std::vector<Sample>& gallery,
                                                 const std::vector<Sample>& probes) {
  IdentifyProtocol p;
  std::set<std::string> enrolled;
  for (const auto& g : gallery) {
    if (!enrolled.insert(g.identity).second) continue;  // first sample of each identity
    p.gallery_paths.push_back(g.path);
    p.gallery_ids.push_back(g.identity);
  }
  if (p.gallery_paths.empty()) return NotFound("dataset_missing", "the gallery is empty");
  std::set<std::string> probe_ids;
  for (const auto& s : probes) probe_ids.insert(s.identity);
  for (const auto& id : p.gallery_ids) p.distractors += probe_ids.count(id) == 0;
  std::map<std::string, bool> calib_half;  // non-mated identity -> calibration half
  for (const auto& s : probes) {
    const bool mated = enrolled.count(s.identity) != 0;
    bool calib = false;
    if (!mated) {
      auto [it, fresh] = calib_half.emplace(s.identity, calib_half.size() % 2 == 0);
      calib = it->second;
    }
    p.probes.push_back({s.path, s.identity, mated, calib, false});
  }
  return p;
}

void AddLeaveOneOutProbes(IdentifyProtocol& p) {
  std::map<std::string, std::vector<std::string>> samples;  // enrolled identity -> its images
  for (size_t g = 0; g < p.gallery_paths.size(); ++g) samples[p.gallery_ids[g]].push_back(p.gallery_paths[g]);
  for (const auto& pr : p.probes) {
    if (pr.mated) samples[pr.identity].push_back(pr.path);
  }
  size_t n = 0;
  for (const auto& id : p.gallery_ids) {
    auto it = samples.find(id);
    if (it == samples.end()) continue;
    const bool calib = n++ % 2 == 0;
    for (const auto& path : it->second) p.probes.push_back({path, id, false, calib, true});
    samples.erase(it);
  }
}

StatusOr<std::map<std::string, std::set<std::string>>> ReadSamePerson(const std::string& file) {
  std::ifstream in(file);
  if (!in) return NotFound("file_not_found", "cannot open " + file);
  std::map<std::string, std::set<std::string>> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::vector<std::string> names;
    for (std::string t; ss >> t;) names.push_back(t);
    if (names.size() < 2) {
      std::string msg = file;
      msg += ":";
      msg += std::to_string(n);
      msg += ": expected two or more names";
      return InvalidArgument("same_person_malformed", msg);
    }
    for (const auto& a : names) {
      for (const auto& b : names) {
        if (a != b) out[a].insert(b);
      }
    }
  }
  return out;
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
  // Leave-one-out probes drop their own identity (one gallery entry per identity): one deeper.
  // Same-person names (label noise) are dropped from each other's candidates: one deeper each.
  size_t max_aliases = 0;
  for (const auto& [name, others] : options.same_person) max_aliases = std::max(max_aliases, others.size());
  const int k_loo = std::min<int>(options.candidates + 1 + static_cast<int>(max_aliases),
                                  static_cast<int>(labels.size()));
  auto alias_of = [&](const std::string& a, const std::string& b) {
    auto it = options.same_person.find(a);
    return it != options.same_person.end() && it->second.count(b) != 0;
  };

  std::vector<Scored> scored(protocol.probes.size());
  for (size_t p = 0; p < protocol.probes.size(); ++p) {
    int i = set.Index(protocol.probes[p].path);
    if (i < 0 || set.embeddings[static_cast<size_t>(i)].empty()) {
      ++r.failures;
      continue;
    }
    const auto& pr = protocol.probes[p];
    FACEPAY_ASSIGN_OR_RETURN(
        auto hits, index->Search(set.embeddings[static_cast<size_t>(i)],
                                 pr.exclude_own || max_aliases > 0 ? k_loo : k));
    for (const auto& h : hits) {
      const auto& id = protocol.gallery_ids[static_cast<size_t>(h.label)];
      if (pr.exclude_own && id == pr.identity) continue;
      if (alias_of(pr.identity, id)) continue;
      if (static_cast<int>(scored[p].cands.size()) < k) scored[p].cands.push_back({id, h.score});
    }
  }

  // Rank-1 and FNIR at FPIR over all probes.
  std::vector<float> nonmated_top;
  std::vector<std::pair<bool, float>> mated;  // rank-1 is the mate, its score
  bio::CalibrationInput calib;
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
      r.leave_one_out += pr.exclude_own;
      r.nonmated_test += !pr.calibration;
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
    pt.false_positives = static_cast<int64_t>(fp);
    const auto fi = ClopperPearson(static_cast<int64_t>(fp), static_cast<int64_t>(nonmated_top.size()));
    const auto ni = ClopperPearson(static_cast<int64_t>(mated.size() - found),
                                   static_cast<int64_t>(mated.size()));
    pt.fpir_low = fi.low;
    pt.fpir_high = fi.high;
    pt.fnir_low = ni.low;
    pt.fnir_high = ni.high;
    r.points.push_back(pt);
  }

  // Decision policies calibrated on the calibration half, measured on the rest. The digits
  // are drawn once, so every policy sees the same simulated subjects and typed digits.
  std::mt19937 rng(static_cast<uint32_t>(options.seed));
  std::uniform_int_distribution<int> digit4(0, 9999);
  std::map<std::string, std::string> digits;
  for (const auto& id : protocol.gallery_ids) digits[id] = Fmt4(digit4(rng));
  std::vector<std::string> typed(protocol.probes.size());
  for (size_t p = 0; p < protocol.probes.size(); ++p) {
    const auto& pr = protocol.probes[p];
    typed[p] = pr.mated ? digits[pr.identity] : Fmt4(digit4(rng));
  }
  for (double target : options.policy_target_fpirs) {
    IdentifyReport::PolicyRun run;
    run.target_fpir = target;
    calib.target_fpir = target;
    auto policy = bio::Calibrate(calib);
    if (!policy.ok()) {
      run.refused = policy.status().ToString();
      r.policies.push_back(std::move(run));
      continue;
    }
    run.policy = *policy;
    const auto& t = run.policy.thresholds;
    for (size_t p = 0; p < protocol.probes.size(); ++p) {
      const auto& pr = protocol.probes[p];
      if (!pr.mated && pr.calibration) continue;
      const auto& c = scored[p].cands;
      const auto state = c.empty() ? bio::ProbeState::kNoFace : bio::ProbeState::kOk;
      std::vector<bio::Candidate> top10(c.begin(), c.begin() + std::min<size_t>(c.size(), 10));
      bio::Decision d1 = bio::Decide(state, top10, t);
      bio::Decision d2 = d1;
      if (d1.outcome == bio::Outcome::kStepUp) {
        d2 = bio::DecideWithSecondFactor(state, c, t, [&](const std::string& sid) {
          return digits[sid] == typed[p];
        });
      }
      for (int pass = 0; pass < 2; ++pass) {
        const bio::Decision& d = pass == 0 ? d1 : d2;
        OutcomeSplit& split = pass == 0 ? run.face_only : run.with_phone_digits;
        std::string key = bio::OutcomeName(d.outcome);
        if (d.outcome == bio::Outcome::kAccept && pr.mated) {
          key = d.subject_id == pr.identity ? "accept_correct" : "accept_wrong";
        }
        if (d.outcome == bio::Outcome::kReject) key += std::string(":") + bio::RejectReasonName(d.reason);
        Count(pr.mated ? split.mated : split.nonmated, key);
      }
    }
    r.policies.push_back(std::move(run));
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
                                 {"false_positives", p.false_positives},
                                 {"fpir_ci95", {p.fpir_low, p.fpir_high}},
                                 {"fnir_ci95", {p.fnir_low, p.fnir_high}},
                                 {"threshold", p.threshold}});
  }
  j["nonmated_leave_one_out_probes"] = r.leave_one_out;
  j["nonmated_test_probes"] = r.nonmated_test;
  j["policies"] = nlohmann::json::array();
  for (const auto& run : r.policies) {
    nlohmann::json pj = {{"target_fpir", run.target_fpir}};
    if (!run.refused.empty()) {
      pj["refused"] = run.refused;
    } else {
      pj["policy"] = biometrics::PolicyToJson(run.policy);
      pj["outcomes_face_only"] = {{"mated", run.face_only.mated},
                                  {"nonmated_test", run.face_only.nonmated}};
      pj["outcomes_with_phone_digits"] = {{"mated", run.with_phone_digits.mated},
                                          {"nonmated_test", run.with_phone_digits.nonmated}};
    }
    j["policies"].push_back(std::move(pj));
  }
  return j;
}

}  // namespace facepay::eval
