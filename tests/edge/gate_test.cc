// The edge gate against a real server: `facepay gate` (the binary) and node::Gate reading real
// video, sending templates to a real node on loopback (SQLite), charging real fares.
#include "edge/edge_fixture.h"

namespace facepay::testing {
namespace {

// Issue 14: the gate binary on a real clip of an enrolled person opens once (one fare), a phone
// replay and a stranger are refused, and nothing but templates reaches the server.
TEST_P(GateEdge, TheGateBinaryPassesAnEnrolledPersonOnceAndRefusesAReplayAndAStranger) {
  Node& n = StartNode();
  const std::string admin = n.MakeKey(Role::kAdmin);
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string key_file = KeyFile(n.MakeKey(Role::kGate, {"g3"}));
  const std::string account = EnrollD3(n, enroller, 1000);
  const std::string d3_profile = CalibrateD3();
  const std::string webcam_profile = std::string(FACEPAY_SOURCE_DIR) + "/config/cameras/dev-webcam.json";
  const std::string relay = ::testing::TempDir() + "/relay-" + std::to_string(getpid());
  std::remove(relay.c_str());
  auto gate = [&](const std::string& video, double from_ms, const std::string& profile) {
    return RunProgram({FACEPAY_BIN, "gate", "--gate", "g3", "--camera", videos_ + "/" + video,
                       "--from-ms", std::to_string(from_ms), "--server", Url(n), "--key-file",
                       key_file, "--camera-profile", profile, "--output", "json", "--output",
                       "relay:" + relay},
                      {"FACEPAY_MODELS_DIR=" + ModelsDir()});
  };
  // Judged after the part of the clip the camera was calibrated on.
  Ran live = gate("d3.mp4", 3000, d3_profile);
  ASSERT_EQ(live.exit_code, 0) << live.err;
  auto lines = JsonLines(live.out);
  ASSERT_EQ(lines.size(), 1u) << "one person standing at the gate is one passage:\n" << live.out;
  EXPECT_EQ(lines[0]["outcome"], "accept") << lines[0].dump();
  EXPECT_TRUE(lines[0]["open"].get<bool>()) << lines[0].dump();
  EXPECT_EQ(lines[0]["liveness_mode"], "sequence");
  const int64_t fare = lines[0].value("fare_minor", int64_t{-1});
  EXPECT_GT(fare, 0);
  EXPECT_EQ(Balance(n, admin, account), 1000 - fare);
  EXPECT_EQ(lines[0].value("balance_minor", int64_t{-1}), 1000 - fare);

  // A phone replaying a person to the calibrated webcam, and a live stranger on it.
  Ran replay = gate("apfol_replay_phone2.webm", 0, webcam_profile);
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  auto replayed = JsonLines(replay.out);
  ASSERT_GE(replayed.size(), 1u) << replay.err;
  for (const auto& d : replayed) {
    EXPECT_FALSE(d["open"].get<bool>()) << d.dump();
    EXPECT_EQ(d["outcome"], "reject") << d.dump();
    EXPECT_EQ(d.value("reason", ""), "spoof") << d.dump();
  }
  Ran stranger = gate("apfol_real2.webm", 3500, webcam_profile);
  ASSERT_EQ(stranger.exit_code, 0) << stranger.err;
  auto strangers = JsonLines(stranger.out);
  ASSERT_GE(strangers.size(), 1u) << stranger.err;
  for (const auto& d : strangers) {
    EXPECT_FALSE(d["open"].get<bool>()) << d.dump();
    EXPECT_EQ(d["outcome"], "reject") << d.dump();
  }
  EXPECT_EQ(Balance(n, admin, account), 1000 - fare) << "one fare in all";

  // The relay stub saw the same decisions: one open, the rest closed.
  std::ifstream rf(relay);
  std::string word;
  int opened = 0, closed = 0;
  for (std::string line; std::getline(rf, line);) {
    std::istringstream(line) >> word;
    opened += word == "open";
    closed += word == "closed";
  }
  EXPECT_EQ(opened, 1);
  EXPECT_EQ(closed, static_cast<int>(replayed.size() + strangers.size()));

  // The server audited template passages ("edge"), never an image.
  auto audit = n.Call("GET", "/v1/audit?action=passage&limit=100", admin);
  ASSERT_EQ(audit.status, 200) << audit.raw;
  int edge = 0;
  for (const auto& rec : audit.body["items"]) {
    if (rec.dump().find("\"edge\"") != std::string::npos) ++edge;
  }
  EXPECT_EQ(edge, static_cast<int>(1 + replayed.size() + strangers.size())) << audit.raw;
  std::remove(relay.c_str());
}

// A source that asks the gate to stop once a burst has started: the passage in flight is
// finished (answer and turnstile), and nothing after it starts.
class StopWhilePresenting final : public node::FrameSource {
 public:
  StopWhilePresenting(std::unique_ptr<node::FrameSource> inner) : inner_(std::move(inner)) {}
  node::Gate* gate = nullptr;
  Status Read(cv::Mat& f, double& t) override {
    if (gate != nullptr && !gate->stop_requested() && gate->StatusJson()["state"] == "presenting") {
      gate->RequestStop();
    }
    return inner_->Read(f, t);
  }
  Status Reopen() override { return inner_->Reopen(); }
  bool is_file() const override { return true; }
  std::string Describe() const override { return inner_->Describe(); }

