#include "facepay/vision/presence_tracker.h"

#include <gtest/gtest.h>

namespace facepay::vision {
namespace {

constexpr int kW = 640, kH = 480;

Detection Face(float x, float y, float h) { return {cv::Rect2f(x, y, h * 0.8f, h), 0.99f}; }

TEST(PresenceTracker, OneCloseStableFacePresentsAfterTheConfiguredFrames) {
  PresenceTracker t({.min_face_height = 0.2f, .stable_frames = 3});
  EXPECT_EQ(t.Feed({}, kW, kH), Presence::kIdle);
  EXPECT_EQ(t.Feed({Face(200, 100, 200)}, kW, kH), Presence::kApproaching);
  EXPECT_EQ(t.Feed({Face(204, 102, 200)}, kW, kH), Presence::kApproaching);
  EXPECT_EQ(t.Feed({Face(206, 101, 202)}, kW, kH), Presence::kPresenting);
  EXPECT_EQ(t.Feed({Face(206, 101, 202)}, kW, kH), Presence::kPresenting);
}

TEST(PresenceTracker, AFarFaceIsNotPresentingAndAJumpRestartsTheCount) {
  PresenceTracker t({.min_face_height = 0.2f, .stable_frames = 2});
  EXPECT_EQ(t.Feed({Face(200, 100, 60)}, kW, kH), Presence::kIdle) << "60 px of 480: queueing";
  EXPECT_EQ(t.Feed({Face(10, 10, 150)}, kW, kH), Presence::kApproaching);
  // Another place in the frame: not the same face, the count starts again.
  EXPECT_EQ(t.Feed({Face(400, 200, 150)}, kW, kH), Presence::kApproaching);
  EXPECT_EQ(t.Feed({Face(402, 200, 150)}, kW, kH), Presence::kPresenting);
}

TEST(PresenceTracker, TwoCloseFacesAreCrowdedNotPresenting) {
  PresenceTracker t({.min_face_height = 0.2f, .stable_frames = 2});
  t.Feed({Face(100, 100, 150)}, kW, kH);
  EXPECT_EQ(t.Feed({Face(100, 100, 150), Face(400, 100, 140)}, kW, kH), Presence::kCrowded);
  EXPECT_EQ(t.Feed({Face(100, 100, 150), Face(400, 100, 140)}, kW, kH), Presence::kCrowded);
  // A bystander far behind does not make a crowd.
  EXPECT_EQ(t.Feed({Face(100, 100, 150), Face(400, 100, 40)}, kW, kH), Presence::kApproaching);
  EXPECT_EQ(t.Feed({Face(100, 100, 150)}, kW, kH), Presence::kPresenting);
}

TEST(PresenceTracker, ADecidedPersonPresentsAgainOnlyAfterLeaving) {
  PresenceTracker t({.min_face_height = 0.2f, .stable_frames = 1, .absent_frames = 3});
  EXPECT_EQ(t.Feed({Face(100, 100, 150)}, kW, kH), Presence::kPresenting);
  t.MarkDecided();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(t.Feed({Face(100, 100, 150)}, kW, kH), Presence::kDecided) << "still there: " << i;
  }
  EXPECT_EQ(t.Feed({}, kW, kH), Presence::kDecided);
  EXPECT_EQ(t.Feed({}, kW, kH), Presence::kDecided);
  // Back before the third absent frame: the count of absent frames starts again.
  EXPECT_EQ(t.Feed({Face(100, 100, 150)}, kW, kH), Presence::kDecided);
  EXPECT_EQ(t.Feed({}, kW, kH), Presence::kDecided);
  EXPECT_EQ(t.Feed({}, kW, kH), Presence::kDecided);
  EXPECT_EQ(t.Feed({}, kW, kH), Presence::kIdle);
  EXPECT_EQ(t.Feed({Face(100, 100, 150)}, kW, kH), Presence::kPresenting) << "the next person";
}

TEST(PresenceTracker, BoxIouOfDisjointAndEqualBoxes) {
  EXPECT_FLOAT_EQ(BoxIou({0, 0, 10, 10}, {0, 0, 10, 10}), 1.f);
  EXPECT_FLOAT_EQ(BoxIou({0, 0, 10, 10}, {20, 20, 10, 10}), 0.f);
  EXPECT_FLOAT_EQ(BoxIou({0, 0, 0, 0}, {0, 0, 0, 0}), 0.f);
  EXPECT_NEAR(BoxIou({0, 0, 10, 10}, {5, 0, 10, 10}), 50.f / 150.f, 1e-6);
}

}  // namespace
}  // namespace facepay::vision
