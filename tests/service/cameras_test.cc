// Guided camera calibration through a real server (flows/cameras.h, routes_cameras.cc): staff
// stand in front of an uncalibrated gate camera, the server draws movements, and only passages
// that follow them feed the calibration. A calibration fed with attack frames (a still photo,
// a phone replaying a person) must leave the camera as conservative as it was.
#include "flows_fixture.h"

namespace facepay::testing {
namespace {

using service::Role;
using vision::ChallengeAction;

class CameraCalibration : public ServiceFlows {
 protected:
  Node& StartWithOrder(std::vector<ChallengeAction> order) {
    order_ = std::make_unique<flows::FixedChallengeOrder>(std::move(order));
    NodeOptions o;
    o.challenge_order = order_.get();
    return StartNodeWith(o);
  }
  void SetUp() override {
    ServiceFlows::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    FACEPAY_DATA_PATH_OR_RETURN(videos, "videos");
    videos_ = videos;
  }
  // One guided passage at `camera`: a challenge, then `frames` as its response.
  Node::Res Passage(Node& n, const std::string& admin, const std::string& camera, const json& frames) {
    auto issued = n.Post("/v1/cameras/" + camera + "/calibration/challenges", admin, json::object());
    EXPECT_EQ(issued.status, 201) << issued.raw;
    const std::string id = issued.body.value("challenge_id", "");
    return n.Post("/v1/cameras/" + camera + "/calibration/challenges/" + id + "/responses", admin,
                  {{"frames", frames}, {"frame_interval_ms", 100}});
  }
  json Camera(Node& n, const std::string& admin, const std::string& camera) {
    auto r = n.Call("GET", "/v1/cameras/" + camera, admin);
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body;
  }

  std::string videos_;
  float before_offset_ = 0;
  std::unique_ptr<flows::FixedChallengeOrder> order_;  // outlives the nodes (declared first)
};

TEST_P(CameraCalibration, AttackFramesFailTheMovementsAndLeaveTheCameraAsConservativeAsItWas) {
  Node& n = StartWithOrder({ChallengeAction::kTurnLeft, ChallengeAction::kSmile});
  const std::string admin = n.MakeKey(Role::kAdmin);
  const json before = Camera(n, admin, "gate:g2");
  ASSERT_EQ(before["calibrated"], false) << before.dump();
  const float conservative = before["judged_offset"].get<float>();
  EXPECT_LE(conservative, -5.f) << before.dump();

  // A still photo held to the camera, and a phone replaying a person: three tries each.
  json photo = json::array();
  for (int i = 0; i < 20; ++i) photo.push_back(Frames({Img("Angelina_Jolie", 3)})[0]);
  const json replay = VideoBurst(videos_ + "/apfol_replay_phone2.webm", 0, 30, 100);
  for (const json* frames : std::vector<const json*>{&photo, &replay}) {
    for (int i = 0; i < 3; ++i) {
      auto r = Passage(n, admin, "gate:g2", *frames);
      ASSERT_EQ(r.status, 200) << r.raw;
      EXPECT_EQ(r.body["result"], "failed") << r.raw;
      EXPECT_EQ(r.body["calibration"]["passages"], 0) << r.raw;
      EXPECT_EQ(r.body["calibration"]["ready"], false) << r.raw;
    }
  }
  // Finishing the calibration is refused and the camera is judged as before.
  auto r = n.Post("/v1/cameras/gate:g2/calibration", admin, json::object());
  ASSERT_EQ(r.status, 409) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "calibration_not_ready") << r.raw;
  const json after = Camera(n, admin, "gate:g2");
  EXPECT_EQ(after["calibrated"], false) << after.dump();
  EXPECT_FLOAT_EQ(after["judged_offset"].get<float>(), conservative);
  auto audit = n.Call("GET", "/v1/audit?action=camera_calibration&target=gate:g2", admin);
  ASSERT_EQ(audit.status, 200) << audit.raw;
  EXPECT_TRUE(audit.body["items"].empty()) << audit.raw;
  // Only an admin calibrates: a gate key cannot even start.
  const std::string gate = n.MakeKey(Role::kGate, {"g2"});
  EXPECT_EQ(n.Post("/v1/cameras/gate:g2/calibration/challenges", gate, json::object()).status, 403);
  EXPECT_EQ(n.Post("/v1/cameras/gate:nope/calibration/challenges", admin, json::object()).status, 404);
}

TEST_P(CameraCalibration, PassagesThatFollowTheMovementsCalibrateTheCameraAndTheServerSaysSo) {
  Node& n = StartWithOrder({ChallengeAction::kBlink});
  const std::string admin = n.MakeKey(Role::kAdmin);
  before_offset_ = Camera(n, admin, "gate:g2")["judged_offset"].get<float>();
  // d3.mp4's first two seconds: a neutral face, then a blink (as at a kiosk).
  const json blinking = VideoBurst(videos_ + "/d3.mp4", 0, 20, 100);
  for (int i = 1; i <= 3; ++i) {
    auto r = Passage(n, admin, "gate:g2", blinking);
    ASSERT_EQ(r.status, 200) << r.raw;
    ASSERT_EQ(r.body["result"], "passed") << r.raw;
    EXPECT_EQ(r.body["calibration"]["passages"], i) << r.raw;
    EXPECT_EQ(r.body["calibration"]["ready"], i >= 3 && r.body["calibration"]["frames"].get<int>() >= 20)
        << r.raw;
  }
  auto r = n.Post("/v1/cameras/gate:g2/calibration", admin, json::object());
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["calibrated"], true) << r.raw;
  EXPECT_EQ(r.body["source"], "calibration") << r.raw;
  const float offset = r.body["cnn_logit_offset"].get<float>();
  EXPECT_FLOAT_EQ(r.body["judged_offset"].get<float>(), offset);
  EXPECT_EQ(r.body["calibration_in_progress"]["passages"], 0) << r.raw;