 private:
  std::unique_ptr<node::FrameSource> inner_;
};

TEST_P(GateEdge, AStopDuringABurstFinishesThatPassageAndStartsNoOther) {
  Node& n = StartNode();
  const std::string admin = n.MakeKey(Role::kAdmin);
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string account = EnrollD3(n, enroller, 1000);
  CalibrateD3();
  SharedEngine& e = SharedEngine::Get();
  node::ServerLink link({.server = Url(n), .key = n.MakeKey(Role::kGate, {"g3"})});
  std::ostringstream out;
  auto json_out = node::MakeTurnstile("json", out);
  ASSERT_TRUE(json_out.ok());
  node::GateConfig cfg;
  cfg.gate_id = "g3";
  cfg.rearm = true;  // without the stop, the clip would give several passages
  node::Gate gate(cfg, *e.pipeline, e.sequence.get(), &d3_, link, {json_out->get()});
  auto src = node::OpenVideoSource(videos_ + "/d3.mp4", 3000);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  StopWhilePresenting stopping(std::move(*src));
  stopping.gate = &gate;
  ASSERT_TRUE(gate.Run(stopping).ok());
  const auto d = gate.decisions();
  ASSERT_EQ(d.size(), 1u) << out.str();
  EXPECT_TRUE(d[0].open) << d[0].ToJson().dump();
  EXPECT_EQ(JsonLines(out.str()).size(), 1u) << "the turnstile was told";
  EXPECT_EQ(Balance(n, admin, account), 1000 - d[0].fare_minor.value_or(0));
  EXPECT_EQ(gate.StatusJson()["state"], "stopped");
  // Stopped before the run: no frame is read, no passage.
  node::Gate idle(cfg, *e.pipeline, e.sequence.get(), &d3_, link, {});
  idle.RequestStop();
  auto src2 = node::OpenVideoSource(videos_ + "/d3.mp4", 3000);
  ASSERT_TRUE(src2.ok());
  ASSERT_TRUE(idle.Run(**src2).ok());
  EXPECT_EQ(idle.counters().frames, 0);
}

TEST_P(GateEdge, AnUnreachableServerOrANonEdgeGateKeepsTheTurnstileClosedWithTheReason) {
  Node& n = StartNode();
  const std::string enroller = n.MakeKey(Role::kEnroller);
  EnrollD3(n, enroller, 1000);
  CalibrateD3();
  SharedEngine& e = SharedEngine::Get();
  node::GateConfig cfg;
  cfg.max_passages = 1;
  // g1 is not declared an edge gate: the server refuses templates from it.
  cfg.gate_id = "g1";
  node::ServerLink to_g1({.server = Url(n), .key = n.MakeKey(Role::kGate, {"g1"})});
  node::Gate g1(cfg, *e.pipeline, e.sequence.get(), &d3_, to_g1, {});
  auto src = node::OpenVideoSource(videos_ + "/d3.mp4", 3000);
  ASSERT_TRUE(src.ok());
  ASSERT_TRUE(g1.Run(**src).ok());
  ASSERT_EQ(g1.decisions().size(), 1u);
  EXPECT_EQ(g1.decisions()[0].outcome, "error");
  EXPECT_EQ(g1.decisions()[0].reason, "not_an_edge_gate");
  EXPECT_FALSE(g1.decisions()[0].open);
  EXPECT_EQ(g1.decisions()[0].attempts, 1) << "a refusal is not retried";
  // A server that is gone: retried with the same event id within the budget, then refused.
  const std::string url = Url(n);
  n.Stop();
  cfg.gate_id = "g3";
  node::ServerLink gone({.server = url, .key = "fp_gate_x", .timeout_ms = 200,
                         .retry_budget_ms = 700, .backoff_initial_ms = 50});
  node::Gate g3(cfg, *e.pipeline, e.sequence.get(), &d3_, gone, {});
  auto src3 = node::OpenVideoSource(videos_ + "/d3.mp4", 3000);
  ASSERT_TRUE(src3.ok());
  ASSERT_TRUE(g3.Run(**src3).ok());
  ASSERT_EQ(g3.decisions().size(), 1u);
  EXPECT_EQ(g3.decisions()[0].outcome, "error");
  EXPECT_EQ(g3.decisions()[0].reason, "server_unreachable");
  EXPECT_GE(g3.decisions()[0].attempts, 2);
  EXPECT_FALSE(g3.decisions()[0].open);
  EXPECT_EQ(g3.StatusJson()["server"], "unreachable");
}

TEST_P(GateEdge, BadCameraAndOutputSpecsAreClearErrors) {
  EXPECT_EQ(node::OpenVideoSource("/no/such/video.mp4").status().reason(), "camera_not_found");
  EXPECT_EQ(node::OpenVideoSource("").status().reason(), "camera_not_found");
  std::ostringstream out;
  EXPECT_EQ(node::MakeTurnstile("gpio", out).status().reason(), "invalid_output");
  EXPECT_EQ(node::MakeTurnstile("webhook:ftp://x", out).status().reason(), "invalid_output");
  EXPECT_EQ(node::MakeTurnstile("relay:", out).status().reason(), "invalid_output");
  EXPECT_TRUE(node::MakeTurnstile("webhook:http://127.0.0.1:9/open", out).ok());
  // The binary refuses a key on no channel at all, before opening the camera.
  Ran r = RunProgram({FACEPAY_BIN, "gate", "--gate", "g3", "--camera", videos_ + "/d3.mp4"},
                     {"FACEPAY_GATE_KEY="});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing_key"), std::string::npos) << r.err;
}

// The outputs a turnstile and its screen read: the webhook gets each decision as JSON, the
// status endpoint serves the gate's state, and a config file is refused on a typo.
TEST_P(GateEdge, TheWebhookStatusEndpointAndConfigFileWorkAsDocumented) {
  httplib::Server hook;
  std::mutex mu;
  std::vector<json> received;
  hook.Post("/open", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> l(mu);
    received.push_back(json::parse(req.body, nullptr, false));
    res.set_content("{}", "application/json");
  });
  const int hook_port = hook.bind_to_any_port("127.0.0.1");
  ASSERT_GT(hook_port, 0);
  std::thread hook_thread([&] { hook.listen_after_bind(); });
  std::ostringstream out;
  auto webhook = node::MakeTurnstile("webhook:http://127.0.0.1:" + std::to_string(hook_port) + "/open", out);
  ASSERT_TRUE(webhook.ok());
  node::GateDecision d;
  d.event_id = "g3-test-1";
  d.outcome = "accept";
  d.open = true;
  d.fare_minor = 250;
  ASSERT_TRUE((*webhook)->Signal(d).ok());
  d.outcome = "reject";
  d.open = false;
  d.reason = "spoof";
  ASSERT_TRUE((*webhook)->Signal(d).ok());
  hook.stop();
  hook_thread.join();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0]["event_id"], "g3-test-1");
  EXPECT_TRUE(received[0]["open"].get<bool>());
  EXPECT_EQ(received[0]["fare_minor"], 250);
  EXPECT_EQ(received[1]["reason"], "spoof");
  // A webhook that is not there is an error the gate logs, not a crash.
  EXPECT_EQ((*webhook)->Signal(d).reason(), "turnstile_failed");

  // The status endpoint of a gate (no passage yet): state, counters, calibration, health.
  Node& n = StartNode();
  SharedEngine& e = SharedEngine::Get();
  node::ServerLink link({.server = Url(n), .key = n.MakeKey(Role::kGate, {"g3"})});
  node::GateConfig cfg;
  cfg.gate_id = "g3";
  node::Gate gate(cfg, *e.pipeline, e.sequence.get(), nullptr, link, {});
  auto status = node::GateStatusServer::Start(gate, "127.0.0.1", 0, 60'000, 0);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  httplib::Client cli("127.0.0.1", (*status)->port());
  auto st = cli.Get("/status");
  ASSERT_TRUE(st);
  ASSERT_EQ(st->status, 200);
  const json sj = json::parse(st->body);
  EXPECT_EQ(sj["gate"], "g3");
  EXPECT_EQ(sj["state"], "starting");
  EXPECT_FALSE(sj["camera_calibrated"].get<bool>()) << "no profile: the screen can say so";
  EXPECT_EQ(sj["counters"]["decisions"], 0);
  auto hz = cli.Get("/healthz");
  ASSERT_TRUE(hz);
  EXPECT_EQ(hz->status, 200) << hz->body;

  // The config file of the systemd unit: a typo is refused before anything opens.
  const std::string conf = ::testing::TempDir() + "/gate-conf-" + std::to_string(getpid()) + ".json";
  std::ofstream(conf) << R"({"gate": "g3", "camera": "/dev/null", "burst_frame": 8})";
  Ran bad = RunProgram({FACEPAY_BIN, "gate", "--config", conf}, {"FACEPAY_GATE_KEY=x"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("unknown setting 'burst_frame'"), std::string::npos) << bad.err;
  std::ofstream(conf) << R"({"gate": "g3", "camera": "/dev/null", "burst_frames": "8"})";
  bad = RunProgram({FACEPAY_BIN, "gate", "--config", conf}, {"FACEPAY_GATE_KEY=x"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("'burst_frames' must be a number"), std::string::npos) << bad.err;
  std::remove(conf.c_str());
}

INSTANTIATE_TEST_SUITE_P(Sqlite, GateEdge, ::testing::Values("sqlite"));

}  // namespace
}  // namespace facepay::testing
