// Offline operation of the edge gate against a real server: the sealed replica follows
// enrolments and erasures, an offline gate decides locally and queues signed passages, the
// server settles each exactly once when it is back, refuses an altered record, and the gate
// refuses everyone once its maximum offline duration has passed (a manual clock, no sleeps).
#include <sodium.h>
#include <sqlite3.h>

#include <chrono>

#include "edge/edge_fixture.h"
#include "facepay/node/gate_offline.h"

namespace facepay::testing {
namespace {

class GateOffline : public GateEdge {
 protected:
  std::string StateDir() {
    std::string dir = ::testing::TempDir() + "/facepay-gate-XXXXXX";
    EXPECT_NE(mkdtemp(dir.data()), nullptr);
    dirs_.push_back(dir);
    return dir;
  }
  void TearDown() override {
    for (const auto& d : dirs_) std::filesystem::remove_all(d);
    GateEdge::TearDown();
  }
  // One gate run over the d3 clip after its calibration part (`passages` decisions at most).
  std::vector<node::GateDecision> RunGate(node::ServerLink& link, node::GateReplica* replica,
                                          int passages, const node::OfflinePolicy& policy = {}) {
    SharedEngine& e = SharedEngine::Get();
    node::GateConfig cfg;
    cfg.gate_id = "g3";
    cfg.rearm = true;
    cfg.max_passages = passages;
    cfg.offline = policy;
    node::Gate gate(cfg, *e.pipeline, e.sequence.get(), &d3_, link, {}, replica);
    auto src = node::OpenVideoSource(videos_ + "/d3.mp4", 3000);
    EXPECT_TRUE(src.ok()) << src.status().ToString();
    if (!src.ok()) return {};
    EXPECT_TRUE(gate.Run(**src).ok());
    return gate.decisions();
  }
  int64_t FareCount(Node& n, const std::string& admin, const std::string& account) {
    auto r = n.Call("GET", "/v1/accounts/" + account + "/transactions?limit=100", admin);
    EXPECT_EQ(r.status, 200) << r.raw;
    int64_t fares = 0;
    for (const auto& t : r.body["items"]) fares += t.value("kind", "") == "fare";
    return fares;
  }
  std::vector<std::string> dirs_;
};

// Issue 14: erasures reach an online gate replica within 2 s; the replica is sealed at rest.
TEST_P(GateOffline, TheReplicaFollowsEnrolmentAndErasureAndIsSealedAtRest) {
  Node& n = StartNode();
  const std::string admin = n.MakeKey(Role::kAdmin);
  const std::string enroller = n.MakeKey(Role::kEnroller);
  payments::SystemClock wall;
  const std::string dir = StateDir();
  auto replica = node::GateReplica::Open(dir, "g3", wall);
  ASSERT_TRUE(replica.ok()) << replica.status().ToString();
  node::ServerLink link({.server = Url(n), .key = n.MakeKey(Role::kGate, {"g3"})});
  node::GateSync sync(**replica, link, "g3");
  sync.Start(250);
  EnrollD3(n, enroller, 1000);
  ASSERT_TRUE((*replica)->WaitFor([&] { return (*replica)->ContainsSubject("d3"); }, 20'000))
      << "the enrolment never reached the replica";
  EXPECT_EQ((*replica)->template_count(), n.gallery().TemplatesOf("d3").size());

  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(n.Call("DELETE", "/v1/subjects/d3", admin).status, 200);
  ASSERT_TRUE((*replica)->WaitFor([&] { return !(*replica)->ContainsSubject("d3"); }, 20'000))
      << "the erasure never reached the replica";
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  RecordProperty("erasure_to_replica_ms", std::to_string(ms));
  std::cerr << "erasure reached the gate replica after " << ms << " ms\n";
  EXPECT_EQ((*replica)->template_count(), 0u);
  sync.Stop();

  // At rest: the files are the gate's own (0600), and under another gate key nothing opens.
  struct stat st{};
  ASSERT_EQ(stat((dir + "/gate.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = n.Post("/v1/subjects", enroller,  // the person again, so the replica holds one
                      {{"id", "d3-again"},
                       {"consent", {{"text_version", "v1"}, {"channel", "kiosk"}}},
                       {"frame_interval_ms", 125},
                       {"frames", VideoBurst(videos_ + "/d3.mp4", 1000, 8, 125)}});
  ASSERT_EQ(again.status, 201) << again.raw;
  ASSERT_TRUE(sync.SyncOnce().ok());
  ASSERT_TRUE((*replica)->ContainsSubject("d3-again"));
  replica->reset();
  std::filesystem::remove(dir + "/gate.key");
  auto other = node::GateReplica::Open(dir, "g3", wall);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().reason(), "gate_store_tampered");
}

// Issue 14: offline decisions are queued, signed, settled exactly once on reconnection (also
// when replayed again), an altered record is refused, and the maximum offline duration holds.
TEST_P(GateOffline, AnOfflineGateQueuesSignedPassagesThatSettleExactlyOnce) {
  Node& first = StartNode();
  const std::string admin = first.MakeKey(Role::kAdmin);
  const std::string enroller = first.MakeKey(Role::kEnroller);
  const std::string gate_key = first.MakeKey(Role::kGate, {"g3"});
  const std::string account = EnrollD3(first, enroller, 1000);
  CalibrateD3();
  payments::ManualClock clock(payments::SystemClock().NowMs());
  const std::string dir = StateDir();
  auto replica = node::GateReplica::Open(dir, "g3", clock);
  ASSERT_TRUE(replica.ok()) << replica.status().ToString();
  {
    node::ServerLink link({.server = Url(first), .key = gate_key});
    auto r = node::GateSync(**replica, link, "g3").SyncOnce();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(r->reachable);
    ASSERT_TRUE((*replica)->ContainsSubject("d3"));
    // Online, the server decides: one fare, nothing queued.
    auto online = RunGate(link, replica->get(), 1);
    ASSERT_EQ(online.size(), 1u);
    EXPECT_TRUE(online[0].open);
    EXPECT_FALSE(online[0].offline);
  }
  EXPECT_EQ(Balance(first, admin, account), 750);

  // The server goes away: the gate decides against its replica.
  const std::string url = Url(first);
  first.Stop();
  node::ServerLink gone({.server = url, .key = gate_key, .timeout_ms = 200, .retry_budget_ms = 300,
                         .backoff_initial_ms = 50});
  node::OfflinePolicy policy;  // defaults: anti-passback 120 s, 2 unsettled passages a person
  auto first_run = RunGate(gone, replica->get(), 2, policy);
  ASSERT_EQ(first_run.size(), 2u);
  EXPECT_TRUE(first_run[0].open && first_run[0].offline) << first_run[0].ToJson().dump();
  EXPECT_FALSE(first_run[1].open);
  EXPECT_EQ(first_run[1].reason, "anti_passback") << "the same person again at once";
  policy.anti_passback_ms = 0;
  auto second_run = RunGate(gone, replica->get(), 2, policy);
  ASSERT_EQ(second_run.size(), 2u);
  EXPECT_TRUE(second_run[0].open) << second_run[0].ToJson().dump();
  EXPECT_FALSE(second_run[1].open);
  EXPECT_EQ(second_run[1].reason, "offline_person_limit");
  const std::vector<node::GateDecision> offline = {first_run[0], second_run[0]};
  for (const auto& d : offline) EXPECT_TRUE(d.offline) << d.ToJson().dump();
  EXPECT_EQ((*replica)->counts().pending, 2);

  // Someone alters a queued record at rest (another person to charge, or a later time).
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir + "/gate.db").c_str(), &db), SQLITE_OK);
    const std::string sql = "UPDATE queue SET event_time_ms = event_time_ms + 1 WHERE event_id = '" +
                            offline[1].event_id + "'";
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }

  // The server is back (a new node on the same store): the queue is replayed once.
  Node& second = StartNode();
  node::ServerLink back({.server = Url(second), .key = gate_key});
  node::GateSync sync(**replica, back, "g3");
  auto round = sync.SyncOnce();
  ASSERT_TRUE(round.ok()) << round.status().ToString();
  EXPECT_EQ(round->replayed, 2);
  const auto q = (*replica)->counts();
  EXPECT_EQ(q.pending, 0);
  EXPECT_EQ(q.settled, 1);
  EXPECT_EQ(q.refused, 1) << "the altered record";
  // The first offline passage is an anti-passback re-entry of the online one (free), so the
  // balance is what the online fare left; one fare transaction in all.
  EXPECT_EQ(Balance(second, admin, account), 750);
  EXPECT_EQ(FareCount(second, admin, account), 1);
  auto audit = second.Call("GET", "/v1/audit?action=offline_passage&limit=100", admin);
  ASSERT_EQ(audit.status, 200);
  std::map<std::string, std::string> outcome;
  for (const auto& a : audit.body["items"]) outcome[a["detail"].value("event_id", "")] = a["outcome"];
  EXPECT_EQ(outcome[offline[0].event_id], "settled");
  EXPECT_EQ(outcome[offline[1].event_id], "tampered");

  // The same records sent again (a gate that lost the answer) settle nothing twice.
  flows::OfflineRecord again;
  again.event_id = offline[0].event_id;
  again.subject_id = "d3";
  again.event_time_ms = clock.NowMs();
  again.score_milli = 0;
  again.signature = "00";
  auto forged = second.Post("/v1/gates/g3/offline-passages", gate_key,
                            {{"records", json::array({{{"event_id", again.event_id},
                                                       {"subject_id", again.subject_id},
                                                       {"event_time_ms", again.event_time_ms},
                                                       {"score_milli", 0},
                                                       {"signature", again.signature}}})}});
  ASSERT_EQ(forged.status, 200) << forged.raw;
  EXPECT_EQ(forged.body["results"][0]["result"], "tampered") << "a key-less forgery";
  EXPECT_EQ(Balance(second, admin, account), 750);

  // A gate that has not heard from the server for longer than allowed refuses everyone.
  clock.AdvanceMs(policy.max_offline_ms + 1);
  second.Stop();
  auto late = RunGate(gone, replica->get(), 1, policy);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_FALSE(late[0].open);
  EXPECT_EQ(late[0].reason, "offline_too_long");
}

TEST_P(GateOffline, OnlyEdgeGatesGetAReplicaAndBadRecordsAreClearErrors) {
  Node& n = StartNode();
  const std::string g1 = n.MakeKey(Role::kGate, {"g1"});
  const std::string g3 = n.MakeKey(Role::kGate, {"g3"});
  EXPECT_EQ(n.Call("GET", "/v1/gates/g1/replica", g1).status, 403);
  EXPECT_EQ(n.Call("GET", "/v1/gates/g3/replica", g1).status, 403) << "a key bound to another gate";
  auto ok = n.Call("GET", "/v1/gates/g3/replica?after=0&limit=5", g3);
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(ok.body["offline_key"].get<std::string>().size(), 64u);
  EXPECT_EQ(n.Call("GET", "/v1/gates/g3/replica?limit=501", g3).body["error"]["code"], "invalid_limit");
  EXPECT_EQ(n.Call("GET", "/v1/gates/g3/replica?after=-1", g3).body["error"]["code"], "invalid_after");
  auto empty = n.Post("/v1/gates/g3/offline-passages", g3, {{"records", json::array()}});
  EXPECT_EQ(empty.status, 400);
  EXPECT_EQ(empty.body["error"]["code"], "invalid_records");
  json many = json::array();
  for (int i = 0; i < 201; ++i) many.push_back(json::object());
  EXPECT_EQ(n.Post("/v1/gates/g3/offline-passages", g3, {{"records", many}}).status, 400);
  auto bad_time = n.Post("/v1/gates/g3/offline-passages", g3,
                         {{"records", json::array({{{"event_id", "e1"}, {"subject_id", "s"},
                                                    {"event_time_ms", "soon"}, {"score_milli", 1},
                                                    {"signature", "00"}}})}});
  EXPECT_EQ(bad_time.status, 400) << bad_time.raw;
  EXPECT_EQ(n.Post("/v1/gates/g1/offline-passages", g1, {{"records", many}}).status, 403);
}

// A thief with a gate's key reads its offline key from the replica route and signs records at
// will: the server settles at most its own daily limit per person at that gate.
TEST_P(GateOffline, AGateKeyHolderCannotChargeAPersonPastTheServersOfflineLimit) {
  Node& n = StartNode();
  const std::string admin = n.MakeKey(Role::kAdmin);
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string g3 = n.MakeKey(Role::kGate, {"g3"});
  const std::string account = EnrollD3(n, enroller, 10'000);
  auto page = n.Call("GET", "/v1/gates/g3/replica", g3);
  ASSERT_EQ(page.status, 200) << page.raw;
  const std::string hex = page.body["offline_key"];
  std::string key(32, '\0');
  ASSERT_EQ(sodium_hex2bin(reinterpret_cast<unsigned char*>(key.data()), key.size(), hex.data(),
                           hex.size(), nullptr, nullptr, nullptr), 0);
  const int64_t now = payments::SystemClock().NowMs();
  json records = json::array();
  for (int i = 0; i < 6; ++i) {
    flows::OfflineRecord r;
    r.event_id = "forged-" + std::to_string(i);
    r.subject_id = "d3";
    r.event_time_ms = now - 3'600'000 + i * 300'000;  // 5 min apart: no anti-passback
    r.score_milli = 900;
    r.signature = flows::SignOfflineRecord(key, "g3", r);
    records.push_back({{"event_id", r.event_id}, {"subject_id", r.subject_id},
                       {"event_time_ms", r.event_time_ms}, {"score_milli", r.score_milli},
                       {"signature", r.signature}});
  }
  auto res = n.Post("/v1/gates/g3/offline-passages", g3, {{"records", records}});
  ASSERT_EQ(res.status, 200) << res.raw;
  int settled = 0, over = 0;
  for (const auto& x : res.body["results"]) {
    settled += x["result"] == "settled";
    over += x["result"] == "over_limit";
  }
  EXPECT_EQ(settled, flows::OfflineLimits{}.per_person_per_day) << res.raw;
  EXPECT_EQ(over, 6 - flows::OfflineLimits{}.per_person_per_day) << res.raw;
  // The same batch again: nothing more is charged, and the settled ones are not counted twice.
  const int64_t balance = Balance(n, admin, account);
  auto again = n.Post("/v1/gates/g3/offline-passages", g3, {{"records", records}});
  ASSERT_EQ(again.status, 200) << again.raw;
  int already = 0;
  for (const auto& x : again.body["results"]) already += x["result"] == "already_settled";
  EXPECT_EQ(already, flows::OfflineLimits{}.per_person_per_day) << again.raw;
  EXPECT_EQ(Balance(n, admin, account), balance);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, GateOffline, ::testing::Values("sqlite"));

}  // namespace
}  // namespace facepay::testing
