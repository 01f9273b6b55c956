// Aggregating per-frame cues over a window into the named liveness signals.
#include <algorithm>
#include <cmath>

#include <opencv2/calib3d.hpp>

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
  double wsum = 0, rsum = 0;
  std::vector<float> jitter;
  for (size_t j = 1; j < f.size(); ++j) {
    const std::vector<cv::Point2f> cur = Points(f[j]->landmarks);
    const double res_s = RmsResidual(ref, cur, EstimateSimilarity(ref, cur), false) / iod;
    const cv::Mat h = cv::findHomography(ref, cur, 0);
    const double res_h = h.empty() ? res_s : RmsResidual(ref, cur, h, true) / iod;
    const double weight = std::max(0.0, res_s - kNoiseFloor);
    rsum += weight * std::min(1.0, res_h / std::max(res_s, 1e-9));
    wsum += weight;
    const std::vector<cv::Point2f> prev = Points(f[j - 1]->landmarks);
    jitter.push_back(static_cast<float>(
        RmsResidual(prev, cur, EstimateSimilarity(prev, cur), false) / InterOcular(f[j - 1]->landmarks)));
  }
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
