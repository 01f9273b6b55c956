#include "facepay/eval/sequence_data.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <tuple>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "facepay/common/progress.h"

namespace facepay::eval {
namespace fs = std::filesystem;
namespace {

struct FrameJob {
  size_t track;
  size_t slot;
  std::string path;  // image path, or empty when `frame` is set
  cv::Mat frame;
  double t_ms;
};

void RunJobs(const vision::FacePipeline& pipeline, std::vector<FrameJob>& jobs,
             std::vector<CueTrack>& tracks, int threads, bool progress, const char* label,
             std::vector<std::string>* failures) {
  std::mutex mu;  // guards failures
  Progress bar(label, jobs.size(), stderr, progress);
  ParallelFor(jobs.size(), threads, [&](size_t i) {
    FrameJob& j = jobs[i];
    auto a = j.path.empty() ? pipeline.Analyze(j.frame, {}) : pipeline.AnalyzeFile(j.path, {});
    vision::FrameCue& cue = tracks[j.track].cues[j.slot];
    cue.t_ms = j.t_ms;
    if (a.ok() && !a->faces.empty()) {
      if (j.path.empty()) {
        cue = vision::MakeFrameCue(j.frame, a->faces[0], j.t_ms);
      } else {
        auto img = vision::ReadImageFile(j.path, pipeline.options().decode);
        if (img.ok()) cue = vision::MakeFrameCue(*img, a->faces[0], j.t_ms);
      }
    } else if (failures != nullptr) {
      std::lock_guard<std::mutex> lock(mu);
      failures->push_back((j.path.empty() ? tracks[j.track].group : j.path) + ": " +
                          (a.ok() ? std::string("no_face") : std::string(a.status().reason())));
    }
    j.frame.release();
    bar.Tick();
  });
}

bool AllDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "name_12" -> 12, "0012" -> 12, anything else 0.
long TrailingNumber(const std::string& stem) {
  const auto us = stem.find_last_of('_');
  const std::string tail = us == std::string::npos ? stem : stem.substr(us + 1);
  if (!AllDigits(tail) || tail.size() > 15) return 0;
  return std::stol(tail);
}

// What makes images one sequence: the sample's set-up and label, and a key per file.
struct GroupKey {
  std::string key, label, camera, origin;
  double fps = 0;
  bool operator<(const GroupKey& o) const {
    return std::tie(key, label, camera, origin, fps) < std::tie(o.key, o.label, o.camera, o.origin, o.fps);
  }
};

}  // namespace

std::vector<CueTrack> TracksFromSamples(const vision::FacePipeline& pipeline,
                                        const std::vector<PadSample>& samples,
                                        const WindowOptions& o, int threads, bool progress,
                                        std::vector<std::string>* failures) {
  std::vector<CueTrack> tracks;
  std::vector<FrameJob> jobs;
  std::map<GroupKey, std::vector<std::string>> groups;
  for (const PadSample& s : samples) {
    if (IsVideoPath(s.path)) {
      cv::VideoCapture cap(s.path);
      if (!cap.isOpened()) {
        if (failures) failures->push_back(s.path + ": video_unreadable");
        continue;
      }
      const double fps = cap.get(cv::CAP_PROP_FPS) > 1 ? cap.get(cv::CAP_PROP_FPS) : 30;
      const double every_ms = o.window_ms / o.frames;
      CueTrack t{s.path, s.label, s.camera, s.source.empty() ? s.path : s.source, {}};
      if (s.to_ms > 0) {  // appended piecewise: GCC 12 -O3 warns (-Wrestrict) on "#" + string
        t.group.append("#").append(std::to_string(static_cast<long>(s.from_ms)));
        t.group.append("-").append(std::to_string(static_cast<long>(s.to_ms)));
      }
      cv::Mat f;
      double next_ms = s.from_ms;
      const double end_ms = s.to_ms > 0 ? s.to_ms : 1e18;
      const double max_ms = s.from_ms + o.stride_ms * o.max_windows + o.window_ms;
      for (int i = 0; cap.read(f) && i / fps * 1000 < std::min(max_ms, end_ms); ++i) {
        const double t_ms = i / fps * 1000;
        if (t_ms + 1e-6 < next_ms) continue;
        next_ms += every_ms;
        jobs.push_back({tracks.size(), t.cues.size(), "", f.clone(), t_ms});
        t.cues.emplace_back();
      }
      tracks.push_back(std::move(t));
      continue;
    }
    auto files = ListImages(s.path);
    if (!files.ok()) {
      if (failures) failures->push_back(s.path + ": " + std::string(files.status().reason()));
      continue;
    }
    for (const auto& file : *files) {
      const fs::path p(file);
      const std::string stem = p.stem().string();
      const auto us = stem.find_last_of('_');
      std::string key = p.parent_path().string() + "/";
      if (s.stills) {
        key = file;
      } else if (!AllDigits(stem)) {
        key += us == std::string::npos ? stem : stem.substr(0, us);
      }
      groups[{key, s.label, s.camera, s.source.empty() ? key : s.source, s.fps}].push_back(file);
    }
  }
  for (auto& [key, files] : groups) {
    std::sort(files.begin(), files.end(), [](const std::string& a, const std::string& b) {
      const long na = TrailingNumber(fs::path(a).stem().string());
      const long nb = TrailingNumber(fs::path(b).stem().string());
      return na != nb ? na < nb : a < b;
    });
    CueTrack t{key.key, key.label, key.camera, key.origin, {}};
    // A video's frames are sampled like the video (every window_ms / frames), up to as many
    // windows as a video gives.
    const double every_ms = o.window_ms / o.frames;
    const double max_ms = o.stride_ms * o.max_windows + o.window_ms;
    double next_ms = 0;
    for (size_t i = 0; i < files.size(); ++i) {
      const double t_ms = key.fps > 0 ? 1000.0 * static_cast<double>(i) / key.fps
                                      : 1000.0 * static_cast<double>(i) / o.image_fps;
      if (key.fps > 0) {
        if (t_ms >= max_ms) break;
        if (t_ms + 1e-6 < next_ms) continue;
        next_ms += every_ms;
      }
      jobs.push_back({tracks.size(), t.cues.size(), files[i], {}, t_ms});
      t.cues.emplace_back();
    }
    tracks.push_back(std::move(t));
  }
  RunJobs(pipeline, jobs, tracks, threads, progress, "frames", failures);
  return tracks;
}

std::vector<CueTrack> SyntheticPhotoTracks(const vision::FacePipeline& pipeline,
                                           const std::vector<std::string>& images,
                                           const WindowOptions& o, unsigned seed, int threads,
                                           bool progress) {
  std::vector<CueTrack> tracks;
  std::vector<FrameJob> jobs;
  std::mt19937 rng(seed);
  std::normal_distribution<double> unit(0, 1);
  for (const auto& path : images) {
    auto img = vision::ReadImageFile(path, pipeline.options().decode);
    if (!img.ok()) continue;
    const cv::Size size = img->size();
    for (const char* kind : {"still_photo", "handheld_photo"}) {
      const bool hand = std::string(kind) == "handheld_photo";
      CueTrack t{path + "#" + kind, kind, "default", path, {}};
      // A smooth trajectory: random start and end pose, linear in between.
      double a0[4], a1[4];
      for (int k = 0; k < 4; ++k) {
        a0[k] = unit(rng);
        a1[k] = unit(rng);
      }
      for (int i = 0; i < o.frames; ++i) {
        const double s = o.frames > 1 ? static_cast<double>(i) / (o.frames - 1) : 0;
        cv::Mat frame = img->clone();
        if (hand) {
          // Perspective of a flat photo tilted and shifted by hand: move the four corners.
          const double mag = 0.04 * std::min(size.width, size.height);
          std::vector<cv::Point2f> src = {{0, 0}, {static_cast<float>(size.width), 0},
                                          {static_cast<float>(size.width), static_cast<float>(size.height)},
                                          {0, static_cast<float>(size.height)}};
          std::vector<cv::Point2f> dst = src;
          for (int c = 0; c < 4; ++c) {
            const double dx = mag * ((1 - s) * a0[c] + s * a1[c]);
            const double dy = mag * ((1 - s) * a0[(c + 1) % 4] + s * a1[(c + 1) % 4]);
            dst[c] += cv::Point2f(static_cast<float>(dx), static_cast<float>(dy));
          }
          cv::warpPerspective(*img, frame, cv::getPerspectiveTransform(src, dst), size,
                              cv::INTER_LINEAR, cv::BORDER_REPLICATE);
        }
        cv::Mat noise(size, CV_16SC3);
        cv::randn(noise, 0, 3);
        cv::Mat noisy;
        frame.convertTo(noisy, CV_16SC3);
        noisy += noise;
        noisy.convertTo(frame, CV_8UC3);
        jobs.push_back({tracks.size(), t.cues.size(), "", frame, 1000.0 * i / o.image_fps});
        t.cues.emplace_back();
      }
      tracks.push_back(std::move(t));
    }
  }
  RunJobs(pipeline, jobs, tracks, threads, progress, "synthetic", nullptr);
  return tracks;
}

std::vector<WindowSample> WindowsFromTracks(const std::vector<CueTrack>& tracks,
                                            const WindowOptions& o,
                                            const std::map<std::string, float>& camera_offsets,
                                            float uncalibrated_offset) {
  std::vector<WindowSample> out;
  for (const CueTrack& t : tracks) {
    const auto off = camera_offsets.find(t.camera);
    const float cnn_logit_offset = off == camera_offsets.end() ? uncalibrated_offset : off->second;
    const auto& c = t.cues;
    if (c.empty()) continue;
    // Windows of `frames` consecutive cues; videos start a new window every stride_ms.
    const size_t n = static_cast<size_t>(o.frames);
    const size_t step =
        std::max<size_t>(1, static_cast<size_t>(o.stride_ms / (o.window_ms / o.frames) + 0.5));
    int made = 0;
    for (size_t start = 0; made < o.max_windows && (start == 0 || start + n <= c.size());
         start += step, ++made) {
      const size_t end = std::min(c.size(), start + n);
      const std::vector<vision::FrameCue> win(c.begin() + static_cast<long>(start),
                                              c.begin() + static_cast<long>(end));
      WindowSample w;
      w.group = t.group;
      w.label = t.label;
      w.origin = t.origin;
      w.camera = t.camera;
      w.source = t.group + "#" + std::to_string(static_cast<long>(c[start].t_ms));
      w.signals = vision::ComputeWindowSignals(win, cnn_logit_offset);
      out.push_back(std::move(w));
    }
  }
  return out;
}

}  // namespace facepay::eval
