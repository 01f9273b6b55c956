#include "facepay/vision/quality.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace facepay::vision {
namespace {

constexpr float kRadToDeg = 57.29578f;

bool Inside(const cv::Point2f& p, const cv::Size& s) {
  return p.x >= 0 && p.y >= 0 && p.x <= s.width - 1 && p.y <= s.height - 1;
}

}  // namespace

Quality AssessQuality(const cv::Mat& bgr, const Detection& det, const Landmarks68& lm,
                      const cv::Mat& aligned112, const QualityConfig& c) {
  Quality q;
  q.face_px = std::min(det.box.width, det.box.height);

  cv::Mat gray;
  cv::cvtColor(aligned112, gray, cv::COLOR_BGR2GRAY);
  cv::Mat lap;
  cv::Laplacian(gray, lap, CV_32F);
  cv::Scalar mu, sd;
  cv::meanStdDev(lap, mu, sd);
  q.sharpness = static_cast<float>(sd[0] * sd[0]);
  // Brightness and clipping over the face centre (eyes to chin), not the background corners.
  const cv::Mat centre = gray(cv::Rect(24, 32, 64, 72));
  q.brightness = static_cast<float>(cv::mean(centre)[0]);
  const int clipped = cv::countNonZero(centre < 8) + cv::countNonZero(centre >= 248);
  q.clipped_fraction = static_cast<float>(clipped) / static_cast<float>(centre.total());

  // Yaw: the nose tip's horizontal position between the two cheek contour points.
  const cv::Point2f nose = lm[30];
  const float dl = nose.x - lm[2].x, dr = lm[14].x - nose.x;
  if (dl + dr > 1e-3f) {
    q.yaw_deg = std::asin(std::clamp((dl - dr) / (dl + dr), -1.f, 1.f)) * kRadToDeg;
  }
  // Pitch: the nose tip's vertical position between the eye line and the mouth line.
  const float eye_y = (lm[36].y + lm[39].y + lm[42].y + lm[45].y) / 4;
  const float mouth_y = (lm[48].y + lm[54].y) / 2;
  if (mouth_y - eye_y > 1e-3f) {
    const float t = (nose.y - eye_y) / (mouth_y - eye_y);
    q.pitch_deg = std::asin(std::clamp((t - c.frontal_nose_ratio) * 2.f, -1.f, 1.f)) * kRadToDeg;
  }

  const cv::Size size = bgr.size();
  const float tol = 0.05f * std::max(det.box.width, det.box.height);
  const cv::Rect2f b = det.box;
  q.inside_frame = b.x >= -tol && b.y >= -tol && b.x + b.width <= size.width + tol &&
                   b.y + b.height <= size.height + tol;
  for (const cv::Point2f& p : lm) q.inside_frame = q.inside_frame && Inside(p, size);

  if (q.face_px < c.min_face_px) q.reasons.emplace_back("face_too_small");
  if (q.sharpness < c.min_sharpness) q.reasons.emplace_back("blurry");
  if (q.brightness < c.min_brightness) q.reasons.emplace_back("too_dark");
  if (q.brightness > c.max_brightness) q.reasons.emplace_back("too_bright");
  if (q.clipped_fraction > c.max_clipped_fraction) q.reasons.emplace_back("badly_exposed");
  if (std::abs(q.yaw_deg) > c.max_abs_yaw_deg) q.reasons.emplace_back("pose_yaw");
  if (std::abs(q.pitch_deg) > c.max_abs_pitch_deg) q.reasons.emplace_back("pose_pitch");
  if (!q.inside_frame) q.reasons.emplace_back("face_cut_off");
  return q;
}

}  // namespace facepay::vision
