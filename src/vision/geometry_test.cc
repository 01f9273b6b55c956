#include <gtest/gtest.h>

#include <cmath>

#include "facepay/vision/stages.h"

namespace facepay::vision {
namespace {

TEST(EstimateSimilarity, RecoversAKnownRotationScaleAndShift) {
  const double ang = 0.3, s = 1.7, tx = 12, ty = -5;
  std::vector<cv::Point2f> from = {{10, 10}, {50, 12}, {30, 35}, {15, 60}, {45, 58}};
  std::vector<cv::Point2f> to;
  for (auto p : from) {
    to.emplace_back(static_cast<float>(s * (std::cos(ang) * p.x - std::sin(ang) * p.y) + tx),
                    static_cast<float>(s * (std::sin(ang) * p.x + std::cos(ang) * p.y) + ty));
  }
  const cv::Mat m = EstimateSimilarity(from, to);
  EXPECT_NEAR(m.at<double>(0, 0), s * std::cos(ang), 1e-4);
  EXPECT_NEAR(m.at<double>(1, 0), s * std::sin(ang), 1e-4);
  EXPECT_NEAR(m.at<double>(0, 2), tx, 1e-3);
  EXPECT_NEAR(m.at<double>(1, 2), ty, 1e-3);
}

TEST(EstimateSimilarity, NeverReflects) {
  // A mirrored point set cannot be matched by a similarity; the result keeps det > 0.
  std::vector<cv::Point2f> from = {{0, 0}, {10, 0}, {5, 8}};
  std::vector<cv::Point2f> to = {{10, 0}, {0, 0}, {5, 8}};
  const cv::Mat m = EstimateSimilarity(from, to);
  const double det = m.at<double>(0, 0) * m.at<double>(1, 1) - m.at<double>(0, 1) * m.at<double>(1, 0);
  EXPECT_GE(det, 0);
}

TEST(NonMaxSuppression, KeepsBestOfOverlappingBoxesAndSeparateFaces) {
  std::vector<Detection> d = {{{0, 0, 10, 10}, 0.8f},
                              {{1, 1, 10, 10}, 0.9f},
                              {{50, 50, 10, 10}, 0.7f}};
  auto keep = NonMaxSuppression(d, 0.4f, 10);
  ASSERT_EQ(keep.size(), 2u);
  EXPECT_FLOAT_EQ(keep[0].score, 0.9f);
  EXPECT_FLOAT_EQ(keep[1].score, 0.7f);
  EXPECT_EQ(NonMaxSuppression(d, 0.4f, 1).size(), 1u);
}

TEST(LivenessCropRect, EnlargesAndStaysInsideTheFrame) {
  const cv::Size img(640, 480);
  const cv::Rect r = LivenessCropRect(img, cv::Rect2f(300, 200, 80, 100), 2.7f);
  EXPECT_EQ(r.width, 216);
  EXPECT_EQ(r.height, 270);
  const cv::Rect edge = LivenessCropRect(img, cv::Rect2f(600, 430, 60, 60), 2.7f);
  EXPECT_EQ(edge & cv::Rect(0, 0, 640, 480), edge);
  EXPECT_GE(edge.width, 150);
  // A box larger than the frame is limited to what fits.
  const cv::Rect big = LivenessCropRect(img, cv::Rect2f(0, 0, 600, 470), 2.7f);
  EXPECT_LE(big.height, 480);
}

}  // namespace
}  // namespace facepay::vision
