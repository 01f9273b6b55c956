#include "facepay/vision/active_challenge.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace facepay::vision {
namespace {

// A synthetic face: cheeks, nose, eyes and mouth corners in 3D, projected at a yaw.
struct Pose {
  float yaw_rad = 0;
  float ear = 0.3f;
  float mouth_half_width = 0.35f;
};

FrameCue Frame(const Pose& p, double t_ms) {
  FrameCue c;
  c.has_face = true;
  c.t_ms = t_ms;
  c.eye_aspect = p.ear;
  auto put = [&](int i, float x, float y, float z) {
    const float xr = x * std::cos(p.yaw_rad) + z * std::sin(p.yaw_rad);
    c.landmarks[i] = cv::Point2f(300 + 100 * xr, 300 + 100 * y);
  };
  for (int i = 0; i < 68; ++i) put(i, 0, 0, 0.3f);
  put(2, -1, 0, 0.1f);
  put(14, 1, 0, 0.1f);
  put(30, 0, 0.1f, 0.8f);
  for (int i : {37, 38, 40, 41}) put(i, -0.4f, -0.3f, 0.5f);
  for (int i : {43, 44, 46, 47}) put(i, 0.4f, -0.3f, 0.5f);
  put(48, -p.mouth_half_width, 0.5f, 0.5f);
  put(54, p.mouth_half_width, 0.5f, 0.5f);
  return c;
}

// Plays a script of poses, 100 ms apart; returns the final state.
ChallengeState Play(ActiveChallenge& ch, const std::vector<Pose>& script) {
  double t = 0;
  for (const Pose& p : script) {
    ch.Observe(Frame(p, t));
    t += 100;
  }
  return ch.state();
}

std::vector<Pose> Neutral(int n) { return std::vector<Pose>(n, Pose{}); }
std::vector<Pose> Blink() { return {Pose{0, 0.1f}, Pose{0, 0.08f}, Pose{0, 0.3f}}; }
std::vector<Pose> Turn(float deg) {
  const float r = deg / 57.3f;
  return {Pose{r / 2}, Pose{r}, Pose{r}, Pose{0}};
}
std::vector<Pose> Smile() { return {Pose{0, 0.3f, 0.45f}, Pose{0, 0.3f, 0.35f}}; }
std::vector<Pose> Cat(std::initializer_list<std::vector<Pose>> parts) {
  std::vector<Pose> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

using A = ChallengeAction;

TEST(ActiveChallenge, PassesWhenTheActionsComeInThePromptedOrder) {
  ActiveChallenge ch({A::kBlink, A::kTurnLeft, A::kSmile, A::kTurnRight}, {});
  EXPECT_EQ(Play(ch, Cat({Neutral(3), Blink(), Turn(25), Smile(), Turn(-25)})), ChallengeState::kPassed);
  EXPECT_EQ(ch.completed(), 4u);
}

TEST(ActiveChallenge, AReplayInAnotherOrderFails) {
  // The recording turns right first; the prompt asked for left.
  ActiveChallenge ch({A::kTurnLeft, A::kTurnRight}, {});
  EXPECT_EQ(Play(ch, Cat({Neutral(3), Turn(-25), Turn(25)})), ChallengeState::kFailed);
  EXPECT_EQ(ch.failure(), "wrong_action");
}

TEST(ActiveChallenge, AHeldTurnFromTheLastStepIsNotAWrongAction) {
  ActiveChallenge ch({A::kTurnLeft, A::kTurnRight}, {});
  const float r = 25 / 57.3f;
  const std::vector<Pose> script = Cat({Neutral(3), {Pose{r}, Pose{r}, Pose{0}, Pose{-r}}});
  EXPECT_EQ(Play(ch, script), ChallengeState::kPassed);
}

TEST(ActiveChallenge, AStillPhotoTimesOut) {
  ActiveChallenge ch({A::kBlink}, {});
  EXPECT_EQ(Play(ch, Neutral(60)), ChallengeState::kFailed);  // 6 s of nothing
  EXPECT_EQ(ch.failure(), "timeout");
}

TEST(ActiveChallenge, LosingTheFaceFails) {
  ActiveChallenge ch({A::kSmile}, {});
  Play(ch, Neutral(3));
  FrameCue none;
  for (int i = 0; i < 10; ++i) ch.Observe(none);
  EXPECT_EQ(ch.state(), ChallengeState::kFailed);
  EXPECT_EQ(ch.failure(), "face_lost");
}

TEST(ActiveChallenge, RandomOrdersVaryAndNeverRepeatAnActionBackToBack) {
  std::set<std::string> orders;
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    const auto ch = ActiveChallenge::Random(seed, 3, {});
    ASSERT_EQ(ch.order().size(), 3u);
    std::string key;
    for (size_t i = 0; i < 3; ++i) {
      if (i > 0) {
        EXPECT_NE(ch.order()[i], ch.order()[i - 1]);
      }
      key += ChallengeActionName(ch.order()[i]);
    }
    orders.insert(key);
  }
  EXPECT_GT(orders.size(), 10u);
  ChallengeAction a;
  EXPECT_TRUE(ParseChallengeAction("turn_left", &a));
  EXPECT_EQ(a, A::kTurnLeft);
  EXPECT_FALSE(ParseChallengeAction("wink", &a));
}

}  // namespace
}  // namespace facepay::vision
