#include "facepay/vision/sequence_liveness.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include <opencv2/imgproc.hpp>

namespace facepay::vision {
namespace {

// A rough 3D face: 68 points on an ellipsoid-like surface (x, y in [-1, 1], depth z).
std::vector<cv::Point3f> Face3d() {
  std::vector<cv::Point3f> p;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  for (int i = 0; i < 68; ++i) {
    const float x = u(rng), y = u(rng);
    p.emplace_back(x, y, 0.6f * std::sqrt(std::max(0.f, 1 - 0.5f * (x * x + y * y))));
  }
  // Keep the 5-point indices sensible: eyes left/right of each other.
  p[37] = p[38] = p[40] = p[41] = {-0.4f, -0.3f, 0.5f};
  p[43] = p[44] = p[46] = p[47] = {0.4f, -0.3f, 0.5f};
  return p;
}

FrameCue Project(const std::vector<cv::Point3f>& pts, float yaw, bool flat) {
  FrameCue c;
  c.has_face = true;
  c.cnn_p_live = 0.9f;
  for (int i = 0; i < 68; ++i) {
    const cv::Point3f q = pts[i];
    const float z = flat ? 0.f : q.z;
    const float x = q.x * std::cos(yaw) + z * std::sin(yaw);
    const float zz = -q.x * std::sin(yaw) + z * std::cos(yaw);
    const float f = 4.f / (4.f + zz);  // perspective
    c.landmarks[i] = cv::Point2f(200 + 100 * x * f, 200 + 100 * q.y * f);
  }
  c.eye_aspect = 0.3f;
  return c;
}

TEST(WindowSignals, PlanarityTellsAFlatPhotoFromAHeadTurning) {
  const auto face = Face3d();
  std::vector<FrameCue> head, photo;
  for (int i = 0; i < 8; ++i) {
    const float yaw = 0.05f * static_cast<float>(i);  // up to ~20 degrees
    head.push_back(Project(face, yaw, false));
    photo.push_back(Project(face, yaw, true));
  }
  const float p_head = ComputeWindowSignals(head, 0).values.at("planarity");
  const float p_photo = ComputeWindowSignals(photo, 0).values.at("planarity");
  EXPECT_LT(p_photo, 0.2f);
  EXPECT_GT(p_head, 0.6f);
}

// A window of frames of a textured room with a face moving right by 6 px a frame: either the
// whole picture moves with it (a screen or photo carried by hand) or the room stays still.
std::vector<FrameCue> MovingFace(bool scene_moves, float px_per_frame) {
  cv::Mat room(480, 640, CV_8UC3);
  cv::RNG rng(11);
  rng.fill(room, cv::RNG::UNIFORM, 0, 255);
  cv::GaussianBlur(room, room, cv::Size(0, 0), 3);
  const auto face = Face3d();
  std::vector<FrameCue> cues;
  for (int i = 0; i < 8; ++i) {
    const float dx = px_per_frame * static_cast<float>(i);
    cv::Mat frame = room.clone();
    if (scene_moves) {
      const cv::Mat m = (cv::Mat_<double>(2, 3) << 1, 0, dx, 0, 1, 0);
      cv::warpAffine(room, frame, m, room.size(), cv::INTER_LINEAR, cv::BORDER_REFLECT);
    }
    FaceResult r;
    r.liveness.score = 0.9f;
    const FrameCue shape = Project(face, 0, true);
    for (int k = 0; k < 68; ++k) r.landmarks[k] = shape.landmarks[k] + cv::Point2f(dx + 60, 0);
    r.detection.box = cv::Rect2f(160 + dx, 80, 200, 240);
    cv::rectangle(frame, r.detection.box, cv::Scalar(90, 120, 200), cv::FILLED);  // the face
    cues.push_back(MakeFrameCue(frame, r, 125.0 * i));
  }
  return cues;
}

TEST(WindowSignals, SceneFollowTellsACarriedPictureFromAHeadBeforeAStillRoom) {
  const float carried = ComputeWindowSignals(MovingFace(true, 6), 0).values.at("scene_follow");
  const float head = ComputeWindowSignals(MovingFace(false, 6), 0).values.at("scene_follow");
  const float still = ComputeWindowSignals(MovingFace(false, 0), 0).values.at("scene_follow");
  EXPECT_GT(carried, 0.8f);
  EXPECT_LT(head, -0.8f);
  EXPECT_NEAR(still, 0.f, 1e-6);
}

TEST(WindowSignals, NoMotionIsNeutralNotLiveOrAttack) {
  const auto face = Face3d();
  std::vector<FrameCue> still(8, Project(face, 0, false));
  const auto s = ComputeWindowSignals(still, 0);
  EXPECT_NEAR(s.values.at("planarity"), 0.7f, 1e-3);
  EXPECT_NEAR(s.values.at("jitter"), 0.f, 1e-4);
  EXPECT_NEAR(s.values.at("blink"), 0.f, 1e-6);
}

TEST(WindowSignals, BlinkIsTheRelativeDropOfTheEyeAspectRatio) {
  const auto face = Face3d();
  std::vector<FrameCue> w(8, Project(face, 0, false));
  w[4].eye_aspect = 0.06f;  // eyes closed in one frame
  EXPECT_NEAR(ComputeWindowSignals(w, 0).values.at("blink"), 0.8f, 1e-3);
}

TEST(WindowSignals, CameraOffsetShiftsTheCnnLogit) {
  const auto face = Face3d();
  std::vector<FrameCue> w(4, Project(face, 0, false));
  const float base = ComputeWindowSignals(w, 0).values.at("cnn");
  EXPECT_NEAR(ComputeWindowSignals(w, 2.5f).values.at("cnn"), base + 2.5f, 1e-4);
  EXPECT_NEAR(base, Logit(0.9f), 1e-4);
}

TEST(WindowSignals, ShiftingRawSignalsEqualsComputingThemWithTheOffset) {
  std::vector<FrameCue> w(4, Project(Face3d(), 0, false));
  EXPECT_NEAR(WithCnnOffset(ComputeWindowSignals(w, 0), -6.5f).values.at("cnn"),
              ComputeWindowSignals(w, -6.5f).values.at("cnn"), 1e-4);
  std::vector<FrameCue> none(3);
  EXPECT_EQ(WithCnnOffset(ComputeWindowSignals(none, 0), 3).values.at("cnn"), 0.f);
}

// A model on the CNN alone: live when the window's mean calibrated logit is above 0.
SequenceModel CnnOnlyModel() {
  SequenceModel m;
  m.weight["cnn"] = 4;
  m.mean["cnn"] = 0;
  m.stddev["cnn"] = 1;
  m.threshold = 0.5f;
  return m;
}

TEST(JudgeWindow, ACameraWithoutAProfileIsJudgedAtTheUncalibratedOffsetNotZero) {
  std::vector<FrameCue> w(4, Project(Face3d(), 0, false));  // p_live 0.9: logit +2.2
  SequenceModel m = CnnOnlyModel();
  m.uncalibrated_cnn_logit_offset = -5;
  EXPECT_FALSE(JudgeWindow(m, w, nullptr).live);
  CameraProfile zero;  // a calibrated camera whose offset happens to be 0
  EXPECT_TRUE(JudgeWindow(m, w, &zero).live);
  EXPECT_FLOAT_EQ(CnnLogitOffsetFor(m, nullptr), -5);
  EXPECT_FLOAT_EQ(CnnLogitOffsetFor(m, &zero), 0);
}

TEST(JudgeWindow, TheUnsureBandAppliesOnlyToUncalibratedCameras) {
  std::vector<FrameCue> w(4, Project(Face3d(), 0, false));
  SequenceModel m = CnnOnlyModel();
  m.uncalibrated_cnn_logit_offset = -5;
  m.uncalibrated_unsure_cnn_logit_offset = 0;
  const auto v = JudgeWindow(m, w, nullptr);
  EXPECT_FALSE(v.live);
  EXPECT_TRUE(v.unsure);  // live at offset 0: an active challenge, not an accept
  CameraProfile low;
  low.cnn_logit_offset = -5;
  EXPECT_FALSE(JudgeWindow(m, w, &low).unsure);
  for (auto& c : w) c.cnn_p_live = 0.01f;  // logit -4.6: an attack even at offset 0
  EXPECT_FALSE(JudgeWindow(m, w, nullptr).unsure);
}

TEST(SequenceModel, ReadsTheUncalibratedOffsetsAndRefusesUncalibratedCamerasWithoutThem) {
  nlohmann::json j = SequenceModelToJson(CnnOnlyModel());
  j.erase("uncalibrated_cnn_logit_offset");
  j.erase("uncalibrated_unsure_cnn_logit_offset");
  auto m = SequenceModelFromJson(j);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_FLOAT_EQ(m->uncalibrated_cnn_logit_offset, -kMaxCnnLogitOffset);
  j["uncalibrated_cnn_logit_offset"] = -6.5;
  j["uncalibrated_unsure_cnn_logit_offset"] = 0;
  m = SequenceModelFromJson(j);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_FLOAT_EQ(m->uncalibrated_cnn_logit_offset, -6.5f);
  EXPECT_FLOAT_EQ(m->uncalibrated_unsure_cnn_logit_offset, 0.f);
  for (const nlohmann::json& bad : {nlohmann::json(25), nlohmann::json("x"), nlohmann::json(nullptr)}) {
    j["uncalibrated_cnn_logit_offset"] = bad;
    EXPECT_EQ(SequenceModelFromJson(j).status().reason(), "sequence_model_invalid") << bad;
  }
}

TEST(WindowSignals, WindowWithoutFacesIsNeverLive) {
  std::vector<FrameCue> none(5);
  SequenceModel m;
  m.weight["cnn"] = 1;
  m.mean["cnn"] = -100;
  m.stddev["cnn"] = 1;
  const auto v = FuseWindow(m, ComputeWindowSignals(none, 0));
  EXPECT_FALSE(v.live);
}

TEST(SequenceModel, FitSeparatesAnInformativeSignalAndRoundTripsThroughJson) {
  std::vector<WindowSignals> w;
  std::vector<bool> live;
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0, 1);
  for (int i = 0; i < 200; ++i) {
    WindowSignals s;
    s.frames = s.face_frames = 8;
    const bool l = i % 2 == 0;
    for (const auto& name : SignalNames()) s.values[name] = n(rng);
    s.values["cnn"] += l ? 3.f : -3.f;
    w.push_back(s);
    live.push_back(l);
  }
  SequenceModel m = FitSequenceModel(w, live, {"cnn", "blink"}, 0.01f);
  EXPECT_GT(m.weight.at("cnn"), 1.f);
  EXPECT_LT(std::abs(m.weight.at("blink")), 0.5f * m.weight.at("cnn"));
  int right = 0;
  for (size_t i = 0; i < w.size(); ++i) right += FuseWindow(m, w[i]).live == live[i];
  EXPECT_GT(right, 190);
  auto back = SequenceModelFromJson(SequenceModelToJson(m));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_FLOAT_EQ(back->weight.at("cnn"), m.weight.at("cnn"));
  nlohmann::json bad = SequenceModelToJson(m);
  bad["weights"]["telepathy"] = 1;
  EXPECT_EQ(SequenceModelFromJson(bad).status().reason(), "sequence_model_invalid");
}

TEST(CameraProfile, CalibrationMovesTheGenuineMedianToTheTarget) {
  const auto p = CalibrateCamera("gate-7", {0.01f, 0.02f, 0.05f, 0.1f, 0.2f}, 2.f);
  EXPECT_NEAR(p.cnn_logit_offset, 2.f - Logit(0.05f), 1e-4);
  EXPECT_EQ(p.frames_used, 5);
}

// Found by tests/fuzz/camera_profile: frames_used 1e300 was cast to int (undefined behaviour).
TEST(CameraProfile, RefusesFramesUsedOutsideIntRange) {
  const std::string path = ::testing::TempDir() + "camera_profile_frames_used.json";
  for (const char* frames : {"1e300", "-1e300", "3000000000", "18446744073709551615"}) {
    std::ofstream(path) << R"({"camera": "c", "cnn_logit_offset": 1, "frames_used": )" << frames
                        << "}";
    EXPECT_EQ(LoadCameraProfile(path).status().reason(), "camera_profile_invalid") << frames;
  }
  std::ofstream(path) << R"({"camera": "c", "cnn_logit_offset": 1, "frames_used": 28})";
  auto p = LoadCameraProfile(path);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->frames_used, 28);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace facepay::vision
