#include "facepay/eval/pad_eval.h"

#include <mutex>

#include <opencv2/videoio.hpp>

#include "facepay/common/progress.h"

namespace facepay::eval {
namespace {

struct Job {
  std::string source;
  std::string label;
  std::string path;  // image path, or empty for a decoded video frame
  cv::Mat frame;
};

// Video frames are decoded up front (sequentially: VideoCapture is not thread-safe).
Status AppendVideoFrames(const PadSample& s, const PadEvalOptions& o, std::vector<Job>& jobs) {
  cv::VideoCapture cap;
  try {
    cap.open(s.path);
  } catch (const cv::Exception& e) {
    return InvalidArgument("video_unreadable", s.path + ": " + e.what());
  }
  if (!cap.isOpened()) return InvalidArgument("video_unreadable", "cannot open video " + s.path);
  const double fps = cap.get(cv::CAP_PROP_FPS) > 1 ? cap.get(cv::CAP_PROP_FPS) : 30;
  cv::Mat f;
  int scored = 0;
  for (int i = 0; scored < o.max_frames && cap.read(f); ++i) {
    const double t_ms = i / fps * 1000;
    if (s.to_ms > 0 && t_ms >= s.to_ms) break;
    if (t_ms < s.from_ms) continue;
    if (f.empty() || i % std::max(1, o.frame_step) != 0) continue;
    jobs.push_back({s.path + "#" + std::to_string(i), s.label, "", f.clone()});
    ++scored;
  }
  if (scored == 0) return InvalidArgument("video_unreadable", "no frames decoded from " + s.path);
  return Status::Ok();
}

}  // namespace

PadScores ScorePad(const vision::FacePipeline& pipeline, const std::vector<PadSample>& samples,
                   const PadEvalOptions& o) {
  PadScores out;
  std::vector<Job> jobs;
  for (const PadSample& s : samples) {
    if (IsVideoPath(s.path)) {
      Status st = AppendVideoFrames(s, o, jobs);
      if (!st.ok()) out.failures.push_back(s.path + ": " + std::string(st.reason()));
      continue;
    }
    auto files = ListImages(s.path);
    if (!files.ok()) {
      out.failures.push_back(s.path + ": " + std::string(files.status().reason()));
      continue;
    }
    for (const auto& f : *files) jobs.push_back({f, s.label, f, {}});
  }
  std::vector<PadScore> scored(jobs.size());
  std::vector<char> ok(jobs.size(), 0);
  std::mutex mu;  // guards out.failures
  Progress bar("liveness", jobs.size(), stderr, o.progress);
  vision::AnalyzeOptions opt;
  opt.embed = false;
  ParallelFor(jobs.size(), o.threads, [&](size_t i) {
    const Job& j = jobs[i];
    auto a = j.path.empty() ? pipeline.Analyze(j.frame, opt) : pipeline.AnalyzeFile(j.path, opt);
    if (a.ok() && !a->faces.empty()) {
      scored[i] = {j.source, j.label, a->faces[0].liveness.score};
      ok[i] = 1;
    } else {
      std::lock_guard<std::mutex> lock(mu);
      out.failures.push_back(j.source + ": " +
                             (a.ok() ? std::string("no_face") : std::string(a.status().reason())));
    }
    bar.Tick();
  });
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (ok[i]) out.scored.push_back(std::move(scored[i]));
  }
  return out;
}

PadReport EvaluatePad(const PadScores& s, float threshold) {
  PadReport r;
  std::vector<float> live, attack;
  std::map<std::string, std::vector<float>> by_type;
  for (const PadScore& p : s.scored) {
    if (p.label == "live") {
      live.push_back(p.score);
    } else {
      attack.push_back(p.score);
      by_type[p.label].push_back(p.score);
    }
  }
  r.bona_fide = live.size();
  r.attacks = attack.size();
  r.failures = s.failures.size();
  r.at_threshold = PadAt(live, attack, threshold);
  for (const auto& [type, scores] : by_type) r.per_attack[type] = PadAt(live, scores, threshold);
  r.bpcer_at_apcer_1pct = BpcerAtApcer(live, attack, 0.01);
  r.bpcer_at_apcer_5pct = BpcerAtApcer(live, attack, 0.05);
  r.auc = AreaUnderCurve(ComputeRoc(live, attack));
  return r;
}

nlohmann::json PadReportToJson(const PadReport& r) {
  auto pt = [](const PadPoint& p) {
    return nlohmann::json{{"threshold", p.threshold}, {"apcer", p.apcer}, {"bpcer", p.bpcer},
                          {"acer", p.acer()}};
  };
  nlohmann::json per = nlohmann::json::object();
  for (const auto& [type, p] : r.per_attack) per[type] = {{"apcer", p.apcer}};
  return {{"bona_fide", r.bona_fide},
          {"attacks", r.attacks},
          {"failures_to_acquire", r.failures},
          {"at_threshold", pt(r.at_threshold)},
          {"per_attack_type", per},
          {"bpcer_at_apcer_1pct", pt(r.bpcer_at_apcer_1pct)},
          {"bpcer_at_apcer_5pct", pt(r.bpcer_at_apcer_5pct)},
          {"auc", r.auc}};
}

}  // namespace facepay::eval
