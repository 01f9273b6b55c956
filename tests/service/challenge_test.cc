// A kiosk's active liveness challenge through a real server: the order comes from the server,
// the response is a real video judged by vision::ActiveChallenge, and the enrolment that names
// a passed challenge must show the face that passed it. The order is injected (an order the
// clip really performs: d3.mp4 blinks in its first two seconds); production draws it from a
// CSPRNG.
#include "flows_fixture.h"

namespace facepay::testing {
namespace {

using service::Role;
using vision::ChallengeAction;

const json kConsent = {{"text_version", "v1"}, {"channel", "kiosk:k1"}};

// A key as a paired kiosk gets it (pairing.cc: role enroller, label paired:kiosk:<id>).
std::string KioskKey(Node& n, const std::string& kiosk) {
  auto k = service::MakeApiKey(Role::kEnroller, {}, "paired:kiosk:" + kiosk, 0,
                               payments::SystemClock().NowMs());
  EXPECT_TRUE(k.ok());
  EXPECT_TRUE(n.store().PutKey(k->record).ok());
  return k->token;
}

class Challenges : public ServiceFlows {
 protected:
  Node& StartWithOrder(std::vector<ChallengeAction> order, payments::Clock* clock = nullptr) {
    order_ = std::make_unique<flows::FixedChallengeOrder>(std::move(order));
    NodeOptions o;
    o.challenge_order = order_.get();
    o.clock = clock;
    return StartNodeWith(o);
  }
  // d3.mp4's first two seconds, ten frames a second: a neutral face, then a blink.
  json Blinking() { return VideoBurst(videos_ + "/d3.mp4", 0, 20, 100); }
  void SetUp() override {
    ServiceFlows::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    FACEPAY_DATA_PATH_OR_RETURN(videos, "videos");
    videos_ = videos;
  }
  std::string Issue(Node& n, const std::string& key, const std::string& kiosk = "k1") {
    auto r = n.Post("/v1/kiosks/" + kiosk + "/challenges", key, json::object());
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("challenge_id", "");
  }
  Node::Res Respond(Node& n, const std::string& key, const std::string& id, const json& frames,
                    double interval_ms = 100, const std::string& kiosk = "k1") {
    return n.Post("/v1/kiosks/" + kiosk + "/challenges/" + id + "/responses", key,
                  {{"frames", frames}, {"frame_interval_ms", interval_ms}});
  }

  std::string videos_;
  // Declared before the nodes (in the base): outlives them.
  std::unique_ptr<flows::FixedChallengeOrder> order_;
};

TEST_P(Challenges, APersonWhoFollowsThePromptsPassesAndEnrolsOnceWithThatChallenge) {
  Node& n = StartWithOrder({ChallengeAction::kBlink});
  const std::string kiosk = KioskKey(n, "k1");
  auto issued = n.Post("/v1/kiosks/k1/challenges", kiosk, json::object());
  ASSERT_EQ(issued.status, 201) << issued.raw;
  EXPECT_EQ(issued.body["actions"], json::array({"blink"}));
  EXPECT_EQ(issued.body["max_frames"], 48);
  EXPECT_GT(issued.body["step_timeout_ms"].get<double>(), 0);
  const std::string id = issued.body["challenge_id"];

  auto r = Respond(n, kiosk, id, Blinking());
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["result"], "passed") << r.raw;
  EXPECT_EQ(r.body["completed"], 1);
  EXPECT_EQ(r.body["frames"], 20);
  // One answer per challenge.
  r = Respond(n, kiosk, id, Blinking());
  EXPECT_EQ(r.status, 409) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "challenge_used");

  // The same person's capture burst enrols with the challenge; the audit names it.
  json body = {{"id", "d3"}, {"consent", kConsent}, {"frame_interval_ms", 125},
               {"challenge_id", id}, {"frames", VideoBurst(videos_ + "/d3.mp4", 3000, 8, 125)}};
  r = n.Post("/v1/subjects", kiosk, body);
  ASSERT_EQ(r.status, 201) << r.raw;
  auto audit = n.Call("GET", "/v1/audit?action=enroll&target=d3", n.MakeKey(Role::kAuditor));
  ASSERT_EQ(audit.status, 200) << audit.raw;
  ASSERT_EQ(audit.body["items"].size(), 1u) << audit.raw;
  EXPECT_EQ(audit.body["items"][0]["detail"]["challenge"], id) << audit.raw;
  audit = n.Call("GET", "/v1/audit?action=liveness_challenge&target=" + id, n.MakeKey(Role::kAuditor));
  ASSERT_EQ(audit.body["items"].size(), 2u) << audit.raw;  // issued, passed
  EXPECT_EQ(audit.body["items"][1]["outcome"], "passed") << audit.raw;

  // One enrolment per passed challenge.
  body["id"] = "d3-again";
  r = n.Post("/v1/subjects", kiosk, body);
  EXPECT_EQ(r.status, 409) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "challenge_used") << r.raw;
  EXPECT_EQ(n.Call("GET", "/v1/subjects/d3-again", kiosk).status, 404);
}

TEST_P(Challenges, AChallengePassedByOneFaceCannotEnrolSomeoneElse) {
  Node& n = StartWithOrder({ChallengeAction::kBlink});
  const std::string kiosk = KioskKey(n, "k1");
  const std::string id = Issue(n, kiosk);
  auto r = Respond(n, kiosk, id, Blinking());
  ASSERT_EQ(r.body["result"], "passed") << r.raw;
  r = n.Post("/v1/subjects", kiosk,
             {{"id", "photo-of-someone"}, {"consent", kConsent}, {"challenge_id", id},
              {"images", Frames({Img("Angelina_Jolie", 3), Img("Angelina_Jolie", 4)})}});
  ASSERT_EQ(r.status, 422) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "challenge_face_mismatch") << r.raw;
  EXPECT_EQ(n.Call("GET", "/v1/subjects/photo-of-someone", kiosk).status, 404);
  EXPECT_TRUE(n.gallery().TemplatesOf("photo-of-someone").empty());
}

