// Sequence liveness with the shipped manifest model on real videos and photo attacks.
#include <gtest/gtest.h>

#include "../support/test_data.h"
#include "facepay/eval/pad_loso.h"
#include "facepay/eval/sequence_data.h"
#include "facepay/vision/active_challenge.h"
#include "pipeline_fixture.h"

namespace facepay::testing {
namespace {

class SequenceLiveness : public RealPipeline {
 protected:
  vision::SequenceModel Model() {
    auto m = vision::SequenceModelFromJson(pipeline().pack().manifest().at("sequence_liveness"));
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : vision::SequenceModel{};
  }
  static std::map<std::string, float> Cameras() {
    std::map<std::string, float> out;
    auto p = vision::LoadCameraProfile(std::string(FACEPAY_SOURCE_DIR) + "/config/cameras/dev-webcam.json");
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (p.ok()) out["webcam"] = p->cnn_logit_offset;
    return out;
  }
  // Share of windows judged live.
  double LiveShare(const std::vector<eval::WindowSample>& w) {
    const auto m = Model();
    int live = 0;
    for (const auto& s : w) live += vision::FuseWindow(m, s.signals).live;
    return w.empty() ? 0 : static_cast<double>(live) / static_cast<double>(w.size());
  }
  eval::WindowOptions opt_;
};

TEST_F(SequenceLiveness, RejectsAPrintedPhotoHeldStillOrMovedByHand) {
  FACEPAY_DATA_PATH_OR_RETURN(pad, "pad-samples");
  const auto tracks = eval::SyntheticPhotoTracks(
      pipeline(), {pad + "/image_F1.jpg", pad + "/image_F2.jpg"}, opt_, 99u, 2, false);
  ASSERT_EQ(tracks.size(), 4u);  // still + hand-held for each photo
  const auto w = eval::WindowsFromTracks(tracks, opt_, {}, Model().uncalibrated_cnn_logit_offset);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(LiveShare(w), 0.0);
}

TEST_F(SequenceLiveness, RejectsThePhoneReplayAndAcceptsTheLivePersonOnTheCalibratedWebcam) {
  FACEPAY_DATA_PATH_OR_RETURN(v, "videos");
  opt_.stride_ms = 500;
  // The webcam profile was calibrated on the first 3.5 s of the live video; judge the rest.
  const auto live = eval::WindowsFromTracks(
      eval::TracksFromSamples(pipeline(), {{v + "/apfol_real2.webm", "live", "webcam", 3500, 7200}},
                              opt_, 2, false, nullptr),
      opt_, Cameras(), Model().uncalibrated_cnn_logit_offset);
  const auto replay = eval::WindowsFromTracks(
      eval::TracksFromSamples(pipeline(), {{v + "/apfol_replay_phone2.webm", "replay", "webcam"}},
                              opt_, 2, false, nullptr),
      opt_, Cameras(), Model().uncalibrated_cnn_logit_offset);
  ASSERT_GE(live.size(), 4u);
  ASSERT_GE(replay.size(), 20u);
  EXPECT_GE(LiveShare(live), 0.75);
  EXPECT_EQ(LiveShare(replay), 0.0);
}

TEST_F(SequenceLiveness, AcceptsMostWindowsOfALiveTalkingPersonOnceItsCameraIsCalibrated) {
  FACEPAY_DATA_PATH_OR_RETURN(v, "videos/d3.mp4");
  opt_.stride_ms = 1000;
  auto tracks = eval::TracksFromSamples(pipeline(), {{v, "live", "d3"}}, opt_, 2, false, nullptr);
  ASSERT_EQ(tracks.size(), 1u);
  // As an operator would: calibrate on the first third of the genuine video, judge the rest.
  eval::LosoOptions o;
  const auto split = eval::SplitForCalibration(tracks, opt_, o);
  ASSERT_EQ(split.profiles.count("d3"), 1u);
  const auto w = eval::WindowsFromTracks(split.scoring, opt_,
                                         {{"d3", split.profiles.at("d3").cnn_logit_offset}},
                                         Model().uncalibrated_cnn_logit_offset);
  ASSERT_GE(w.size(), 5u);
  EXPECT_GE(LiveShare(w), 0.6);
}

// Issue 16: the shipped default judged a camera without a profile at offset 0, which accepted
// 92% of the MSU laptop's screen-replay windows and a printed and an on-screen photo of the
// Trueface / phone photos. A camera without a profile is now judged at the model's
// uncalibrated offset: none is accepted (the replays land in the unsure band: a challenge).
TEST_F(SequenceLiveness, AnUncalibratedCameraAcceptsNoReplayOrPhotoThatOffsetZeroAccepted) {
  FACEPAY_DATA_PATH_OR_RETURN(d, "pad-dev");
  std::vector<eval::PadSample> samples = {
      {d + "/msu-laptop/replay/v5", "replay"}, {d + "/msu-laptop/replay/v4", "replay"},
      {d + "/photos/replay", "replay"}, {d + "/photos/print", "print"}};
  samples[0].fps = samples[1].fps = 30;
  samples[2].stills = samples[3].stills = true;
  const auto raw = eval::WindowsFromTracks(
      eval::TracksFromSamples(pipeline(), samples, opt_, 2, false, nullptr), opt_, {}, 0.f);
  ASSERT_GE(raw.size(), 60u);
  const auto m = Model();
  int accepted = 0, accepted_at_zero = 0, unsure = 0;
  for (const auto& w : raw) {
    const auto v = vision::JudgeRawWindow(m, w.signals, nullptr);
    accepted += v.live;
    unsure += v.unsure;
    accepted_at_zero += vision::FuseWindow(m, w.signals).live;
  }
  EXPECT_GE(accepted_at_zero, 40) << "the data no longer shows the problem";
  EXPECT_EQ(accepted, 0) << "of " << raw.size() << " attack windows";
  EXPECT_EQ(unsure, accepted_at_zero);  // what offset 0 accepted now asks for a challenge
}

TEST_F(SequenceLiveness, ARecordedVideoCannotFollowRandomChallenges) {
  FACEPAY_DATA_PATH_OR_RETURN(v, "videos/d6.mp4");
  eval::WindowOptions dense;
  dense.frames = 10;  // 10 frames per second
  dense.max_windows = 10000;
  const auto tracks = eval::TracksFromSamples(pipeline(), {{v, "live"}}, dense, 2, false, nullptr);
  ASSERT_EQ(tracks.size(), 1u);
  ASSERT_GT(tracks[0].cues.size(), 200u);  // 33 s of a person talking
  int passed = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    auto ch = vision::ActiveChallenge::Random(seed, 3, {});
    for (const auto& c : tracks[0].cues) ch.Observe(c);
    passed += ch.state() == vision::ChallengeState::kPassed;
  }
  EXPECT_LE(passed, 2) << "a replay followed " << passed << " of 20 random orders";
}

}  // namespace
}  // namespace facepay::testing
