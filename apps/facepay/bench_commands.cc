// facepay bench vision
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>

#include "cli_common.h"
#include "commands.h"
#include "facepay/common/env.h"
#include "facepay/common/progress.h"
#include "facepay/eval/datasets.h"
#include "facepay/vision/sequence_liveness.h"

#include <opencv2/videoio.hpp>

namespace facepay::cli {
namespace {

using nlohmann::json;

struct BenchArgs {
  std::string images, models;
  int threads = 1;
  int count = 300;
  int warmup = 10;
  bool json_out = false;
};

// A fixed CPU yardstick timed in the same run (256x256 float GEMM, single-threaded): stage
// times divided by it compare across runs on shared, noisy machines.
std::vector<double> ReferenceGemmMs(int reps) {
  cv::Mat a(256, 256, CV_32F), b(256, 256, CV_32F), c;
  cv::randu(a, -1, 1);
  cv::randu(b, -1, 1);
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    cv::gemm(a, b, 1.0, cv::noArray(), 0.0, c);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return ms;
}

json Summary(std::vector<double> v) {
  if (v.empty()) return nullptr;
  std::sort(v.begin(), v.end());
  auto q = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))]; };
  double sum = 0;
  for (double x : v) sum += x;
  return {{"median_ms", q(0.5)}, {"p90_ms", q(0.9)}, {"p99_ms", q(0.99)},
          {"mean_ms", sum / static_cast<double>(v.size())}, {"n", v.size()}};
}

int BenchVision(BenchArgs& a) {
  if (a.images.empty()) a.images = DataDir() + "/lfw-view1/images";
  auto files = eval::ListImages(a.images);
  if (!files.ok()) {
    return Fail(Status(files.status().code(), files.status().reason(),
                       std::string(files.status().message()) +
                           " (set --images or FACEPAY_DATA_DIR; real images are needed)"));
  }
  // A deterministic spread over the folder, not just its first identities.
  std::vector<std::string> pick;
  const size_t n = std::min(files->size(), static_cast<size_t>(a.count + a.warmup));
  for (size_t i = 0; i < n; ++i) pick.push_back((*files)[i * files->size() / n]);
  cv::setNumThreads(1);  // measure single-threaded stages; --threads adds workers
  auto pipeline = LoadPipeline(a.models, a.threads, false);
  if (!pipeline) return 1;
  std::vector<cv::Mat> imgs(pick.size());
  std::vector<double> decode_ms;
  for (size_t i = 0; i < pick.size(); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto img = vision::ReadImageFile(pick[i], pipeline->options().decode);
    decode_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (img.ok()) imgs[i] = *img;
  }
  const std::vector<double> ref_before = ReferenceGemmMs(50);
  const char* kStages[] = {"detect", "landmarks", "align", "quality", "liveness", "embed", "pipeline"};
  std::vector<std::vector<double>> t(7);
  std::mutex mu;  // guards t
  size_t faces = 0;
  const auto wall0 = std::chrono::steady_clock::now();
  Progress bar("bench", imgs.size(), stderr, true);
  ParallelFor(imgs.size(), a.threads, [&](size_t i) {
    if (imgs[i].empty()) return;
    auto r = pipeline->Analyze(imgs[i], {});
    bar.Tick();
    if (!r.ok() || r->faces.empty() || i < static_cast<size_t>(a.warmup)) return;
    const auto& s = r->timings;
    std::lock_guard<std::mutex> lock(mu);
    ++faces;
    const double v[] = {s.detect_ms, s.landmarks_ms, s.align_ms, s.quality_ms, s.liveness_ms,
                        s.embed_ms, s.total_ms};
    for (int k = 0; k < 7; ++k) t[k].push_back(v[k]);
  });
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  std::vector<double> ref = ReferenceGemmMs(50);
  ref.insert(ref.end(), ref_before.begin(), ref_before.end());
  json stages = json::object();
  for (int k = 0; k < 7; ++k) stages[kStages[k]] = Summary(t[k]);
  stages["decode"] = Summary(decode_ms);
  json out{{"images", a.images}, {"threads", a.threads}, {"faces_timed", faces},
           {"warmup", a.warmup}, {"stages", stages},
           {"throughput_faces_per_s", static_cast<double>(imgs.size()) / wall},
           {"hardware_threads", std::thread::hardware_concurrency()},
           {"reference_gemm256", Summary(ref)}};
  const double ref_median = out["reference_gemm256"]["median_ms"].get<double>();
  out["pipeline_over_reference"] =
      stages["pipeline"].is_null() ? json(nullptr) : json(stages["pipeline"]["median_ms"].get<double>() / ref_median);
  if (a.json_out) {
    PrintJson(out);
  } else {
    std::printf("vision pipeline, %zu faces, %d worker thread(s), OpenCV single-threaded per worker\n",
                faces, a.threads);
    std::printf("  %-10s %9s %9s %9s\n", "stage", "median", "p90", "p99");
    for (const char* k : {"decode", "detect", "landmarks", "align", "quality", "liveness", "embed", "pipeline"}) {
      const json& s = stages[k];
      if (s.is_null()) continue;
      std::printf("  %-10s %7.2fms %7.2fms %7.2fms\n", k, s["median_ms"].get<double>(),
                  s["p90_ms"].get<double>(), s["p99_ms"].get<double>());
    }
    std::printf("  throughput %.1f faces/s\n", out["throughput_faces_per_s"].get<double>());
    std::printf("  reference 256x256 GEMM median %.3fms; pipeline / reference = %.1f\n", ref_median,
                out["pipeline_over_reference"].is_null() ? 0.0 : out["pipeline_over_reference"].get<double>());
  }
  return faces > 0 ? 0 : 1;
}

