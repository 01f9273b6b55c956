// The service through its real surface: a server on 127.0.0.1:0, a real HTTP client, real
// images, real stores — every test runs over SQLite and over PostgreSQL.
#include <atomic>
#include <map>
#include <set>
#include <mutex>
#include <optional>
#include <chrono>
#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "flows_fixture.h"

namespace facepay::testing {
namespace {

using service::Role;


TEST_P(ServiceFlows, GatePassageChargesOnceAcrossRetriesAndRejectsAPrintedPhoto) {
  Node& n = StartNode();
  const std::string admin = n.MakeKey(Role::kAdmin);
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string gate = n.MakeKey(Role::kGate, {"g1"});
  const std::string acct =
      EnrollWithAccount(n, enroller, "angelina", "Angelina_Jolie", {3, 4, 8}, 1000);

  const json passage = {{"event_id", "evt-1"}, {"frames", Frames({Img("Angelina_Jolie", 15)})}};
  auto r = n.Post("/v1/gates/g1/passages", gate, passage);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["decision"]["outcome"], "accept") << r.raw;
  EXPECT_EQ(r.body["decision"]["subject_id"], "angelina");
  EXPECT_EQ(r.body["settlement"]["fare_minor"], 250);
  EXPECT_TRUE(r.body["settlement"]["open_gate"].get<bool>());
  EXPECT_FALSE(r.body["replayed"].get<bool>());
  for (const char* stage : {"analyze", "search", "decide", "settle", "total"}) {
    EXPECT_TRUE(r.body["timings_ms"].contains(stage)) << stage;
  }
  EXPECT_EQ(Balance(n, admin, acct), 750);

  // The gate retries (lost response): same answer, no second charge.
  auto again = n.Post("/v1/gates/g1/passages", gate, passage);
  ASSERT_EQ(again.status, 200) << again.raw;
  EXPECT_TRUE(again.body["replayed"].get<bool>());
  EXPECT_EQ(again.body["settlement"], r.body["settlement"]);
  EXPECT_EQ(Balance(n, admin, acct), 750);

  // Same event id, other frame: refused, not charged.
  auto reused = n.Post("/v1/gates/g1/passages", gate,
                       {{"event_id", "evt-1"}, {"frames", Frames({Img("Angelina_Jolie", 16)})}});
  EXPECT_EQ(reused.status, 409) << reused.raw;
  EXPECT_EQ(reused.body["error"]["code"], "idempotency_key_reused");

  // Concurrent duplicates of a new event (another station, inside the transfer window): one
  // evaluation wins, every twin gets its answer.
  std::vector<std::thread> ts;
  std::mutex mu;
  std::vector<json> answers;
  const json dup = {{"event_id", "evt-dup"}, {"frames", Frames({Img("Angelina_Jolie", 15)})}};
  const std::string gate3 = n.MakeKey(Role::kGate, {"g3"});
  for (int i = 0; i < 6; ++i) {
    ts.emplace_back([&] {
      auto x = n.Post("/v1/gates/g3/passages", gate3, dup);
      std::lock_guard<std::mutex> lock(mu);
      answers.push_back(x.body);
    });
  }
  for (auto& t : ts) t.join();
  int fresh = 0;
  for (const auto& x : answers) {
    ASSERT_EQ(x["decision"]["outcome"], "accept") << x.dump();
    EXPECT_EQ(x["settlement"], answers[0]["settlement"]);
    fresh += !x["replayed"].get<bool>();
  }
  EXPECT_EQ(fresh, 1) << "exactly one evaluation is the answer";
  EXPECT_EQ(answers[0]["settlement"]["reason"], "transfer") << answers[0].dump();
  EXPECT_LE(*n.ledger().store().CountTransactionsWithKey("gate:g3:evt-dup"), 1);
  auto txns = n.Call("GET", "/v1/accounts/" + acct + "/transactions", admin);
  ASSERT_EQ(txns.status, 200);
  int fares = 0;
  for (const auto& t : txns.body["items"]) fares += t["kind"] == "fare";
  EXPECT_EQ(fares, 1) << txns.raw;
  EXPECT_EQ(Balance(n, admin, acct), 750);

  // A printed photo (NUAA print attack) is rejected as a spoof.
  auto spoof = n.Post("/v1/gates/g1/passages", gate,
                      {{"event_id", "evt-print"},
                       {"frames", Frames({nuaa_ + "/0001_00_00_01_102.jpg"})}});
  ASSERT_EQ(spoof.status, 200) << spoof.raw;
  EXPECT_EQ(spoof.body["decision"]["outcome"], "reject");
  EXPECT_EQ(spoof.body["decision"]["reason"], "spoof") << spoof.raw;

  // Audited, with scores, never images.
  auto audit = n.Call("GET", "/v1/audit?action=passage", admin);
  ASSERT_EQ(audit.status, 200);
  EXPECT_GE(audit.body["items"].size(), 3u);
  EXPECT_EQ(audit.raw.find(passage["frames"][0].get<std::string>().substr(0, 64)),
            std::string::npos);
  auto metrics = n.Call("GET", "/metrics", admin);
  EXPECT_NE(metrics.raw.find("facepay_decisions_total{flow=\"passage\",outcome=\"accept\""),
            std::string::npos);
  EXPECT_NE(metrics.raw.find("facepay_http_request_duration_seconds_bucket"), std::string::npos);
}

TEST_P(ServiceFlows, TillStepUpCompletesWithTheRightDigitsOnly) {
  // Accept set above any genuine score: every match lands in the step-up band.
  biometrics::PolicyThresholds p;
  p.accept = 0.99f;
  p.step_up = 0.3f;
  p.second_factor = 0.3f;
  Node& n = StartNode(p);
  const std::string admin = n.MakeKey(Role::kAdmin);
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string till = n.MakeKey(Role::kMerchant, {"t1"});
  const std::string acct =
      EnrollWithAccount(n, enroller, "alvaro", "Alvaro_Uribe", {7, 10}, 5000, "4321");
  auto r = n.Post("/v1/tills/t1/payments", till,
                  {{"order_id", "o-1"}, {"amount_minor", 1299},
                   {"frames", Frames({Img("Alvaro_Uribe", 26)})}});
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["decision"]["outcome"], "step_up") << r.raw;
  const std::string ch = r.body["challenge"]["id"];
  EXPECT_EQ(r.raw.find("alvaro"), std::string::npos) << "candidates are never shown to a till";

  auto wrong = n.Post("/v1/tills/t1/payments/" + ch + "/step-up", till, {{"phone_last4", "1111"}});
  ASSERT_EQ(wrong.status, 200) << wrong.raw;
  EXPECT_EQ(wrong.body["decision"]["outcome"], "reject");
  EXPECT_EQ(wrong.body["attempts_left"], 2);
  EXPECT_EQ(Balance(n, admin, acct), 5000);

