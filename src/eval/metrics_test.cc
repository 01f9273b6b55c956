#include "facepay/eval/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace facepay::eval {
namespace {

TEST(Metrics, PerfectSeparationHasUnitAucZeroEerAndFullAccuracy) {
  std::vector<float> g = {0.8f, 0.9f, 0.7f}, i = {0.1f, 0.2f, 0.3f};
  EXPECT_NEAR(AreaUnderCurve(ComputeRoc(g, i)), 1.0, 1e-9);
  EXPECT_NEAR(EqualErrorRate(g, i).far, 0.0, 1e-9);
  std::vector<ScoredPair> pairs;
  for (float s : g) pairs.push_back({s, true});
  for (float s : i) pairs.push_back({s, false});
  const float t = BestAccuracyThreshold(pairs);
  EXPECT_GT(t, 0.3f);
  EXPECT_LT(t, 0.7f);
  EXPECT_DOUBLE_EQ(AccuracyAt(pairs, t), 1.0);
}

TEST(Metrics, RandomScoresHaveAucNearHalf) {
  std::vector<float> g, i;
  for (int k = 0; k < 1000; ++k) {
    g.push_back(static_cast<float>((k * 7919) % 1000) / 1000.f);
    i.push_back(static_cast<float>((k * 104729) % 1000) / 1000.f);
  }
  EXPECT_NEAR(AreaUnderCurve(ComputeRoc(g, i)), 0.5, 0.02);
}

TEST(Metrics, TarAtFarAllowsAtMostTheTargetShareOfImpostors) {
  std::vector<float> imp;
  for (int k = 0; k < 100; ++k) imp.push_back(static_cast<float>(k) / 100.f);  // 0 .. 0.99
  std::vector<float> gen = {0.985f, 0.975f, 0.5f};
  auto op = TarAtFar(gen, imp, 0.02);  // 2 impostors may pass: 0.98 and 0.99
  ASSERT_TRUE(op.has_value());
  EXPECT_LE(op->far, 0.02);
  EXPECT_NEAR(op->tar, 2.0 / 3.0, 1e-9);  // 0.985 and 0.975 clear the threshold above 0.97
  EXPECT_FALSE(TarAtFar(gen, imp, 0.001).has_value());  // 100 impostors cannot show 1e-3
}

TEST(Metrics, KFoldChoosesThresholdOnOtherFolds) {
  std::vector<ScoredPair> p;
  for (int k = 0; k < 50; ++k) p.push_back({0.6f + 0.001f * k, true});
  for (int k = 0; k < 50; ++k) p.push_back({0.2f + 0.001f * k, false});
  AssignFolds(p, 10);
  EXPECT_EQ(p[0].fold, 0);
  EXPECT_EQ(p[49].fold, 9);
  EXPECT_EQ(p[50].fold, 0);
  const auto r = KFoldAccuracy(p, 10);
  EXPECT_EQ(r.fold_accuracy.size(), 10u);
  EXPECT_DOUBLE_EQ(r.mean_accuracy, 1.0);
}

TEST(Metrics, PadRatesFollowIsoDefinitions) {
  std::vector<float> live = {0.9f, 0.8f, 0.4f, 0.95f};
  std::vector<float> attack = {0.1f, 0.6f, 0.2f, 0.05f};
  const PadPoint p = PadAt(live, attack, 0.5f);
  EXPECT_DOUBLE_EQ(p.apcer, 0.25);  // 0.6 accepted
  EXPECT_DOUBLE_EQ(p.bpcer, 0.25);  // 0.4 refused
  EXPECT_DOUBLE_EQ(p.acer(), 0.25);
  const PadPoint q = BpcerAtApcer(live, attack, 0.0);
  EXPECT_DOUBLE_EQ(q.apcer, 0.0);
  EXPECT_DOUBLE_EQ(q.bpcer, 0.25);
}

}  // namespace
TEST(Metrics, ClopperPearsonMatchesKnownIntervals) {
  // 1 event in 1,537 trials (the LFW View 1 FPIR 1e-3 point): 95% CI ~[1.6e-5, 3.6e-3].
  auto one = ClopperPearson(1, 1537);
  EXPECT_NEAR(one.low, 1.647e-5, 1e-7);
  EXPECT_NEAR(one.high, 3.62e-3, 2e-5);
  // Zero events: upper bound = 1 - (alpha/2)^(1/n) (the "rule of three" ~ 3.7/n).
  auto zero = ClopperPearson(0, 1000);
  EXPECT_EQ(zero.low, 0);
  EXPECT_NEAR(zero.high, 1 - std::pow(0.025, 1.0 / 1000), 1e-6);
  auto half = ClopperPearson(50, 100);
  EXPECT_LT(half.low, 0.5);
  EXPECT_GT(half.high, 0.5);
  EXPECT_NEAR(half.low + half.high, 1.0, 1e-9);
  EXPECT_EQ(ClopperPearson(0, 0).high, 0);
}

}  // namespace facepay::eval
