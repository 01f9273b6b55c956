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

TEST(Calibration, PairsGiveAnAcceptThresholdAtGallerySizeTimesFmr) {
  std::mt19937 rng(11);
  std::normal_distribution<float> impostor(0.05f, 0.1f);
  std::vector<float> pairs(100'000);
  for (auto& x : pairs) x = impostor(rng);
  // Gallery 100, FPIR 1e-2 -> FMR 1e-4: 10 of the 100,000 impostor pairs may pass.
  auto pol = CalibrateFromPairs(pairs, 100, 1e-2, 0.05f);
  ASSERT_TRUE(pol.ok()) << pol.status().ToString();
  int above = 0;
  for (float x : pairs) above += x >= pol->thresholds.accept;
  EXPECT_EQ(above, 10);
  EXPECT_NEAR(pol->measured_fpir, 1e-2, 1e-9);
  EXPECT_EQ(pol->impostor_probes, 100'000);
  EXPECT_LE(pol->thresholds.step_up, pol->thresholds.accept);
  EXPECT_GE(pol->thresholds.step_up, pol->thresholds.second_factor);
  // A larger gallery needs a higher threshold for the same FPIR.
  auto bigger = CalibrateFromPairs(pairs, 1000, 1e-2, 0.05f);
  ASSERT_TRUE(bigger.ok());
  EXPECT_GT(bigger->thresholds.accept, pol->thresholds.accept);
}

TEST(Calibration, PairsRefuseATargetBelowOneFalseMatchInAll) {
  std::vector<float> pairs(1100, 0.1f);
  // Gallery 2 at FPIR 1e-3 needs FMR 5e-4: 2,000 pairs.
  auto pol = CalibrateFromPairs(pairs, 2, 1e-3, 0.05f);
  ASSERT_FALSE(pol.ok());
  EXPECT_EQ(pol.status().reason(), "too_few_impostor_pairs");
  EXPECT_TRUE(CalibrateFromPairs(pairs, 1, 1e-3, 0.05f).ok());
  EXPECT_EQ(CalibrateFromPairs(pairs, 0, 1e-3, 0.05f).status().reason(), "empty_gallery");
}

}  // namespace
}  // namespace facepay::biometrics
