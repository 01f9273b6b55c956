// Per-frame liveness cues: eye/mouth aspect ratios, the attack-instrument edge cue and the
// face crop's colour texture and distortion (crop_texture.h).
#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "facepay/vision/sequence_liveness.h"
#include "facepay/vision/stages.h"

namespace facepay::vision {
namespace {

float Dist(const cv::Point2f& a, const cv::Point2f& b) { return std::hypot(a.x - b.x, a.y - b.y); }

float EyeAspect(const Landmarks68& l, int o) {  // o = 36 or 42
  const float w = Dist(l[o], l[o + 3]);
  if (w < 1e-3f) return 0;
  return (Dist(l[o + 1], l[o + 5]) + Dist(l[o + 2], l[o + 4])) / (2 * w);
}

// Straight edges framing the face: a phone, tablet or sheet of paper held up to the camera
// shows long lines beside the face (spanning its centre height) or above/below it (spanning
// its centre column). Returns the share of the four sides with such a line, 0..1.
float BezelCue(const cv::Mat& bgr, const cv::Rect2f& face) {
  const cv::Rect crop = LivenessCropRect(bgr.size(), face, 2.7f);
  if (crop.width < 16 || crop.height < 16) return 0;
  const double scale = 256.0 / std::max(crop.width, crop.height);
  cv::Mat gray, small, edges;
  cv::cvtColor(bgr(crop), gray, cv::COLOR_BGR2GRAY);
  cv::resize(gray, small, cv::Size(), scale, scale, cv::INTER_AREA);
  cv::Canny(small, edges, 50, 150);
  const cv::Rect2f f((face.x - crop.x) * scale, (face.y - crop.y) * scale, face.width * scale,
                     face.height * scale);
  std::vector<cv::Vec4i> lines;
  const double min_len = 0.6 * std::max(f.width, f.height);
  cv::HoughLinesP(edges, lines, 1, CV_PI / 180, 30, min_len, 4);
  const float cx = f.x + f.width / 2, cy = f.y + f.height / 2;
  const float margin = 0.05f * f.width;
  bool left = false, right = false, top = false, bottom = false;
  for (const cv::Vec4i& l : lines) {
    const float x1 = static_cast<float>(l[0]), y1 = static_cast<float>(l[1]);
    const float x2 = static_cast<float>(l[2]), y2 = static_cast<float>(l[3]);
    const float dx = std::abs(x2 - x1), dy = std::abs(y2 - y1);
    if (dy > 3.7f * dx) {  // within ~15 degrees of vertical
      if (std::min(y1, y2) > cy || std::max(y1, y2) < cy) continue;
      const float x = (x1 + x2) / 2;
      left = left || x < f.x - margin;
      right = right || x > f.x + f.width + margin;
    } else if (dx > 3.7f * dy) {  // near horizontal
      if (std::min(x1, x2) > cx || std::max(x1, x2) < cx) continue;
      const float y = (y1 + y2) / 2;
      top = top || y < f.y - margin;
      bottom = bottom || y > f.y + f.height + margin;
    }
  }
  return (static_cast<float>(left) + static_cast<float>(right) + static_cast<float>(top) +
          static_cast<float>(bottom)) / 4.f;
}

}  // namespace

FrameCue MakeFrameCue(const cv::Mat& bgr, const FaceResult& face, double t_ms) {
  FrameCue c;
  c.has_face = true;
  c.t_ms = t_ms;
  c.cnn_p_live = face.liveness.score;
  for (const auto& s : face.liveness.signals) {
    if (s.name == "passive_cnn") c.cnn_p_live = s.value;
  }
  c.landmarks = face.landmarks;
  const Landmarks68& l = face.landmarks;
  c.eye_aspect = (EyeAspect(l, 36) + EyeAspect(l, 42)) / 2;
  const float mw = Dist(l[60], l[64]);
  c.mouth_aspect =
      mw > 1e-3f ? (Dist(l[61], l[67]) + Dist(l[62], l[66]) + Dist(l[63], l[65])) / (3 * mw) : 0;
  c.bezel = BezelCue(bgr, face.detection.box);
  c.texture = ComputeCropTexture(bgr, face.detection.box);
  c.embedding = face.embedding;
  if (bgr.cols >= 16 && bgr.rows >= 16) {
    cv::Mat gray;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    c.scene_scale = static_cast<float>(kSceneWidth) / static_cast<float>(bgr.cols);
    const int h = std::max(1, static_cast<int>(std::lround(bgr.rows * c.scene_scale)));
    cv::resize(gray, c.scene, cv::Size(kSceneWidth, h), 0, 0, cv::INTER_AREA);
  }
  return c;
}

}  // namespace facepay::vision