  const std::string till2 = n.MakeKey(Role::kMerchant, {"t2"});
  auto other_till = n.Post("/v1/tills/t2/payments/" + ch + "/step-up", till2, {{"phone_last4", "4321"}});
  EXPECT_EQ(other_till.status, 404) << "a challenge is bound to its till";

  auto right = n.Post("/v1/tills/t1/payments/" + ch + "/step-up", till, {{"phone_last4", "4321"}});
  ASSERT_EQ(right.status, 200) << right.raw;
  EXPECT_EQ(right.body["decision"]["outcome"], "accept") << right.raw;
  EXPECT_EQ(right.body["settlement"]["outcome"], "approved") << right.raw;
  EXPECT_EQ(Balance(n, admin, acct), 5000 - 1299);

  // A retry of the completed step-up (the till lost the answer) gets the same answer again,
  // and no second charge.
  auto reuse = n.Post("/v1/tills/t1/payments/" + ch + "/step-up", till, {{"phone_last4", "4321"}});
  EXPECT_EQ(reuse.status, 200) << reuse.raw;
  EXPECT_TRUE(reuse.body["replayed"].get<bool>()) << reuse.raw;
  EXPECT_EQ(reuse.body["settlement"]["receipt"]["txn_id"], right.body["settlement"]["receipt"]["txn_id"]);
  EXPECT_EQ(Balance(n, admin, acct), 5000 - 1299);

  // Refund by the merchant.
  const int64_t txn = right.body["settlement"]["receipt"]["txn_id"];
  auto refund = n.Post("/v1/tills/t1/refunds", till, {{"refund_id", "rf-1"}, {"txn_id", txn}, {"amount_minor", 299}});
  ASSERT_EQ(refund.status, 200) << refund.raw;
  EXPECT_EQ(Balance(n, admin, acct), 5000 - 1000);
}

TEST_P(ServiceFlows, ACardAccountPaysThroughTheProviderOnceAndADeclineMovesNoMoney) {
  Node& n = StartNode();
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string till = n.MakeKey(Role::kMerchant, {"t1"});
  auto r = n.Post("/v1/accounts", enroller,
                  {{"id", "card:angelina"}, {"kind", "card"}, {"card_token", "tok_visa_4242"},
                   {"card_last4", "4242"}, {"card_brand", "visa"}});
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.raw.find("tok_visa_4242"), std::string::npos) << "the token is not echoed";
  r = n.Post("/v1/subjects", enroller,
             {{"id", "angelina"},
              {"consent", {{"text_version", "v1"}, {"channel", "kiosk"}}},
              {"account_id", "card:angelina"},
              {"images", Frames({Img("Angelina_Jolie", 3), Img("Angelina_Jolie", 4)})}});
  ASSERT_EQ(r.status, 201) << r.raw;

  const json pay = {{"order_id", "card-o-1"}, {"amount_minor", 1999},
                    {"frames", Frames({Img("Angelina_Jolie", 15)})}};
  r = n.Post("/v1/tills/t1/payments", till, pay);
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["decision"]["outcome"], "accept") << r.raw;
  EXPECT_EQ(r.body["settlement"]["outcome"], "approved") << r.raw;
  auto again = n.Post("/v1/tills/t1/payments", till, pay);
  ASSERT_EQ(again.status, 200) << again.raw;
  EXPECT_EQ(again.body["settlement"], r.body["settlement"]);
  EXPECT_EQ(n.provider().approved_captures(), 1) << "a retried order captures the card once";
  EXPECT_EQ(n.provider().captured_minor(), 1999);

  n.provider().SetMode(payments::SimulatedProvider::Mode::kDecline);
  r = n.Post("/v1/tills/t1/payments", till,
             {{"order_id", "card-o-2"}, {"amount_minor", 500},
              {"frames", Frames({Img("Angelina_Jolie", 16)})}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["settlement"]["outcome"], "declined") << r.raw;
  EXPECT_EQ(r.body["settlement"]["decline_reason"], "card_declined") << r.raw;
  EXPECT_EQ(n.provider().captured_minor(), 1999);

  // The card network is down: a retryable 503, and the retry after it recovers captures once.
  n.provider().SetMode(payments::SimulatedProvider::Mode::kTimeout);
  const json pay3 = {{"order_id", "card-o-3"}, {"amount_minor", 700},
                     {"frames", Frames({Img("Angelina_Jolie", 16)})}};
  r = n.Post("/v1/tills/t1/payments", till, pay3);
  EXPECT_EQ(r.status, 503) << r.raw;
  n.provider().SetMode(payments::SimulatedProvider::Mode::kApprove);
  r = n.Post("/v1/tills/t1/payments", till, pay3);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["settlement"]["outcome"], "approved") << r.raw;
  EXPECT_EQ(n.provider().captured_minor(), 1999 + 700);
}

TEST_P(ServiceFlows, AnEnrollmentBurstIsJudgedBySequenceLivenessAndAReplayEnrollsNothing) {
  FACEPAY_DATA_PATH_OR_RETURN(videos, "videos");
  Node& n = StartNode();
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const json consent = {{"text_version", "v1"}, {"channel", "kiosk"}};
  // A phone screen replaying a person: the burst is an attack, nothing is enrolled.
  auto r = n.Post("/v1/subjects", enroller,
                  {{"id", "replayed"}, {"consent", consent}, {"frame_interval_ms", 125},
                   {"frames", VideoBurst(videos + "/apfol_replay_phone2.webm", 1000, 8, 125)}});
  ASSERT_EQ(r.status, 422) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "spoof") << r.raw;
  EXPECT_EQ(r.body["liveness"]["mode"], "sequence") << r.raw;
  EXPECT_EQ(n.Call("GET", "/v1/subjects/replayed", enroller).status, 404);

  // A live person on an ordinary camera: sequence liveness attests the burst and the best
  // frames are enrolled (the one-frame passive model alone refuses most such frames).
  r = n.Post("/v1/subjects", enroller,
             {{"id", "live-d3"}, {"consent", consent}, {"frame_interval_ms", 125},
              {"frames", VideoBurst(videos + "/d3.mp4", 1000, 8, 125)}});
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["liveness"]["mode"], "sequence") << r.raw;
  EXPECT_GE(r.body["templates"].get<int>(), 1) << r.raw;
  EXPECT_EQ(n.gallery().TemplatesOf("live-d3").size(), r.body["templates"].get<size_t>());

  // Uploaded photos (not a burst) keep the per-image checks.
  r = n.Post("/v1/subjects", enroller,
             {{"id", "photo"}, {"consent", consent},
              {"images", Frames({Img("Angelina_Jolie", 3)})}});
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["liveness"]["mode"], "per_image") << r.raw;
}

