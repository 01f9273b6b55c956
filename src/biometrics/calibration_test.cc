#include "facepay/biometrics/calibration.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace facepay::biometrics {
namespace {

TEST(Calibration, ThresholdAllowingLetsExactlyThatManyThrough) {
  std::vector<float> s = {0.1f, 0.5f, 0.3f, 0.9f, 0.7f};
  float t = ThresholdAllowing(s, 2);
  int above = 0;
  for (float x : s) above += x >= t;
  EXPECT_EQ(above, 2);
  EXPECT_GT(t, 0.5f);
  EXPECT_EQ(ThresholdAllowing(s, 5), -1.0f);
}

TEST(Calibration, AcceptThresholdMeetsTargetFpirOnItsProbes) {
  std::mt19937 rng(7);
  std::normal_distribution<float> impostor(0.05f, 0.1f);
  CalibrationInput in;
  in.gallery_size = 500;
  in.target_fpir = 1e-2;
  for (int p = 0; p < 2000; ++p) {
    std::vector<float> top(20);
    for (auto& x : top) x = impostor(rng);
    in.nonmated_top_scores.push_back(top);
  }
  auto pol = Calibrate(in);
  ASSERT_TRUE(pol.ok()) << pol.status().ToString();
  EXPECT_LE(pol->measured_fpir, 1e-2);
  EXPECT_GT(pol->measured_fpir, 0.5e-2) << "lowest threshold meeting the target";
  EXPECT_LE(pol->thresholds.step_up, pol->thresholds.accept);
  EXPECT_GE(pol->thresholds.step_up, pol->thresholds.second_factor);
  int asked = 0;  // strangers in the step-up band or above: about 10 x target
  for (const auto& s : in.nonmated_top_scores) {
    float top = *std::max_element(s.begin(), s.end());
    asked += top >= pol->thresholds.step_up;
  }
  EXPECT_LE(asked, 200);
  EXPECT_GT(asked, 100);
  EXPECT_EQ(pol->impostor_probes, 2000);
}

TEST(Calibration, RefusesTooFewProbesForTheTarget) {
  CalibrationInput in;
  in.gallery_size = 10;
  in.target_fpir = 1e-3;
  in.nonmated_top_scores.assign(999, {0.1f});
  auto pol = Calibrate(in);
  ASSERT_FALSE(pol.ok());
  EXPECT_EQ(pol.status().reason(), "too_few_impostor_probes");
  in.target_fpir = 0;
  EXPECT_EQ(Calibrate(in).status().reason(), "invalid_fpir");
}

}  // namespace
}  // namespace facepay::biometrics