struct LivenessBenchArgs {
  std::string video, models;
  int windows = 20;
  int frames = 8;
  bool embed = true;
  bool json_out = false;
};

// Cost of one sequence-liveness window (frames analysed + cues + signals + fusion) against
// one single-frame analysis, single-threaded, on frames of a real video held in memory.
int BenchLiveness(LivenessBenchArgs& a) {
  if (a.video.empty()) a.video = DataDir() + "/videos/apfol_real2.webm";
  cv::VideoCapture cap(a.video);
  if (!cap.isOpened()) return Fail(NotFound("video_unreadable", "cannot open " + a.video));
  std::vector<cv::Mat> frames;
  cv::Mat f;
  while (static_cast<int>(frames.size()) < a.frames * 4 && cap.read(f)) frames.push_back(f.clone());
  if (frames.size() < static_cast<size_t>(a.frames)) return Fail(InvalidArgument("video_too_short", a.video));
  cv::setNumThreads(1);
  auto pipeline = LoadPipeline(a.models, 1, false);
  if (!pipeline) return 1;
  auto model = vision::SequenceModelFromJson(
      pipeline->pack().manifest().value("sequence_liveness", json::object()));
  if (!model.ok()) return Fail(model.status());
  vision::AnalyzeOptions opt;
  opt.embed = a.embed;
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  };
  std::vector<double> single, window, signals;
  for (int w = 0; w < a.windows; ++w) {
    std::vector<vision::FrameCue> cues;
    const auto t0 = Clock::now();
    for (int i = 0; i < a.frames; ++i) {
      const cv::Mat& img = frames[(static_cast<size_t>(w) * 3 + static_cast<size_t>(i)) % frames.size()];
      const auto t1 = Clock::now();
      auto r = pipeline->Analyze(img, opt);
      if (r.ok() && !r->faces.empty()) {
        cues.push_back(vision::MakeFrameCue(img, r->faces[0], 0));
      } else {
        cues.emplace_back();
      }
      single.push_back(ms(t1));
    }
    const auto t2 = Clock::now();
    const auto v = vision::FuseWindow(*model, vision::ComputeWindowSignals(cues, 0));
    (void)v;
    signals.push_back(ms(t2));
    window.push_back(ms(t0));
  }
  const json out{{"video", a.video}, {"frames_per_window", a.frames}, {"embed", a.embed},
                 {"single_frame", Summary(single)}, {"window", Summary(window)},
                 {"signals_and_fusion", Summary(signals)},
                 {"window_over_frame", Summary(window)["median_ms"].get<double>() /
                                           Summary(single)["median_ms"].get<double>()}};
  if (a.json_out) {
    PrintJson(out);
  } else {
    std::printf("sequence liveness, %d frames per window, 1 thread, embeddings %s\n", a.frames,
                a.embed ? "on" : "off");
    for (const char* k : {"single_frame", "window", "signals_and_fusion"}) {
      std::printf("  %-20s median %8.2fms  p90 %8.2fms  p99 %8.2fms\n", k,
                  out[k]["median_ms"].get<double>(), out[k]["p90_ms"].get<double>(),
                  out[k]["p99_ms"].get<double>());
    }
    std::printf("  window / single frame = %.1f\n", out["window_over_frame"].get<double>());
  }
  return 0;
}

}  // namespace

void AddBenchCommands(CLI::App& app, int& exit_code) {
  auto* bench = app.add_subcommand("bench", "Measure speed");
  bench->require_subcommand(1);
  static BenchArgs ba;
  auto* v = bench->add_subcommand("vision", "Per-stage latency of the face pipeline on real images");
  v->add_option("--images", ba.images, "Image folder (default: $FACEPAY_DATA_DIR/lfw-view1/images)");
  v->add_option("--threads", ba.threads, "Worker threads")->check(CLI::Range(1, 64));
  v->add_option("--count", ba.count, "Images to time")->check(CLI::Range(1, 100000));
  v->add_option("--warmup", ba.warmup, "Untimed warm-up images")->check(CLI::Range(0, 1000));
  v->add_flag("--json", ba.json_out, "JSON on stdout");
  v->add_option("--models", ba.models, "Model pack folder");
  v->callback([&] { exit_code = BenchVision(ba); });
  static LivenessBenchArgs la;
  auto* l = bench->add_subcommand("liveness", "Latency of one sequence-liveness window vs one frame");
  l->add_option("--video", la.video, "Video (default: $FACEPAY_DATA_DIR/videos/apfol_real2.webm)");
  l->add_option("--windows", la.windows, "Windows to time")->check(CLI::Range(1, 10000));
  l->add_option("--frames", la.frames, "Frames per window")->check(CLI::Range(2, 60));
  l->add_flag("!--no-embed", la.embed, "Skip embeddings (identity signal off)");
  l->add_flag("--json", la.json_out, "JSON on stdout");
  l->add_option("--models", la.models, "Model pack folder");
  l->callback([&] { exit_code = BenchLiveness(la); });
}

}  // namespace facepay::cli