// Issue 16: a gate without a camera profile judged every burst at offset 0, the scale on which
// held-out phone cameras accepted 53% of prints. It is now judged at the model's conservative
// offset; a burst that would pass only on a friendlier camera ("unsure") steps up to a second
// factor, never a silent accept. d9.mp4 from 8 s is such a burst (live at 0, not at -7.0).
TEST_P(ServiceFlows, AnUncalibratedGateStepsUpAnUnsureBurstInsteadOfAcceptingIt) {
  FACEPAY_DATA_PATH_OR_RETURN(videos, "videos");
  Node& n = StartNode();
  const std::string admin = n.MakeKey(Role::kAdmin);
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string gate = n.MakeKey(Role::kGate, {"*"});
  ASSERT_EQ(n.Post("/v1/accounts", enroller, {{"id", "acct:d9"}}).status, 201);
  ASSERT_EQ(n.Post("/v1/accounts/acct:d9/topups", enroller,
                   {{"idempotency_key", "open"}, {"amount_minor", 1000}}).status, 200);
  // d9 from 16 s is live even at the conservative offset: it enrols without a challenge.
  auto r = n.Post("/v1/subjects", enroller,
                  {{"id", "d9"}, {"consent", {{"text_version", "v1"}, {"channel", "kiosk"}}},
                   {"account_id", "acct:d9"}, {"phone_last4", "4321"}, {"frame_interval_ms", 125},
                   {"frames", VideoBurst(videos + "/d9.mp4", 16000, 8, 125)}});
  ASSERT_EQ(r.status, 201) << r.raw;
  // Said on every health check, and counted on /metrics: g2 has no calibration, g1 has.
  auto health = n.Call("GET", "/healthz", "");
  ASSERT_EQ(health.status, 200) << health.raw;
  const auto cams = health.body["uncalibrated_cameras"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(cams.begin(), cams.end(), "gate:g2"), cams.end()) << health.raw;
  EXPECT_EQ(std::find(cams.begin(), cams.end(), "gate:g1"), cams.end()) << health.raw;
  EXPECT_EQ(health.body["warnings"].size(), 1u) << health.raw;
  EXPECT_NE(n.Call("GET", "/metrics", admin).raw.find("facepay_uncalibrated_cameras " + std::to_string(cams.size())),
            std::string::npos);
  const json unsure = VideoBurst(videos + "/d9.mp4", 8000, 8, 125);
  // g2 has no camera profile (config/terminals/demo.json): step_up, nothing charged.
  r = n.Post("/v1/gates/g2/passages", admin, {{"event_id", "u1"}, {"frames", unsure}, {"frame_interval_ms", 125}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["decision"]["outcome"], "step_up") << r.raw;
  EXPECT_EQ(r.body["decision"]["rule"], "liveness_unsure") << r.raw;
  EXPECT_EQ(r.body["probe"]["liveness_unsure"], true) << r.raw;
  EXPECT_EQ(Balance(n, admin, "acct:d9"), 1000);
  // The person's phone digits complete it: one fare.
  const std::string ch = r.body["challenge"]["id"];
  r = n.Post("/v1/gates/g2/passages/" + ch + "/step-up", gate, {{"phone_last4", "4321"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["decision"]["outcome"], "accept") << r.raw;
  const int64_t after = Balance(n, admin, "acct:d9");
  EXPECT_LT(after, 1000);
  // The same burst at g1, whose camera is calibrated, is judged on its profile: no unsure band.
  r = n.Post("/v1/gates/g1/passages", admin, {{"event_id", "u2"}, {"frames", unsure}, {"frame_interval_ms", 125}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_NE(r.body["decision"]["rule"], "liveness_unsure") << r.raw;
  EXPECT_FALSE(r.body["probe"].contains("liveness_unsure")) << r.raw;
  // The audit keeps the liveness scores of the unsure passage.
  auto audit = n.Call("GET", "/v1/audit?action=passage", admin);
  ASSERT_EQ(audit.status, 200);
  bool seen = false;
  for (const auto& it : audit.body["items"]) {
    if (it["detail"]["probe"].value("liveness_unsure", false)) {
      seen = true;
      EXPECT_TRUE(it["detail"]["probe"].contains("liveness")) << it.dump();
    }
  }
  EXPECT_TRUE(seen) << audit.raw;
}

TEST_P(ServiceFlows, ErasureRemovesTheFaceEverywhereAndKeepsThePaymentHistory) {
  Node& n = StartNode();
  const std::string admin = n.MakeKey(Role::kAdmin);
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string gate = n.MakeKey(Role::kGate, {"*"});
  const std::string acct = EnrollWithAccount(n, enroller, "angelina", "Angelina_Jolie", {3, 4}, 1000);
  auto r = n.Post("/v1/gates/g1/passages", gate,
                  {{"event_id", "e1"}, {"frames", Frames({Img("Angelina_Jolie", 15)})}});
  ASSERT_EQ(r.body["decision"]["outcome"], "accept") << r.raw;
  auto del = n.Call("DELETE", "/v1/subjects/angelina", enroller);
  ASSERT_EQ(del.status, 200) << del.raw;
  EXPECT_EQ(del.body["templates_removed"], 2);
  EXPECT_EQ(n.Call("GET", "/v1/subjects/angelina", admin).status, 404);
  EXPECT_EQ(n.Call("DELETE", "/v1/subjects/angelina", enroller).status, 404);
  r = n.Post("/v1/gates/g3/passages", gate,
             {{"event_id", "e2"}, {"frames", Frames({Img("Angelina_Jolie", 15)})}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["decision"]["outcome"], "reject");
  EXPECT_EQ(r.body["decision"]["reason"], "no_match");
  auto txns = n.Call("GET", "/v1/accounts/" + acct + "/transactions", admin);
  EXPECT_EQ(txns.body["items"].size(), 2u) << "top-up and fare stay: " << txns.raw;
  auto audit = n.Call("GET", "/v1/audit?action=erase&target=angelina", admin);
  EXPECT_EQ(audit.body["items"].size(), 1u);
}

TEST_P(ServiceFlows, EnrolmentImagesAreKeptOnlyWhenTurnedOnSealedAuditedAndErased) {
  const auto kept_ids = [](const json& enrolled) {
    std::map<std::string, std::string> by_template;  // template id -> upload field name
    for (const auto& im : enrolled["images"]) {
      if (im.value("kept", false)) by_template[im["template_id"].get<std::string>()] = im["path"];
    }
    return by_template;
  };
  {  // Off (the default): nothing kept, nothing to fetch.
    Node& off = StartNode();
    const std::string enroller = off.MakeKey(Role::kEnroller);
    const std::string auditor = off.MakeKey(Role::kAuditor);
    json body = {{"id", "alvaro"},
                 {"consent", {{"text_version", "v1"}, {"channel", "kiosk"}}},
                 {"images", Frames({Img("Alvaro_Uribe", 10)})}};
    auto r = off.Post("/v1/subjects", enroller, body);
    ASSERT_EQ(r.status, 201) << r.raw;
    const auto ids = kept_ids(r.body);
    ASSERT_EQ(ids.size(), 1u) << r.raw;
    auto g = off.Call("GET", "/v1/subjects/alvaro", auditor);
    EXPECT_TRUE(g.body["kept_images"].empty()) << g.raw;
    auto im = off.Call("GET", "/v1/subjects/alvaro/images/" + ids.begin()->first, auditor);
    EXPECT_EQ(im.status, 404);
    EXPECT_EQ(im.body["error"]["code"], "image_not_kept") << im.raw;
  }
  nodes_.clear();

  Node& n = StartNode({}, /*keep_images=*/true);
  const std::string admin = n.MakeKey(Role::kAdmin);
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string auditor = n.MakeKey(Role::kAuditor);
  const std::vector<std::string> files = {Img("Angelina_Jolie", 3), Img("Angelina_Jolie", 4)};
  auto r = n.Post("/v1/subjects", enroller,
                  {{"id", "angelina"},
                   {"consent", {{"text_version", "v1"}, {"channel", "kiosk"}}},
                   {"images", Frames(files)}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const auto ids = kept_ids(r.body);
  ASSERT_EQ(ids.size(), 2u) << r.raw;
  auto g = n.Call("GET", "/v1/subjects/angelina", auditor);
  ASSERT_EQ(g.status, 200) << g.raw;
  EXPECT_EQ(g.body["kept_images"].size(), 2u) << g.raw;
  for (const auto& [template_id, field] : ids) {
    const std::string file = files[field == "images[0]" ? 0 : 1];
    auto im = n.Call("GET", "/v1/subjects/angelina/images/" + template_id, auditor);
    ASSERT_EQ(im.status, 200) << im.raw.substr(0, 200);
    EXPECT_TRUE(im.raw == ReadBytes(file)) << "the upload, byte for byte: " << field;
    EXPECT_EQ(n.Call("GET", "/v1/subjects/angelina/images/" + template_id, enroller).status, 403);
  }
  // Another subject's path, a malformed id, an unknown subject.
  EXPECT_EQ(n.Call("GET", "/v1/subjects/angelina/images/12x", auditor).body["error"]["code"],
            "invalid_template_id");
  EXPECT_EQ(n.Call("GET", "/v1/subjects/angelina/images/1", auditor).body["error"]["code"],
            "image_not_kept");
  EXPECT_EQ(n.Call("GET", "/v1/subjects/nobody/images/1", auditor).body["error"]["code"],
            "subject_not_found");
  // Sealed with the template key and bound to its template: an image moved to another
  // template's row does not open (500, audited as template_tampered), never served as that one.
  const std::string first = ids.begin()->first, second = std::next(ids.begin())->first;
  ASSERT_TRUE(loc_->ExecSql("DELETE FROM template_images WHERE template_id = " + second).ok());
  ASSERT_TRUE(loc_->ExecSql("UPDATE template_images SET template_id = " + second +
                            " WHERE template_id = " + first).ok());
  auto moved = n.Call("GET", "/v1/subjects/angelina/images/" + second, auditor);
  EXPECT_EQ(moved.status, 500) << moved.raw;
  EXPECT_EQ(moved.body["error"]["code"], "internal_error");
  auto audit = n.Call("GET", "/v1/audit?action=image_read&target=angelina", admin);
  ASSERT_EQ(audit.status, 200) << audit.raw;
  std::set<std::string> outcomes;
  for (const auto& item : audit.body["items"]) outcomes.insert(item["outcome"].get<std::string>());
  EXPECT_TRUE(outcomes.count("ok") && outcomes.count("template_tampered")) << audit.raw;

  // Erasure takes the images with the templates.
  ASSERT_EQ(n.Call("DELETE", "/v1/subjects/angelina", enroller).status, 200);
  EXPECT_EQ(n.Call("GET", "/v1/subjects/angelina/images/" + second, auditor).body["error"]["code"],
            "subject_not_found");
  EXPECT_TRUE(n.gallery().store().ListSubjectTemplates("angelina")->empty());
  EXPECT_FALSE(*n.gallery().store().GetTemplateImage(std::stoll(second)));
}

TEST_P(ServiceFlows, SubjectsAreListedInPagesAndGainImagesWithTheEnrollmentChecks) {
  Node& n = StartNode();
  const std::string admin = n.MakeKey(Role::kAdmin);
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string auditor = n.MakeKey(Role::kAuditor);
  EnrollWithAccount(n, enroller, "colin", "Colin_Powell", {38, 74}, 100);
  EnrollWithAccount(n, enroller, "angelina", "Angelina_Jolie", {3, 4}, 100);
  EnrollWithAccount(n, enroller, "alvaro", "Alvaro_Uribe", {7, 10}, 100);

  auto page = n.Call("GET", "/v1/subjects?limit=2", auditor);
  ASSERT_EQ(page.status, 200) << page.raw;
  ASSERT_EQ(page.body["items"].size(), 2u) << page.raw;
  EXPECT_EQ(page.body["items"][0]["id"], "alvaro");
  EXPECT_EQ(page.body["items"][0]["display_name"], "Alvaro_Uribe");
  EXPECT_GT(page.body["items"][0]["created_at_ms"].get<int64_t>(), 0);
  EXPECT_EQ(page.body["items"][1]["id"], "angelina");
  EXPECT_EQ(page.body["items"][1]["templates"], 2);
  ASSERT_EQ(page.body["next_after"], "angelina") << page.raw;
  auto last = n.Call("GET", "/v1/subjects?limit=2&after=angelina", enroller);
  ASSERT_EQ(last.status, 200) << last.raw;
  ASSERT_EQ(last.body["items"].size(), 1u) << last.raw;
  EXPECT_EQ(last.body["items"][0]["id"], "colin");
  EXPECT_FALSE(last.body.contains("next_after")) << "a short page is the last";
  EXPECT_EQ(n.Call("GET", "/v1/subjects", auditor).body["items"].size(), 3u) << "default limit";
  EXPECT_EQ(n.Call("GET", "/v1/subjects?limit=0", auditor).body["error"]["code"], "invalid_limit");
  EXPECT_EQ(n.Call("GET", "/v1/subjects?after=a%20b", auditor).body["error"]["code"],
            "invalid_after");

  // Another photo of the same person: added, the subject has one template more.
  auto add = n.Post("/v1/subjects/angelina/images", enroller,
                    {{"images", Frames({Img("Angelina_Jolie", 8)})}});
  ASSERT_EQ(add.status, 201) << add.raw;
  EXPECT_EQ(add.body["status"], "enrolled");
  EXPECT_EQ(add.body["subject_id"], "angelina");
  EXPECT_EQ(add.body["templates"], 1);
  EXPECT_EQ(add.body["templates_total"], 3);
  EXPECT_TRUE(add.body["images"][0]["kept"].get<bool>());
  auto got = n.Call("GET", "/v1/subjects/angelina", auditor);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body["templates"], 3) << got.raw;

  // A photo of someone else (here already enrolled as alvaro): it does not match angelina's
  // own templates, so it is refused before anything else, nothing added.
  auto dup = n.Post("/v1/subjects/angelina/images", enroller,
                    {{"images", Frames({Img("Alvaro_Uribe", 10)})}});
  ASSERT_EQ(dup.status, 422) << dup.raw;
  EXPECT_EQ(dup.body["error"]["code"], "images_do_not_match_subject");
  EXPECT_EQ(n.Call("GET", "/v1/subjects/angelina", auditor).body["templates"], 3);

  // Past the per-subject cap (4 templates): refused, nothing added.
  auto full = n.Post("/v1/subjects/angelina/images", enroller,
                     {{"images", Frames({Img("Angelina_Jolie", 15), Img("Angelina_Jolie", 8)})}});
  EXPECT_EQ(full.status, 409) << full.raw;
  EXPECT_EQ(full.body["error"]["code"], "too_many_templates") << full.raw;
  EXPECT_EQ(n.Call("GET", "/v1/subjects/angelina", auditor).body["templates"], 3);

  auto unknown = n.Post("/v1/subjects/nobody/images", enroller,
                        {{"images", Frames({Img("Angelina_Jolie", 8)})}});
  EXPECT_EQ(unknown.status, 404) << unknown.raw;
  EXPECT_EQ(unknown.body["error"]["code"], "subject_not_found");
  auto none = n.Post("/v1/subjects/angelina/images", enroller, {{"images", json::array()}});
  EXPECT_EQ(none.status, 400) << none.raw;

  auto audit = n.Call("GET", "/v1/audit?action=add_images&target=angelina", admin);
  ASSERT_EQ(audit.status, 200) << audit.raw;
  EXPECT_EQ(audit.body["items"].size(), 2u) << "the addition and the duplicate: " << audit.raw;
}

TEST_P(ServiceFlows, AtmVerifiesOneToOneAndBorderMatchesTheDocumentPhoto) {
  Node& n = StartNode();
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string atm = n.MakeKey(Role::kAtm, {"a1"});
  const std::string border = n.MakeKey(Role::kBorder, {"b1"});
  const std::string admin = n.MakeKey(Role::kAdmin);
  const std::string acct = EnrollWithAccount(n, enroller, "alvaro", "Alvaro_Uribe", {7, 10}, 20000);
  const std::string card = IssueAtmCard(n, enroller, acct);
  auto v = n.Post("/v1/atms/a1/verify", atm, {{"atm_card", card}, {"frames", Frames({Img("Alvaro_Uribe", 26)})}});
  ASSERT_EQ(v.status, 200) << v.raw;
  ASSERT_TRUE(v.body["verified"].get<bool>()) << v.raw;
  auto w = n.Post("/v1/atms/a1/withdrawals", atm,
                  {{"verification_id", v.body["verification_id"]}, {"request_id", "w1"}, {"amount_minor", 5000}});
  ASSERT_EQ(w.status, 200) << w.raw;
  EXPECT_EQ(w.body["outcome"], "approved");
  EXPECT_EQ(Balance(n, admin, acct), 15000);
  auto w2 = n.Post("/v1/atms/a1/withdrawals", atm,
                   {{"verification_id", v.body["verification_id"]}, {"request_id", "w2"}, {"amount_minor", 5000}});
  EXPECT_EQ(w2.status, 409) << "one verification, one withdrawal: " << w2.raw;
  auto impostor = n.Post("/v1/atms/a1/verify", atm,
                         {{"atm_card", card}, {"frames", Frames({Img("Angelina_Jolie", 15)})}});
  ASSERT_EQ(impostor.status, 200);
  EXPECT_FALSE(impostor.body["verified"].get<bool>()) << impostor.raw;

  auto ok = n.Post("/v1/borders/b1/checks", border,
                   {{"document_number", "X1234567"},
                    {"document_photo", Base64(ReadBytes(Img("Alvaro_Uribe", 7)))},
                    {"frames", Frames({Img("Alvaro_Uribe", 26)})}});
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(ok.body["decision"], "admitted") << ok.raw;
  auto bad = n.Post("/v1/borders/b1/checks", border,
                    {{"document_number", "X1234567"},
                     {"document_photo", Base64(ReadBytes(Img("Angelina_Jolie", 3)))},
                     {"frames", Frames({Img("Alvaro_Uribe", 26)})}});
  ASSERT_EQ(bad.status, 200) << bad.raw;
  EXPECT_EQ(bad.body["decision"], "referred");
  EXPECT_EQ(bad.body["reason"], "face_mismatch");
  auto audit = n.Call("GET", "/v1/audit?action=border_check", admin);
  EXPECT_EQ(audit.raw.find("X1234567"), std::string::npos) << "document numbers are hashed";
}

TEST_P(ServiceFlows, EveryRoleIsRefusedWhereItDoesNotBelongAndBadKeysAreUnauthenticated) {
  Node& n = StartNodeOnManualClock();
  struct Route {
    std::string method, path;
  };
  const std::vector<Route> routes = {
      {"POST", "/v1/subjects"},        {"GET", "/v1/subjects"},
      {"GET", "/v1/subjects/x"},       {"POST", "/v1/subjects/x/images"},
      {"DELETE", "/v1/subjects/x"},    {"POST", "/v1/accounts"},
      {"GET", "/v1/accounts/x"},       {"POST", "/v1/accounts/x/topups"},
      {"GET", "/v1/accounts/x/transactions"},
      {"POST", "/v1/gates/g1/passages"}, {"POST", "/v1/gates/g1/passages/c/step-up"},
      {"POST", "/v1/tills/t1/payments"}, {"POST", "/v1/tills/t1/payments/c/step-up"},
      {"POST", "/v1/tills/t1/refunds"},  {"POST", "/v1/atms/a1/verify"},
      {"POST", "/v1/atms/a1/withdrawals"}, {"POST", "/v1/borders/b1/checks"},
      {"GET", "/v1/audit"},            {"GET", "/v1/stats"},
      {"GET", "/metrics"},             {"POST", "/v1/watchlist"},
      {"GET", "/v1/subjects/x/images/1"}};
  // Kept enrolment images are for auditors (and admins) only, not for enrolment desks.
  const std::string auditor_only = "/v1/subjects/x/images/1";
  // Which route prefixes each role may reach.
  const std::map<Role, std::vector<std::string>> allowed = {
      {Role::kEnroller, {"/v1/subjects", "/v1/accounts"}},
      {Role::kGate, {"/v1/gates/g1"}},
      {Role::kMerchant, {"/v1/tills/t1"}},
      {Role::kAtm, {"/v1/atms/a1"}},
      {Role::kBorder, {"/v1/borders/b1"}},
      {Role::kAuditor, {"/v1/audit", "/v1/stats", "/metrics", "GET /v1/subjects", "GET /v1/accounts"}}};
  int checked = 0;
  for (const auto& [role, prefixes] : allowed) {
    std::vector<std::string> bind;
    if (service::RoleNeedsBinding(role)) bind = {"g1", "t1", "a1", "b1"};
    const std::string key = n.MakeKey(role, bind);
    for (const Route& r : routes) {
      bool ok = false;
      for (const auto& p : prefixes) {
        const bool method_scoped = p.rfind("GET ", 0) == 0;
        const std::string pref = method_scoped ? p.substr(4) : p;
        if (r.path.rfind(pref, 0) == 0 && (!method_scoped || r.method == "GET")) ok = true;
      }
      if (r.path == auditor_only) ok = role == Role::kAuditor;
      auto res = n.Call(r.method, r.path, key, "{}");
      if (ok) {
        EXPECT_NE(res.status, 403) << service::RoleName(role) << " " << r.method << " " << r.path;
      } else {
        EXPECT_EQ(res.status, 403) << service::RoleName(role) << " " << r.method << " " << r.path
                                   << ": " << res.raw;
        EXPECT_EQ(res.body["error"]["code"], "forbidden_role");
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 60);
  // Bound to another terminal.
  const std::string g2 = n.MakeKey(Role::kGate, {"g2"});
  auto r = n.Post("/v1/gates/g1/passages", g2, {{"event_id", "e"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body["error"]["code"], "terminal_not_bound");
  // Bad, missing and revoked keys.
  EXPECT_EQ(n.Call("GET", "/v1/stats", "").body["error"]["code"], "missing_api_key");
  EXPECT_EQ(n.Call("GET", "/v1/stats", "kdeadbeef.00").status, 401);
  const std::string admin = n.MakeKey(Role::kAdmin);
  EXPECT_EQ(n.Call("GET", "/v1/stats", admin + "x").status, 401);
  const std::string auditor = n.MakeKey(Role::kAuditor);
  ASSERT_EQ(n.Call("GET", "/v1/stats", auditor).status, 200);
  ASSERT_TRUE(n.store().RevokeKey(auditor.substr(0, auditor.find('.')), 1).ok());
  clock_.AdvanceMs(1000);  // the key cache lives 1 s
  auto revoked = n.Call("GET", "/v1/stats", auditor);
  EXPECT_EQ(revoked.status, 401);
  EXPECT_EQ(revoked.body["error"]["code"], "revoked_api_key");
}

TEST_P(ServiceFlows, BadInputsGetTheirDocumentedCodesAndTheServerStaysUp) {
  Node& n = StartNode();
  const std::string admin = n.MakeKey(Role::kAdmin);
  const std::string jpeg = ReadBytes(Img("Angelina_Jolie", 3));
  // PNG signature + IHDR of a 20000 x 20000 image (the pixels never follow).
  std::string png("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16);
  for (uint32_t v : {20000u, 20000u}) {
    for (int s = 24; s >= 0; s -= 8) png.push_back(static_cast<char>((v >> s) & 0xff));
  }
  png += std::string("\x08\x02\0\0\0\0\0\0\0", 9);
  struct Case {
    std::string name, path, body, content_type;
    int status;
    std::string code;
  };
  const json frame_ok = {{"event_id", "e1"}};
  const std::vector<Case> cases = {
      {"empty body", "/v1/gates/g1/passages", "", "application/json", 400, "empty_body"},
      {"malformed JSON", "/v1/gates/g1/passages", "{\"event_id\": ", "application/json", 400, "malformed_json"},
      {"JSON array", "/v1/gates/g1/passages", "[1,2]", "application/json", 400, "malformed_json"},
      {"wrong content type", "/v1/gates/g1/passages", "event_id=e1", "text/plain", 415, "unsupported_media_type"},
      {"truncated JPEG", "/v1/gates/g1/passages",
       json{{"event_id", "e2"}, {"frames", {Base64(jpeg.substr(0, jpeg.size() / 3))}}}.dump(),
       "application/json", 422, "image_truncated"},
      {"20k x 20k header", "/v1/gates/g1/passages",
       json{{"event_id", "e3"}, {"frames", {Base64(png)}}}.dump(), "application/json", 413, ""},
      {"not base64", "/v1/gates/g1/passages", json{{"event_id", "e4"}, {"frames", {"%%%"}}}.dump(),
       "application/json", 400, "invalid_base64"},
      {"no frames", "/v1/gates/g1/passages", frame_ok.dump(), "application/json", 400, "missing_frames"},
      {"bad event id", "/v1/gates/g1/passages", json{{"event_id", "a b"}}.dump(), "application/json", 400, "invalid_event_id"},
      {"unknown gate", "/v1/gates/nope/passages", frame_ok.dump(), "application/json", 404, "unknown_gate"},
      {"negative amount", "/v1/tills/t1/payments",
       json{{"order_id", "o1"}, {"amount_minor", -5}}.dump(), "application/json", 400, "invalid_amount"},
      {"fractional amount", "/v1/tills/t1/payments",
       json{{"order_id", "o1"}, {"amount_minor", 1.5}}.dump(), "application/json", 400, "invalid_amount"},
      {"negative top-up", "/v1/accounts/acct:x/topups",
       json{{"idempotency_key", "k"}, {"amount_minor", -1}}.dump(), "application/json", 400, "invalid_amount"},
      {"bad template", "/v1/gates/g3/passages",
       json{{"event_id", "e5"}, {"template", {1, 2, 3}}}.dump(), "application/json", 422, "invalid_template"},
      {"unknown account", "/v1/accounts/acct:none/topups",
       json{{"idempotency_key", "k"}, {"amount_minor", 5}}.dump(), "application/json", 404, ""},
      {"unknown route", "/v1/nothing", "{}", "application/json", 404, "no_such_route"},
  };
  for (const Case& c : cases) {
    auto r = n.Call("POST", c.path, admin, c.body, c.content_type);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.raw;
    ASSERT_FALSE(r.body.is_discarded()) << c.name << ": " << r.raw;
    EXPECT_TRUE(r.body["error"].contains("message")) << c.name;
    if (!c.code.empty()) {
      EXPECT_EQ(r.body["error"]["code"], c.code) << c.name << ": " << r.raw;
    }
  }
  // Too many frames and a body over the limit.
  json many = {{"event_id", "e9"}, {"frames", json::array()}};
  for (int i = 0; i < 9; ++i) many["frames"].push_back(Base64(jpeg));
  auto r = n.Post("/v1/gates/g1/passages", admin, many);
  EXPECT_EQ(r.status, 413) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "too_many_images");
  auto health = n.Call("GET", "/healthz", "");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body["status"], "ok");
}

TEST_P(ServiceFlows, OpenApiDocumentListsExactlyTheServedRoutes) {
  Node& n = StartNode();
  const std::string admin = n.MakeKey(Role::kAdmin);
  auto doc = n.Call("GET", "/v1/openapi.json", "");
  ASSERT_EQ(doc.status, 200);
  EXPECT_EQ(doc.body["openapi"], "3.0.3");
  int paths = 0;
  for (auto it = doc.body["paths"].begin(); it != doc.body["paths"].end(); ++it) {
    std::string path = it.key();
    for (const char* p : {"{gate}", "{till}", "{atm}", "{post}", "{id}", "{challenge}"}) {
      for (size_t at; (at = path.find(p)) != std::string::npos;) {
        const std::string val = std::string(p) == "{gate}"   ? "g1"
                                : std::string(p) == "{till}" ? "t1"
                                : std::string(p) == "{atm}"  ? "a1"
                                : std::string(p) == "{post}" ? "b1"
                                                             : "x";
        path.replace(at, std::string(p).size(), val);
      }
    }
    for (auto m = it.value().begin(); m != it.value().end(); ++m) {
      std::string method = m.key();
      for (char& ch : method) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      auto r = n.Call(method, path, admin, "{}");
      EXPECT_NE(r.status, 0) << method << " " << path;
      const std::string code =
          r.body.is_object() ? r.body.value("error", json::object()).value("code", "") : "";
      EXPECT_NE(code, "no_such_route") << method << " " << path;
      EXPECT_TRUE(m.value().contains("responses")) << path;
      ++paths;
    }
  }
  EXPECT_GE(paths, 20);
  // And a route outside the document is not served.
  EXPECT_EQ(n.Call("POST", "/v1/gates/g1/exits", admin, "{}").body["error"]["code"], "no_such_route");
}

TEST_P(ServiceFlows, AKeyOverItsRateGets429UntilTheBucketRefills) {
  Node& n = StartNodeOnManualClock();
  const std::string slow = n.MakeKey(Role::kAuditor, {}, 1.0);  // 1/s, bursts of 5
  int ok = 0, limited = 0;
  for (int i = 0; i < 8; ++i) {
    auto r = n.Call("GET", "/v1/stats", slow);
    if (r.status == 200) ++ok;
    if (r.status == 429) {
      ++limited;
      EXPECT_EQ(r.body["error"]["code"], "rate_limited");
    }
  }
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(limited, 3);
  const std::string other = n.MakeKey(Role::kAuditor);
  EXPECT_EQ(n.Call("GET", "/v1/stats", other).status, 200) << "limits are per key";
  clock_.AdvanceMs(1000);
  EXPECT_EQ(n.Call("GET", "/v1/stats", slow).status, 200) << "the bucket refills";
}

TEST_P(ServiceFlows, StoppingFinishesTheRequestInFlight) {
  Node& n = StartNode();
  const std::string gate = n.MakeKey(Role::kGate, {"g1"});
  json body = {{"event_id", "late"}, {"frames", Frames({Img("Angelina_Jolie", 3), Img("Angelina_Jolie", 4),
                                                       Img("Angelina_Jolie", 8), Img("Angelina_Jolie", 15),
                                                       Img("Angelina_Jolie", 16), Img("Angelina_Jolie", 3)})}};
  for (int i = 0; i < 2; ++i) body["frames"].push_back(body["frames"][i]);  // 8 frames: slow
  httplib::Client cli("127.0.0.1", n.port());
  cli.set_keep_alive(true);
  cli.set_read_timeout(60, 0);
  ASSERT_TRUE(cli.Get("/healthz"));  // connected before the clock starts
  std::optional<httplib::Result> res;
  std::thread client([&] {
    res = cli.Post("/v1/gates/g1/passages", {{"Authorization", "Bearer " + gate}}, body.dump(),
                   "application/json");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the request is being analysed
  n.Stop();
  client.join();
  ASSERT_TRUE(res && *res) << "the in-flight passage was answered";
  EXPECT_EQ((*res)->status, 200) << (*res)->body;
  EXPECT_EQ(json::parse((*res)->body)["probe"]["frames"], 8);
  EXPECT_EQ(n.Call("GET", "/healthz", "").status, 0) << "no longer accepting";
}

TEST_P(ServiceFlows, HttpsServesTheApiWithTheOperatorsCertificateAndRefusesPlainHttp) {
  if (GetParam() != "sqlite") GTEST_SKIP() << "TLS does not depend on the store";
  std::string dir = ::testing::TempDir() + "/facepay-tls-XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  struct Cleanup {
    std::string d;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
  } cleanup{dir};
  auto tls = MakeSelfSignedCert(dir);
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  NodeOptions o;
  o.tls = *tls;
  auto started = Node::Start(loc_->location(), o);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  Node& n = **started;

  // Over TLS, the client verifying the certificate and the host name: the API works.
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string gate = n.MakeKey(Role::kGate, {"g1"});
  EXPECT_EQ(n.Call("GET", "/healthz", "").status, 200);
  EnrollWithAccount(n, enroller, "angelina", "Angelina_Jolie", {3, 4}, 1000);
  auto r = n.Post("/v1/gates/g1/passages", gate,
                  {{"event_id", "tls-1"}, {"frames", Frames({Img("Angelina_Jolie", 15)})}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["decision"]["outcome"], "accept") << r.raw;

  // Plain HTTP to the HTTPS port gets no API answer (no key or image crosses in clear text).
  httplib::Client plain("127.0.0.1", n.port());
  plain.set_read_timeout(5, 0);
  auto p = plain.Get("/healthz");
  EXPECT_TRUE(!p || p->status == 400) << "plain HTTP got HTTP " << (p ? p->status : 0);

  // A client that does not trust the certificate refuses the connection.
  httplib::Client untrusting("https://127.0.0.1:" + std::to_string(n.port()));
  untrusting.enable_server_certificate_verification(true);
  untrusting.set_ca_cert_path((dir + "/missing-ca.pem").c_str());
  EXPECT_FALSE(untrusting.Get("/healthz"));

  // Half a TLS configuration is a start-up error, not a silent fallback to HTTP.
  o.tls.key.clear();
  auto half = Node::Start(loc_->location(), o);
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.status().reason(), "invalid_tls") << half.status().ToString();
}

TEST_P(ServiceFlows, TwoNodesOnOneStoreHonourEnrollmentAndErasureWithinTwoSeconds) {
  Node& a = StartNode();
  Node& b = StartNode();
  const std::string enroller = a.MakeKey(Role::kEnroller);
  const std::string gate = a.MakeKey(Role::kGate, {"*"});
  EnrollWithAccount(a, enroller, "angelina", "Angelina_Jolie", {3, 4}, 1000);
  auto outcome_on_b = [&](const std::string& event) {
    auto r = b.Post("/v1/gates/g1/passages", gate,
                    {{"event_id", event}, {"frames", Frames({Img("Angelina_Jolie", 15)})}});
    return r.body["decision"].value("outcome", "?");
  };
  auto wait_for = [&](const std::string& want, const std::string& tag) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0;; ++i) {
      if (outcome_on_b(tag + std::to_string(i)) == want) {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      }
      if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(5)) return 99.0;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  };
  const double enrolled_s = wait_for("accept", "in-");
  EXPECT_LE(enrolled_s, 2.0) << "node B saw the enrollment after " << enrolled_s << " s";
  ASSERT_EQ(a.Call("DELETE", "/v1/subjects/angelina", enroller).status, 200);
  const double erased_s = wait_for("reject", "out-");
  EXPECT_LE(erased_s, 2.0) << "node B honoured the erasure after " << erased_s << " s";
  std::cerr << "two nodes (" << GetParam() << "): enrollment visible after " << enrolled_s
            << " s, erasure after " << erased_s << " s\n";

  // The border watchlist is shared on PostgreSQL: added on A, it stops a traveller on B.
  if (GetParam() != "postgres") return;  // SQLite: one watchlist file per data folder
  const std::string admin = a.MakeKey(Role::kAdmin);
  const std::string border = b.MakeKey(Role::kBorder, {"b1"});
  auto add = a.Post("/v1/watchlist", admin,
                    {{"id", "wanted-1"}, {"images", Frames({Img("Alvaro_Uribe", 10)})}});
  ASSERT_EQ(add.status, 201) << add.raw;
  const auto t0 = std::chrono::steady_clock::now();
  std::string decision, reason;
  for (int i = 0; std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5); ++i) {
    auto r = b.Post("/v1/borders/b1/checks", border,
                    {{"document_number", "W" + std::to_string(i)},
                     {"document_photo", Base64(ReadBytes(Img("Alvaro_Uribe", 7)))},
                     {"frames", Frames({Img("Alvaro_Uribe", 26)})}});
    ASSERT_EQ(r.status, 200) << r.raw;
    decision = r.body.value("decision", "?");
    reason = r.body.value("reason", "");
    if (reason == "watchlist_hit") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double listed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(reason, "watchlist_hit") << decision;
  EXPECT_LE(listed_s, 2.0) << "node B saw the watchlist entry after " << listed_s << " s";
  std::cerr << "two nodes (postgres): watchlist entry searched after " << listed_s << " s\n";
}

// Issue 15: a terminal screen holds no key; it exchanges a one-time code for its own bound key,
// once, within the code's life; revoking the key un-pairs it within the key cache's second.
TEST_P(ServiceFlows, ATerminalPairsOnceWithACodeAndRevokingItsKeyUnpairsIt) {
  Node& n = StartNodeOnManualClock();
  const std::string admin = n.MakeKey(Role::kAdmin);
  const std::string enroller = n.MakeKey(Role::kEnroller);
  auto made = n.Post("/v1/pairing-codes", admin, {{"kind", "gate"}, {"id", "g1"}});
  ASSERT_EQ(made.status, 201) << made.raw;
  const std::string code = made.body["code"];
  ASSERT_EQ(code.size(), 9u);
  EXPECT_EQ(code[4], '-');
  EXPECT_EQ(made.body["role"], "gate");
  // Typed as a person would: lower case, a space instead of the dash.
  std::string typed = code;
  for (char& ch : typed) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  typed[4] = ' ';
  auto paired = n.Post("/v1/pairing", "", {{"code", typed}});
  ASSERT_EQ(paired.status, 201) << paired.raw;
  const std::string token = paired.body["token"];
  EXPECT_EQ(paired.body["role"], "gate");
  // The key acts for g1 and nothing else.
  EXPECT_EQ(n.Post("/v1/gates/g1/passages", token, {{"event_id", "p1"}}).body["error"]["code"],
            "missing_frames");
  EXPECT_EQ(n.Post("/v1/gates/g2/passages", token, {{"event_id", "p1"}}).status, 403);
  // Once only; unknown, malformed and used codes get one and the same answer.
  for (const std::string& c : {code, std::string("ZZZZ-ZZZZ"), std::string("not a code")}) {
    auto again = n.Post("/v1/pairing", "", {{"code", c}});
    EXPECT_EQ(again.status, 403) << c << " " << again.raw;
    EXPECT_EQ(again.body["error"]["code"], "pairing_code_invalid") << c;
  }
  // A code past its life is refused.
  auto short_lived = n.Post("/v1/pairing-codes", admin, {{"kind", "till"}, {"id", "t1"}, {"ttl_s", 1}});
  ASSERT_EQ(short_lived.status, 201) << short_lived.raw;
  clock_.AdvanceMs(1001);
  EXPECT_EQ(n.Post("/v1/pairing", "", {{"code", short_lived.body["code"]}}).status, 403);
  // Revoking the key un-pairs the screen within the key cache's second.
  ASSERT_TRUE(n.store().RevokeKey(paired.body["key_id"], clock_.NowMs()).ok());
  clock_.AdvanceMs(1000);
  EXPECT_EQ(n.Post("/v1/gates/g1/passages", token, {{"event_id", "p2"}}).status, 401);
  // Only an admin makes codes, only for configured terminals of a known kind.
  EXPECT_EQ(n.Post("/v1/pairing-codes", enroller, {{"kind", "gate"}, {"id", "g1"}}).status, 403);
  EXPECT_EQ(n.Post("/v1/pairing-codes", admin, {{"kind", "gate"}, {"id", "g99"}}).body["error"]["code"],
            "unknown_terminal");
  EXPECT_EQ(n.Post("/v1/pairing-codes", admin, {{"kind", "toaster"}, {"id", "g1"}}).body["error"]["code"],
            "invalid_terminal_kind");
  EXPECT_EQ(n.Post("/v1/pairing-codes", admin, {{"kind", "gate"}, {"id", "g1"}, {"ttl_s", 901}}).status, 400);
  // A kiosk (enrolment desk) gets an enroller key.
  auto kiosk = n.Post("/v1/pairing-codes", admin, {{"kind", "kiosk"}, {"id", "desk-1"}});
  ASSERT_EQ(kiosk.status, 201) << kiosk.raw;
  auto kp = n.Post("/v1/pairing", "", {{"code", kiosk.body["code"]}});
  ASSERT_EQ(kp.status, 201) << kp.raw;
  EXPECT_EQ(kp.body["role"], "enroller");
}

// Two screens racing with one code: exactly one gets a key.
TEST_P(ServiceFlows, RacingScreensWithOnePairingCodeGetExactlyOneKey) {
  Node& n = StartNode();
  const std::string admin = n.MakeKey(Role::kAdmin);
  for (int round = 0; round < 5; ++round) {
    auto made = n.Post("/v1/pairing-codes", admin, {{"kind", "gate"}, {"id", "g1"}});
    ASSERT_EQ(made.status, 201) << made.raw;
    const std::string code = made.body["code"];
    std::atomic<int> ok{0}, refused{0};
    std::vector<std::thread> screens;
    for (int i = 0; i < 4; ++i) {
      screens.emplace_back([&] {
        const int st = n.Post("/v1/pairing", "", {{"code", code}}).status;
        (st == 201 ? ok : refused)++;
      });
    }
    for (auto& t : screens) t.join();
    EXPECT_EQ(ok.load(), 1) << "round " << round;
    EXPECT_EQ(refused.load(), 3);
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, ServiceFlows, ::testing::Values("sqlite", "postgres"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace facepay::testing
