#include <gtest/gtest.h>

#include "facepay/vision/liveness.h"

namespace facepay::vision {
namespace {

TEST(LivenessFusion, PassiveOnlyReproducesTheCnnProbability) {
  const auto f = LivenessFusion::PassiveOnly(0.5f);
  for (float p : {0.02f, 0.3f, 0.5f, 0.97f}) {
    const auto v = f.Fuse({{"passive_cnn", p, 0}});
    EXPECT_NEAR(v.score, p, 1e-4);
    EXPECT_EQ(v.live, p >= 0.5f);
  }
}

TEST(LivenessFusion, UnknownSignalsContributeNothingButAreReported) {
  const auto f = LivenessFusion::PassiveOnly(0.5f);
  const auto v = f.Fuse({{"passive_cnn", 0.9f, 0}, {"blink", 0.1f, 0}});
  ASSERT_EQ(v.signals.size(), 2u);
  EXPECT_EQ(v.signals[1].contribution, 0.f);
  EXPECT_NEAR(v.score, 0.9f, 1e-4);
}

TEST(LivenessFusion, WeightedSignalsMoveTheScore) {
  LivenessFusion f(0.f, {{"passive_cnn", 1.f}, {"planarity", 2.f}}, 0.5f);
  const auto v = f.Fuse({{"passive_cnn", 0.5f, 0}, {"planarity", 0.2f, 0}});
  EXPECT_LT(v.score, 0.5f);
  EXPECT_FALSE(v.live);
}

}  // namespace
}  // namespace facepay::vision