TEST_P(Challenges, AVideoThatDoesNotDoWhatWasAskedAndAStillPhotoFailAndCannotEnrol) {
  Node& n = StartWithOrder({ChallengeAction::kTurnLeft, ChallengeAction::kSmile});
  const std::string kiosk = KioskKey(n, "k1");
  // The blinking clip, asked to turn and smile: it never does.
  std::string id = Issue(n, kiosk);
  auto r = Respond(n, kiosk, id, Blinking());
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["result"], "failed") << r.raw;
  EXPECT_EQ(r.body["completed"], 0) << r.raw;
  EXPECT_NE(r.body["failure"], "") << r.raw;
  r = n.Post("/v1/subjects", kiosk,
             {{"id", "d3"}, {"consent", kConsent}, {"challenge_id", id}, {"frame_interval_ms", 125},
              {"frames", VideoBurst(videos_ + "/d3.mp4", 3000, 8, 125)}});
  EXPECT_EQ(r.status, 409) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "challenge_not_passed") << r.raw;
  EXPECT_EQ(n.Call("GET", "/v1/subjects/d3", kiosk).status, 404);

  // A still photo held up for five seconds: the first prompt times out.
  id = Issue(n, kiosk);
  json still = json::array();
  for (int i = 0; i < 25; ++i) still.push_back(Frames({Img("Angelina_Jolie", 3)})[0]);
  r = Respond(n, kiosk, id, still, 200);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["result"], "failed") << r.raw;
  EXPECT_EQ(r.body["failure"], "timeout") << r.raw;
}

TEST_P(Challenges, AChallengeBelongsToItsKioskAndKeyAndExpires) {
  payments::ManualClock clock(payments::SystemClock().NowMs());
  Node& n = StartWithOrder({ChallengeAction::kBlink}, &clock);
  const std::string k1 = KioskKey(n, "k1");
  const std::string k2 = KioskKey(n, "k2");
  // A paired kiosk's key speaks for its own kiosk only.
  auto r = n.Post("/v1/kiosks/k1/challenges", k2, json::object());
  EXPECT_EQ(r.status, 403) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "not_bound_to_terminal");
  const std::string id = Issue(n, k1);
  // Another key (even one allowed at k1) does not see it, and cannot spend it.
  r = Respond(n, n.MakeKey(Role::kEnroller), id, Blinking());
  EXPECT_EQ(r.status, 404) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "challenge_not_found");
  // Bounded input, refused before the challenge is spent.
  json many = json::array();
  for (int i = 0; i < 49; ++i) many.push_back(Frames({Img("Angelina_Jolie", 3)})[0]);
  r = Respond(n, k1, id, many);
  EXPECT_EQ(r.status, 413) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "too_many_images");
  r = Respond(n, k1, id, Blinking(), 5);
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "invalid_frame_interval_ms");
  r = n.Post("/v1/kiosks/k1/challenges/" + id + "/responses", k1, {{"frame_interval_ms", 100}});
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "missing_frames");
  // Past its time to live (two minutes), even a right answer is refused.
  clock.AdvanceMs(120'001);
  r = Respond(n, k1, id, Blinking());
  EXPECT_EQ(r.status, 409) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "challenge_expired");
  r = n.Post("/v1/subjects", k1,
             {{"id", "late"}, {"consent", kConsent}, {"challenge_id", id},
              {"images", Frames({Img("Angelina_Jolie", 3)})}});
  EXPECT_EQ(r.status, 409) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "challenge_expired") << r.raw;
  // A gate key has no business here.
  r = n.Post("/v1/kiosks/k1/challenges", n.MakeKey(Role::kGate, {"*"}), json::object());
  EXPECT_EQ(r.status, 403) << r.raw;
}

// Issue 16: an enrolment camera has no calibration, so a burst is judged at the conservative
// offset; one in the unsure band (d9.mp4 from 8 s) enrols only after a passed challenge.
TEST_P(Challenges, AnUnsureEnrolmentBurstEnrolsOnlyAfterAPassedChallenge) {
  Node& n = StartWithOrder({ChallengeAction::kBlink});
  const std::string kiosk = KioskKey(n, "k1");
  const json burst = VideoBurst(videos_ + "/d9.mp4", 8000, 8, 125);
  json body = {{"id", "d9"}, {"consent", kConsent}, {"frame_interval_ms", 125}, {"frames", burst}};
  auto r = n.Post("/v1/subjects", kiosk, body);
  ASSERT_EQ(r.status, 422) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "spoof") << r.raw;
  EXPECT_EQ(r.body["liveness"]["unsure"], true) << r.raw;
  // d9 blinks between 8 and 12 s.
  const std::string id = Issue(n, kiosk);
  r = Respond(n, kiosk, id, VideoBurst(videos_ + "/d9.mp4", 8000, 40, 100));
  ASSERT_EQ(r.body["result"], "passed") << r.raw;
  body["challenge_id"] = id;
  r = n.Post("/v1/subjects", kiosk, body);
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["liveness"]["unsure"], true) << r.raw;
}

INSTANTIATE_TEST_SUITE_P(Stores, Challenges, ::testing::Values("sqlite", "postgres"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace facepay::testing
