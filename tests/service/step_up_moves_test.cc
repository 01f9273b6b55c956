// Issue 16, item 5: a burst whose liveness is unsure (an uncalibrated camera) at a gate whose
// screen shows prompts steps up with movements drawn by the server, not only a code; the person
// who follows them with the face the burst matched passes, once. A still photo of that person,
// or someone else following the movements, does not: the keypad stays and nothing moves. The
// order is injected (d9.mp4 blinks between 8 and 12 s; production draws it from a CSPRNG).
#include "flows_fixture.h"

namespace facepay::testing {
namespace {

using service::Role;
using vision::ChallengeAction;

class StepUpMoves : public ServiceFlows {
 protected:
  void SetUp() override {
    ServiceFlows::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    FACEPAY_DATA_PATH_OR_RETURN(videos, "videos");
    videos_ = videos;
    order_ = std::make_unique<flows::FixedChallengeOrder>(std::vector<ChallengeAction>{ChallengeAction::kBlink});
    NodeOptions o;
    o.challenge_order = order_.get();
    n_ = &StartNodeWith(o);
    admin_ = n_->MakeKey(Role::kAdmin);
    gate_ = n_->MakeKey(Role::kGate, {"*"});
    const std::string enroller = n_->MakeKey(Role::kEnroller);
    ASSERT_EQ(n_->Post("/v1/accounts", enroller, {{"id", "acct:d9"}}).status, 201);
    ASSERT_EQ(n_->Post("/v1/accounts/acct:d9/topups", enroller,
                       {{"idempotency_key", "open"}, {"amount_minor", 1000}}).status, 200);
    // d9 from 16 s is live even at the conservative offset: it enrols without a challenge.
    auto r = n_->Post("/v1/subjects", enroller,
                      {{"id", "d9"}, {"consent", {{"text_version", "v1"}, {"channel", "kiosk"}}},
                       {"account_id", "acct:d9"}, {"phone_last4", "4321"}, {"frame_interval_ms", 125},
                       {"frames", VideoBurst(videos_ + "/d9.mp4", 16000, 8, 125)}});
    ASSERT_EQ(r.status, 201) << r.raw;
  }
  // An unsure burst of d9 at the uncalibrated g2: a step-up that offers movements.
  std::string UnsurePassage(const std::string& event_id) {
    auto r = n_->Post("/v1/gates/g2/passages", gate_,
                      {{"event_id", event_id}, {"frame_interval_ms", 125},
                       {"frames", VideoBurst(videos_ + "/d9.mp4", 8000, 8, 125)}});
    EXPECT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["decision"]["outcome"], "step_up") << r.raw;
    EXPECT_EQ(r.body["challenge"]["movements"]["actions"], json::array({"blink"})) << r.raw;
    EXPECT_NE(r.body["challenge"]["factors"].dump().find("movements"), std::string::npos) << r.raw;
    return r.body["challenge"].value("id", "");
  }
  Node::Res Moves(const std::string& id, const json& frames) {
    return n_->Post("/v1/gates/g2/passages/" + id + "/movements", gate_,
                    {{"frames", frames}, {"frame_interval_ms", 100}});
  }
  json Blinking(const std::string& clip, double from_ms) {
    return VideoBurst(videos_ + "/" + clip, from_ms, 40, 100);
  }

  std::string videos_, admin_, gate_;
  std::unique_ptr<flows::FixedChallengeOrder> order_;  // outlives the node (set before it)
  Node* n_ = nullptr;
};

TEST_P(StepUpMoves, ThePersonWhoFollowsTheMovementsPassesOnceAndARetryIsAnsweredAsBefore) {
  const std::string id = UnsurePassage("m1");
  EXPECT_EQ(Balance(*n_, admin_, "acct:d9"), 1000);  // nothing charged while unsure
  const json frames = Blinking("d9.mp4", 8000);
  auto r = Moves(id, frames);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["decision"]["outcome"], "accept") << r.raw;
  EXPECT_EQ(r.body["movements"]["result"], "passed") << r.raw;
  EXPECT_EQ(r.body["settlement"]["open_gate"], true) << r.raw;
  EXPECT_FALSE(r.raw.find("score") != std::string::npos) << "a gate sees no score: " << r.raw;
  const int64_t after = Balance(*n_, admin_, "acct:d9");
  EXPECT_LT(after, 1000);
  // The same frames again (a lost answer): the same answer, no second fare.
  auto again = Moves(id, frames);
  ASSERT_EQ(again.status, 200) << again.raw;
  EXPECT_EQ(again.body["replayed"], true) << again.raw;
  json first = r.body;
  first["replayed"] = true;
  EXPECT_EQ(again.body, first);
  // A code after it is answered with the completed step-up, no second fare either.
  auto code = n_->Post("/v1/gates/g2/passages/" + id + "/step-up", gate_, {{"phone_last4", "4321"}});
  ASSERT_EQ(code.status, 200) << code.raw;
  EXPECT_EQ(code.body["settlement"], r.body["settlement"]) << code.raw;
  EXPECT_EQ(Balance(*n_, admin_, "acct:d9"), after);
  // Audited with what was seen and the movements' CNN score.
  auto audit = n_->Call("GET", "/v1/audit?action=passage_step_up", admin_);
  ASSERT_EQ(audit.status, 200);
  ASSERT_EQ(audit.body["items"].size(), 1u) << audit.raw;
  const json& d = audit.body["items"][0]["detail"];
  EXPECT_EQ(d["factor"], "movements") << d.dump();
  EXPECT_EQ(d["movements"]["result"], "passed") << d.dump();
  EXPECT_TRUE(d["movements"].contains("cnn_raw_logit")) << d.dump();
  EXPECT_GE(d["verify_scores"]["d9"].get<float>(), 0.41f) << d.dump();
}