  // No longer listed as uncalibrated; /metrics carries the camera's state.
  auto health = n.Call("GET", "/healthz", "");
  const auto cams = health.body["uncalibrated_cameras"].get<std::vector<std::string>>();
  EXPECT_EQ(std::find(cams.begin(), cams.end(), "gate:g2"), cams.end()) << health.raw;
  const std::string metrics = n.Call("GET", "/metrics", admin).raw;
  EXPECT_NE(metrics.find("facepay_camera_calibrated{camera=\"gate:g2\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("facepay_camera_cnn_logit_count{camera=\"gate:g2\"}"), std::string::npos);
  // Audited with the offsets before and after.
  auto audit = n.Call("GET", "/v1/audit?action=camera_calibration&target=gate:g2", admin);
  ASSERT_EQ(audit.status, 200) << audit.raw;
  ASSERT_EQ(audit.body["items"].size(), 4u) << audit.raw;  // started, passage, passage, calibrated
  EXPECT_EQ(audit.body["items"][3]["outcome"], "calibrated");
  EXPECT_TRUE(audit.body["items"][3]["detail"]["previous_offset"].is_null());

  // A burst at g2 is now judged with that offset: no unsure band.
  r = n.Post("/v1/gates/g2/passages", admin,
             {{"event_id", "after-calibration"}, {"frame_interval_ms", 125},
              {"frames", VideoBurst(videos_ + "/d9.mp4", 8000, 8, 125)}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_FALSE(r.body["probe"].contains("liveness_unsure")) << r.raw;

  // Forgetting it puts the camera back to the conservative default.
  r = n.Call("DELETE", "/v1/cameras/gate:g2/calibration", admin);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["calibrated"], false) << r.raw;
  EXPECT_FLOAT_EQ(r.body["judged_offset"].get<float>(), before_offset_);
}

INSTANTIATE_TEST_SUITE_P(Stores, CameraCalibration, ::testing::Values("sqlite", "postgres"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace facepay::testing
