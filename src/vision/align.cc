#include <opencv2/imgproc.hpp>

#include "facepay/vision/stages.h"

namespace facepay::vision {
namespace {

// ArcFace / InsightFace reference points for a 112x112 crop.
const std::vector<cv::Point2f> kArcFace112 = {{38.2946f, 51.6963f},
                                              {73.5318f, 51.5014f},
                                              {56.0252f, 71.7366f},
                                              {41.5493f, 92.3655f},
                                              {70.7299f, 92.2041f}};

}  // namespace

cv::Mat EstimateSimilarity(const std::vector<cv::Point2f>& from,
                           const std::vector<cv::Point2f>& to) {
  CV_Assert(from.size() == to.size() && from.size() >= 2);
  const double n = static_cast<double>(from.size());
  cv::Point2d mf(0, 0), mt(0, 0);
  for (size_t i = 0; i < from.size(); ++i) {
    mf += cv::Point2d(from[i]);
    mt += cv::Point2d(to[i]);
  }
  mf /= n;
  mt /= n;
  // Covariance of the centred sets and variance of the source.
  cv::Matx22d cov = cv::Matx22d::zeros();
  double var_from = 0;
  for (size_t i = 0; i < from.size(); ++i) {
    const cv::Point2d a = cv::Point2d(from[i]) - mf;
    const cv::Point2d b = cv::Point2d(to[i]) - mt;
    cov(0, 0) += b.x * a.x;
    cov(0, 1) += b.x * a.y;
    cov(1, 0) += b.y * a.x;
    cov(1, 1) += b.y * a.y;
    var_from += a.dot(a);
  }
  cov *= 1.0 / n;
  var_from /= n;
  cv::Mat w, u, vt;
  cv::SVD::compute(cv::Mat(cov), w, u, vt);
  cv::Matx22d d = cv::Matx22d::eye();
  if (cv::determinant(cv::Mat(cov)) < 0) d(1, 1) = -1;  // no reflections
  const cv::Mat r = u * cv::Mat(d) * vt;
  const double trace_dw = w.at<double>(0) * d(0, 0) + w.at<double>(1) * d(1, 1);
  const double s = var_from > 0 ? trace_dw / var_from : 1.0;
  cv::Mat m(2, 3, CV_64F);
  cv::Mat sr = s * r;
  sr.copyTo(m(cv::Rect(0, 0, 2, 2)));
  m.at<double>(0, 2) = mt.x - (sr.at<double>(0, 0) * mf.x + sr.at<double>(0, 1) * mf.y);
  m.at<double>(1, 2) = mt.y - (sr.at<double>(1, 0) * mf.x + sr.at<double>(1, 1) * mf.y);
  return m;
}

cv::Mat AlignFace(const cv::Mat& bgr, const FivePoints& five) {
  const std::vector<cv::Point2f> src(five.begin(), five.end());
  const cv::Mat m = EstimateSimilarity(src, kArcFace112);
  cv::Mat out;
  cv::warpAffine(bgr, out, m, cv::Size(112, 112), cv::INTER_LINEAR, cv::BORDER_CONSTANT);
  return out;
}

}  // namespace facepay::vision
