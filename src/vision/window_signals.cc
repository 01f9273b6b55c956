// Aggregating per-frame cues over a window into the named liveness signals.
#include <algorithm>
#include <cmath>
#include <optional>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "facepay/vision/sequence_liveness.h"
#include "facepay/vision/stages.h"

namespace facepay::vision {
namespace {

std::vector<cv::Point2f> Points(const Landmarks68& l) { return {l.begin(), l.end()}; }

double RmsResidual(const std::vector<cv::Point2f>& from, const std::vector<cv::Point2f>& to,
                   const cv::Mat& m, bool projective) {
  double sum = 0;
  for (size_t i = 0; i < from.size(); ++i) {
    const double x = from[i].x, y = from[i].y;
    double u = m.at<double>(0, 0) * x + m.at<double>(0, 1) * y + m.at<double>(0, 2);
    double v = m.at<double>(1, 0) * x + m.at<double>(1, 1) * y + m.at<double>(1, 2);
    if (projective) {
      const double w = m.at<double>(2, 0) * x + m.at<double>(2, 1) * y + m.at<double>(2, 2);
      if (std::abs(w) < 1e-9) return 1e9;
      u /= w;
      v /= w;
    }
    sum += (u - to[i].x) * (u - to[i].x) + (v - to[i].y) * (v - to[i].y);
  }
  return std::sqrt(sum / static_cast<double>(from.size()));
}

float InterOcular(const Landmarks68& l) {
  const FivePoints p = FivePointsFrom68(l);
  return std::max(1.f, std::hypot(p[1].x - p[0].x, p[1].y - p[0].y));
}

float Median(std::vector<float> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Landmark noise below this share of the inter-ocular distance is not motion.
constexpr double kNoiseFloor = 0.012;
// Planarity when the window shows no out-of-plane motion to judge by.
constexpr float kPlanarityNeutral = 0.7f;

// Face motion (landmark RMS, thumbnail pixels) below this is noise; a pair's weight reaches 1 at
// kSceneFullMotion pixels more.
constexpr double kSceneMotionFloor = 0.3;
constexpr double kSceneFullMotion = 1.0;

// Thumbnail normalised for exposure (zero mean, unit spread) and lightly smoothed.
cv::Mat NormalisedScene(const cv::Mat& scene) {
  cv::Mat f, out;
  scene.convertTo(f, CV_32F);
  cv::GaussianBlur(f, f, cv::Size(3, 3), 0.8);
  cv::Scalar mean, sd;
  cv::meanStdDev(f, mean, sd);
  f.convertTo(out, CV_32F, 1.0 / std::max(1.0, sd[0]), -mean[0] / std::max(1.0, sd[0]));
  return out;
}

// The background of a thumbnail: everything but the face (landmark box widened for hair and
// ears, raised for the forehead) and the column below it (neck, body).
void ClearPerson(cv::Mat& mask, const Landmarks68& l, float scale) {
  float x0 = l[0].x, x1 = l[0].x, y0 = l[0].y, y1 = l[0].y;
  for (const cv::Point2f& p : l) {
    x0 = std::min(x0, p.x);
    x1 = std::max(x1, p.x);
    y0 = std::min(y0, p.y);
    y1 = std::max(y1, p.y);
  }
  const float w = x1 - x0, h = y1 - y0;
  if (!std::isfinite(w) || !std::isfinite(h)) {  // nothing can be told apart: no background
    mask.setTo(0);
    return;
  }
  const auto in = [](float v, int hi) {  // clamped before the cast (huge values are UB as int)
    return static_cast<int>(std::clamp(v, 0.f, static_cast<float>(hi)));
  };
  const int left = in((x0 - 0.35f * w) * scale, mask.cols);
  const int right = in(std::ceil((x1 + 0.35f * w) * scale), mask.cols);
  const int top = in((y0 - 0.7f * h) * scale, mask.rows);
  if (right > left && top < mask.rows) {
    mask(cv::Rect(left, top, right - left, mask.rows - top)).setTo(0);
  }
}

// scene_follow for one pair of frames: (E_still - E_follow) / (E_still + E_follow) over the
// background, where E_still is the energy of cur - prev and E_follow that of cur - prev moved
// by the face's motion (frame pixels). `a`, `b`: the two NormalisedScene thumbnails. nullopt
// when the pair cannot be compared.
std::optional<double> SceneFollowPair(const FrameCue& prev, const FrameCue& cur,
                                      const cv::Mat& a, const cv::Mat& b, const cv::Mat& motion) {
  if (a.empty() || a.size() != b.size() ||
      std::abs(prev.scene_scale - cur.scene_scale) > 1e-6f || motion.empty()) {
    return std::nullopt;
  }
  const double s = cur.scene_scale;
  cv::Mat m = motion.clone();  // frame pixels -> thumbnail pixels
  m.at<double>(0, 2) *= s;
  m.at<double>(1, 2) *= s;
  cv::Mat moved, valid;
  cv::warpAffine(a, moved, m, a.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, 0);
  cv::warpAffine(cv::Mat(a.size(), CV_8U, cv::Scalar(255)), valid, m, a.size(), cv::INTER_NEAREST,
                 cv::BORDER_CONSTANT, 0);
  ClearPerson(valid, prev.landmarks, cur.scene_scale);
  ClearPerson(valid, cur.landmarks, cur.scene_scale);
  // Two pixels in from the edge: smoothing and resampling blur the border.
  cv::erode(valid, valid, cv::Mat(), cv::Point(-1, -1), 2);
  if (static_cast<size_t>(cv::countNonZero(valid)) < a.total() / 20) return std::nullopt;
  cv::Mat still = b - a, follow = b - moved;
  const double e_still = cv::mean(still.mul(still), valid)[0];
  const double e_follow = cv::mean(follow.mul(follow), valid)[0];
  if (e_still + e_follow < 1e-9) return 0.0;
  return (e_still - e_follow) / (e_still + e_follow);
}

}  // namespace

WindowSignals ComputeWindowSignals(const std::vector<FrameCue>& cues, float cnn_logit_offset) {
  WindowSignals w;
  w.frames = static_cast<int>(cues.size());
  std::vector<const FrameCue*> f;
  for (const FrameCue& c : cues) {
    if (c.has_face) f.push_back(&c);
  }
  w.face_frames = static_cast<int>(f.size());
  auto& v = w.values;
  for (const auto& n : SignalNames()) v[n] = 0;
  if (f.empty()) return w;

  double cnn = 0;
  for (const FrameCue* c : f) cnn += Logit(c->cnn_p_live) + cnn_logit_offset;
  v["cnn"] = static_cast<float>(cnn / static_cast<double>(f.size()));

  // Planarity and jitter from landmark geometry.
  const std::vector<cv::Point2f> ref = Points(f[0]->landmarks);
  const double iod = InterOcular(f[0]->landmarks);
  double wsum = 0, rsum = 0, follow_w = 0, follow_sum = 0;
  std::vector<float> jitter;
  std::vector<cv::Mat> normalised(f.size());  // each frame's NormalisedScene, once, when needed
  const auto scene = [&](size_t i) -> const cv::Mat& {
    if (normalised[i].empty() && !f[i]->scene.empty()) normalised[i] = NormalisedScene(f[i]->scene);
    return normalised[i];
  };
  for (size_t j = 1; j < f.size(); ++j) {
    const std::vector<cv::Point2f> cur = Points(f[j]->landmarks);
    const double res_s = RmsResidual(ref, cur, EstimateSimilarity(ref, cur), false) / iod;
    const cv::Mat h = cv::findHomography(ref, cur, 0);
    const double res_h = h.empty() ? res_s : RmsResidual(ref, cur, h, true) / iod;
    const double weight = std::max(0.0, res_s - kNoiseFloor);
    rsum += weight * std::min(1.0, res_h / std::max(res_s, 1e-9));
    wsum += weight;
    const std::vector<cv::Point2f> prev = Points(f[j - 1]->landmarks);
    const cv::Mat step = EstimateSimilarity(prev, cur);
    jitter.push_back(static_cast<float>(
        RmsResidual(prev, cur, step, false) / InterOcular(f[j - 1]->landmarks)));
    // Landmark RMS motion in thumbnail pixels: the residual of "nothing moved".
    const double moved = RmsResidual(prev, cur, cv::Mat::eye(2, 3, CV_64F), false) *
                         f[j]->scene_scale;
    const double weight_f = std::clamp((moved - kSceneMotionFloor) / kSceneFullMotion, 0.0, 1.0);
    if (weight_f > 0) {
      const auto c = SceneFollowPair(*f[j - 1], *f[j], scene(j - 1), scene(j), step);
      if (c) {
        follow_sum += weight_f * *c;
        follow_w += weight_f;
      }
    }
  }
  // Shrunk towards 0 (no evidence) when the face hardly moved over the window.
  v["scene_follow"] = static_cast<float>(follow_sum / std::max(follow_w, 2.0));
  // Blend towards neutral when there was little out-of-plane motion to judge by.
  const double confidence = std::min(1.0, wsum / (0.02 * std::max<size_t>(1, f.size() - 1)));
  const double planar = wsum > 0 ? rsum / wsum : kPlanarityNeutral;
  v["planarity"] = static_cast<float>(confidence * planar + (1 - confidence) * kPlanarityNeutral);
  v["jitter"] = Median(jitter);

  std::vector<float> ear, mar, bezel;
  for (const FrameCue* c : f) {
    ear.push_back(c->eye_aspect);
    mar.push_back(c->mouth_aspect);
    bezel.push_back(c->bezel);
  }
  const float ear_med = Median(ear);
  const float ear_min = *std::min_element(ear.begin(), ear.end());
  v["blink"] = ear_med > 1e-3f ? std::clamp(1.f - ear_min / ear_med, 0.f, 1.f) : 0.f;
  double mm = 0, mv = 0;
  for (float m : mar) mm += m;
  mm /= static_cast<double>(mar.size());
  for (float m : mar) mv += (m - mm) * (m - mm);
  v["mouth"] = static_cast<float>(std::sqrt(mv / static_cast<double>(mar.size())));
  v["bezel"] = Median(bezel);

  float identity = 1.f;
  const Embedding* first = nullptr;
  for (const FrameCue* c : f) {
    if (c->embedding.empty()) continue;
    if (first == nullptr) {
      first = &c->embedding;
    } else {
      identity = std::min(identity, CosineSimilarity(*first, c->embedding));
    }
  }
  v["identity"] = identity;

  // Colour texture and distortion of the face crop: medians over frames with a valid crop.
  std::vector<const CropTexture*> tex;
  for (const FrameCue* c : f) {
    if (c->texture.valid && c->texture.lbp.size() == kTextureBins)
      tex.push_back(&c->texture);
  }
  if (!tex.empty()) {
    w.texture.assign(kTextureBins, 0.f);
    for (const CropTexture* t : tex) {
      for (size_t i = 0; i < w.texture.size(); ++i) w.texture[i] += t->lbp[i];
    }
    for (float& x : w.texture) x /= static_cast<float>(tex.size());
    const auto median_of = [&](float CropTexture::*field) {
      std::vector<float> xs;
      for (const CropTexture* t : tex) xs.push_back(t->*field);
      return Median(xs);
    };
    v["specular"] = median_of(&CropTexture::specular);
    v["sharpness"] = median_of(&CropTexture::sharpness);
    v["sat_mean"] = median_of(&CropTexture::sat_mean);
    v["sat_std"] = median_of(&CropTexture::sat_std);
    v["val_skew"] = median_of(&CropTexture::val_skew);
    v["colour_diversity"] = median_of(&CropTexture::colour_diversity);
    v["moire_hf"] = median_of(&CropTexture::moire_hf);
    v["moire_peak"] = median_of(&CropTexture::moire_peak);
  }
  return w;
}

}  // namespace facepay::vision