TEST_P(StepUpMoves, AStillPhotoOrAnotherFaceFollowingTheMovementsDoesNotPassAndTheKeypadStays) {
  // A still photo of the person (the burst's face, no movement).
  const std::string id = UnsurePassage("m2");
  const json one = VideoBurst(videos_ + "/d9.mp4", 8000, 1, 100);
  json still = json::array();
  for (int i = 0; i < 30; ++i) still.push_back(one[0]);
  auto r = Moves(id, still);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["decision"]["outcome"], "step_up") << r.raw;
  EXPECT_EQ(r.body["movements"]["result"], "failed") << r.raw;
  EXPECT_EQ(r.body["attempts_left"], 3) << r.raw;
  EXPECT_FALSE(r.body.contains("settlement")) << r.raw;
  EXPECT_EQ(Balance(*n_, admin_, "acct:d9"), 1000);
  // One response per step-up, even with other frames.
  r = Moves(id, Blinking("d9.mp4", 8000));
  EXPECT_EQ(r.status, 409) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "challenge_used") << r.raw;
  EXPECT_EQ(Balance(*n_, admin_, "acct:d9"), 1000);
  // The keypad still works: the person's digits pass them.
  r = n_->Post("/v1/gates/g2/passages/" + id + "/step-up", gate_, {{"phone_last4", "4321"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["decision"]["outcome"], "accept") << r.raw;
  const int64_t after = Balance(*n_, admin_, "acct:d9");
  EXPECT_LT(after, 1000);

  // Someone else (d3) following the movements of d9's step-up.
  const std::string other = UnsurePassage("m3");
  r = Moves(other, Blinking("d3.mp4", 0));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["decision"]["outcome"], "step_up") << r.raw;
  EXPECT_EQ(r.body["movements"]["failure"], "face_mismatch") << r.raw;
  EXPECT_EQ(Balance(*n_, admin_, "acct:d9"), after);
  auto audit = n_->Call("GET", "/v1/audit?action=passage_step_up", admin_);
  int failed = 0;
  for (const auto& it : audit.body["items"]) {
    if (it["detail"].value("factor", "") == "movements") {
      ++failed;
      EXPECT_EQ(it["outcome"], "step_up") << it.dump();
    }
  }
  EXPECT_EQ(failed, 2) << audit.raw;
}

TEST_P(StepUpMoves, ATillWithoutPromptsOffersACodeOnlyAndRefusesMovements) {
  const std::string till = n_->MakeKey(Role::kMerchant, {"t1"});
  auto r = n_->Post("/v1/tills/t1/payments", till,
                    {{"order_id", "o1"}, {"amount_minor", 250}, {"frame_interval_ms", 125},
                     {"frames", VideoBurst(videos_ + "/d9.mp4", 8000, 8, 125)}});
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["decision"]["outcome"], "step_up") << r.raw;
  EXPECT_FALSE(r.body["challenge"].contains("movements")) << r.raw;
  const std::string id = r.body["challenge"]["id"];
  r = n_->Post("/v1/tills/t1/payments/" + id + "/movements", till,
               {{"frames", Blinking("d9.mp4", 8000)}, {"frame_interval_ms", 100}});
  EXPECT_EQ(r.status, 409) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "challenge_not_offered") << r.raw;
  // Bad input is refused before anything is spent.
  const std::string moves = UnsurePassage("m4");
  r = n_->Post("/v1/gates/g2/passages/" + moves + "/movements", gate_, {{"frame_interval_ms", 100}});
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "missing_frames") << r.raw;
  r = n_->Post("/v1/gates/g2/passages/" + moves + "/movements", gate_,
               {{"frames", Blinking("d9.mp4", 8000)}, {"frame_interval_ms", 5}});
  EXPECT_EQ(r.body["error"]["code"], "invalid_frame_interval_ms") << r.raw;
  r = Moves(moves, Blinking("d9.mp4", 8000));
  EXPECT_EQ(r.body["decision"]["outcome"], "accept") << r.raw;
}

INSTANTIATE_TEST_SUITE_P(Stores, StepUpMoves, ::testing::Values("sqlite", "postgres"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace facepay::testing
