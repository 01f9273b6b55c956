// Issue 13: what an attacker with a terminal key, or none, could do to `facepay serve`. One
// test per finding, named after it, each through the real surface (a server on loopback, raw
// sockets where a well-behaved client cannot express the attack), over SQLite and PostgreSQL.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <thread>
#include <sstream>
#include <openssl/ssl.h>
#include <sqlite3.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "flows_fixture.h"

namespace facepay::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

// A raw TCP connection to the node, for requests no HTTP client library would send.
class RawConn {
 public:
  // `from`: the local address to connect from (127.0.0.2 is loopback too: another client host).
  explicit RawConn(int port, const char* from = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (from != nullptr) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, from, &local.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) return;
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{30, 0};  // a test that hangs fails instead
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawConn() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }
  int fd() const { return fd_; }
  bool Send(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      const ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // One answer on a kept-alive connection: its headers and Content-Length bytes of body.
  std::string ReadOneAnswer() {
    std::string out;
    char c;
    while (out.find("\r\n\r\n") == std::string::npos) {
      if (::recv(fd_, &c, 1, 0) != 1) return out;
      out += c;
    }
    const size_t at = out.find("Content-Length: ");
    size_t body = at == std::string::npos ? 0 : std::stoul(out.substr(at + 16));
    std::string rest(body, '\0');
    size_t got = 0;
    while (got < body) {
      const ssize_t n = ::recv(fd_, rest.data() + got, body - got, 0);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    return out + rest.substr(0, got);
  }
  // Everything the server sends until it closes the connection (or 30 s pass).
  std::string ReadUntilClosed() {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

std::string Nested(const std::string& open, const std::string& close, int depth,
                   const std::string& inner) {
  std::string s;
  s.reserve(depth * (open.size() + close.size()) + inner.size());
  for (int i = 0; i < depth; ++i) s += open;
  s += inner;
  for (int i = 0; i < depth; ++i) s += close;
  return s;
}

class Hardening : public ServiceFlows {
 protected:
  // A node serving HTTPS with a throwaway certificate and the given header deadline.
  void StartTlsNode(int header_timeout_ms, Node*& out) {
    auto tls = MakeSelfSignedCert(ScratchDir());
    ASSERT_TRUE(tls.ok()) << tls.status().ToString();
    NodeOptions o;
    o.tls = *tls;
    o.header_timeout_ms = header_timeout_ms;
    out = &StartNodeWith(o);
  }
};

// Row 1: 100,000 nested objects crashed the server (stack overflow) for any gate key.
TEST_P(Hardening, ADeeplyNestedJsonBodyIsRefusedAndTheServerStaysUp) {
  Node& n = StartNode();
  const std::string gate = n.MakeKey(Role::kGate, {"g1"});
  const std::string objects = Nested("{\"x\":", "}", 100'000, "1");
  auto r = n.Call("POST", "/v1/gates/g1/passages", gate, objects);
  EXPECT_EQ(r.status, 400) << r.raw.substr(0, 200);
  EXPECT_EQ(r.body["error"]["code"], "json_too_deep");
  const std::string arrays = "{\"event_id\": " + Nested("[", "]", 1'000'000, "") + "}";
  r = n.Call("POST", "/v1/gates/g1/passages", gate, arrays);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["error"]["code"], "json_too_deep");
  // Many values in a flat document are bounded too.
  std::string wide = "{\"event_id\": \"e1\", \"pad\": [";
  for (int i = 0; i < 30'000; ++i) wide += "0,";
  wide += "0]}";
  r = n.Call("POST", "/v1/gates/g1/passages", gate, wide);
  EXPECT_EQ(r.body["error"]["code"], "json_too_large") << r.raw;
  EXPECT_EQ(n.Call("GET", "/healthz", "").status, 200);
}

// Row 9: {"amount_minor":5,"amount_minor":500000} topped up 500,000; "12" was taken as 12.
TEST_P(Hardening, DuplicateKeysAndNumbersSentAsStringsAreRefused) {
  Node& n = StartNode();
  const std::string admin = n.MakeKey(Role::kAdmin);
  ASSERT_EQ(n.Post("/v1/accounts", admin, {{"id", "acct:dup"}}).status, 201);
  auto r = n.Call("POST", "/v1/accounts/acct:dup/topups", admin,
                  R"({"idempotency_key": "t1", "amount_minor": 5, "amount_minor": 500000})");
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "json_duplicate_key");
  r = n.Call("POST", "/v1/accounts/acct:dup/topups", admin,
             R"({"idempotency_key": "t2", "amount_minor": "12"})");
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "invalid_amount");
  EXPECT_EQ(Balance(n, admin, "acct:dup"), 0);

  // A form's fields are text: the numeric ones are converted once, strictly; a field sent
  // twice is refused instead of the last one winning.
  httplib::Client cli("127.0.0.1", n.port());
  httplib::Headers h = {{"Authorization", "Bearer " + admin}};
  httplib::MultipartFormDataItems twice = {{"idempotency_key", "t3", "", ""},
                                           {"amount_minor", "5", "", ""},
                                           {"amount_minor", "500000", "", ""}};
  auto m = cli.Post("/v1/accounts/acct:dup/topups", h, twice);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 400) << m->body;
  EXPECT_NE(m->body.find("duplicate_field"), std::string::npos) << m->body;
  httplib::MultipartFormDataItems bad = {{"idempotency_key", "t4", "", ""},
                                         {"amount_minor", "12abc", "", ""}};
  m = cli.Post("/v1/accounts/acct:dup/topups", h, bad);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 400) << m->body;
  httplib::MultipartFormDataItems good = {{"idempotency_key", "t5", "", ""},
                                          {"amount_minor", "12", "", ""}};
  m = cli.Post("/v1/accounts/acct:dup/topups", h, good);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200) << m->body;
  EXPECT_EQ(Balance(n, admin, "acct:dup"), 12);
}

// Row 10: frame_interval_ms as a form field was always refused.
TEST_P(Hardening, FrameIntervalIsAcceptedAsAFormField) {
  Node& n = StartNode();
  const std::string gate = n.MakeKey(Role::kGate, {"g1"});
  httplib::Client cli("127.0.0.1", n.port());
  cli.set_read_timeout(60, 0);
  httplib::Headers h = {{"Authorization", "Bearer " + gate}};
  httplib::MultipartFormDataItems items = {
      {"event_id", "fi-1", "", ""},
      {"frame_interval_ms", "40", "", ""},
      {"frames", ReadBytes(Img("Angelina_Jolie", 15)), "f.jpg", "image/jpeg"}};
  auto m = cli.Post("/v1/gates/g1/passages", h, items);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200) << m->body;
  items[1].content = "fast";
  items[0].content = "fi-2";
  m = cli.Post("/v1/gates/g1/passages", h, items);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 400) << m->body;
  EXPECT_NE(m->body.find("invalid_frame_interval_ms"), std::string::npos) << m->body;
}

// Row 2: the 3-guess limit was per challenge; 51 fresh challenges broke a 4-digit code.
TEST_P(Hardening, StepUpGuessesAcrossFreshChallengesLockTheSubjectOut) {
  biometrics::PolicyThresholds p;  // every genuine match lands in the step-up band
  p.accept = 0.99f;
  p.step_up = 0.3f;
  p.second_factor = 0.3f;
  Node& n = StartNode(p);
  const std::string admin = n.MakeKey(Role::kAdmin);
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string till = n.MakeKey(Role::kMerchant, {"t1"});
  const std::string acct =
      EnrollWithAccount(n, enroller, "alvaro", "Alvaro_Uribe", {7, 10}, 5000, "4321");
  int wrong = 0, order = 0;
  std::string last_code;
  const std::vector<std::string> guesses = {"0000", "1111", "2222", "3333", "5555", "6666"};
  for (const std::string& g : guesses) {
    auto pay = n.Post("/v1/tills/t1/payments", till,
                      {{"order_id", "o-" + std::to_string(++order)}, {"amount_minor", 4000},
                       {"frames", Frames({Img("Alvaro_Uribe", 26)})}});
    ASSERT_EQ(pay.body["decision"]["outcome"], "step_up") << pay.raw;
    auto r = n.Post("/v1/tills/t1/payments/" + pay.body["challenge"]["id"].get<std::string>() +
                        "/step-up",
                    till, {{"phone_last4", g}});
    if (r.status == 429) {
      last_code = r.body["error"]["code"];
      break;
    }
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["decision"]["outcome"], "reject");
    ++wrong;
  }
  EXPECT_EQ(wrong, 5) << "five wrong codes across five challenges, then locked";
  EXPECT_EQ(last_code, "second_factor_locked");
  // The right code no longer helps while the lockout lasts.
  auto pay = n.Post("/v1/tills/t1/payments", till,
                    {{"order_id", "o-right"}, {"amount_minor", 4000},
                     {"frames", Frames({Img("Alvaro_Uribe", 26)})}});
  ASSERT_EQ(pay.body["decision"]["outcome"], "step_up") << pay.raw;
  auto right = n.Post("/v1/tills/t1/payments/" + pay.body["challenge"]["id"].get<std::string>() +
                          "/step-up",
                      till, {{"phone_last4", "4321"}});
  EXPECT_EQ(right.status, 429) << right.raw;
  EXPECT_EQ(Balance(n, admin, acct), 5000);
  auto audit = n.Call("GET", "/v1/audit?action=second_factor_lockout", admin);
  ASSERT_EQ(audit.status, 200);
  ASSERT_EQ(audit.body["items"].size(), 1u) << audit.raw;
  EXPECT_EQ(audit.body["items"][0]["target"], "subject:alvaro");
  // Stored, so a restart or a second node does not forget it.
  auto budget = n.store().GetFactorBudget("subject:alvaro");
  ASSERT_TRUE(budget.ok());
  EXPECT_EQ(budget->lockouts, 1);
  EXPECT_GT(budget->locked_until_ms, 0);
}

// Row 7 (second half) and the verification budget: a live face could be scored 1:1 against
// any account, as often as the caller liked.
TEST_P(Hardening, AtmVerificationsOfOneAccountAreBudgeted) {
  Node& n = StartNode();
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string atm = n.MakeKey(Role::kAtm, {"a1"});
  const std::string acct = EnrollWithAccount(n, enroller, "alvaro", "Alvaro_Uribe", {7, 10}, 20000);
  const std::string card = IssueAtmCard(n, enroller, acct);
  int refused = 0;
  for (int i = 0; i < 6; ++i) {
    auto v = n.Post("/v1/atms/a1/verify", atm,
                    {{"atm_card", card}, {"frames", Frames({Img("Angelina_Jolie", 15)})}});
    if (v.status == 429) {
      EXPECT_EQ(v.body["error"]["code"], "verification_locked");
      break;
    }
    ASSERT_EQ(v.status, 200) << v.raw;
    EXPECT_FALSE(v.body["verified"].get<bool>());
    EXPECT_FALSE(v.body.contains("score")) << "no score oracle: " << v.raw;
    ++refused;
  }
  EXPECT_EQ(refused, 5);
  auto owner = n.Post("/v1/atms/a1/verify", atm,
                      {{"atm_card", card}, {"frames", Frames({Img("Alvaro_Uribe", 26)})}});
  EXPECT_EQ(owner.status, 429) << "locked for everyone until the lockout ends";
}

// The ATM named the account: any ATM key could score a live face 1:1 against an account id of
// its choosing. Now the card names it, and a cancelled or invented card names none.
TEST_P(Hardening, AtmVerifiesOnlyTheAccountItsCardNames) {
  Node& n = StartNode();
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string atm = n.MakeKey(Role::kAtm, {"a1"});
  const std::string alvaro = EnrollWithAccount(n, enroller, "alvaro", "Alvaro_Uribe", {7, 10}, 20000);
  const std::string angelina =
      EnrollWithAccount(n, enroller, "angelina", "Angelina_Jolie", {3, 4, 8}, 20000);
  const std::string card = IssueAtmCard(n, enroller, alvaro);
  ASSERT_EQ(card.size(), 68u);
  const json face = Frames({Img("Alvaro_Uribe", 26)});

  auto named = n.Post("/v1/atms/a1/verify", atm, {{"account_id", alvaro}, {"frames", face}});
  EXPECT_EQ(named.status, 400) << named.raw;
  EXPECT_EQ(named.body["error"]["code"], "card_required");
  auto invented = n.Post("/v1/atms/a1/verify", atm,
                         {{"atm_card", "fpc_" + std::string(64, 'a')}, {"frames", face}});
  EXPECT_EQ(invented.status, 404) << invented.raw;
  EXPECT_EQ(invented.body["error"]["code"], "card_not_found");
  auto garbage = n.Post("/v1/atms/a1/verify", atm, {{"atm_card", "4111111111111111"}, {"frames", face}});
  EXPECT_EQ(garbage.body["error"]["code"], "card_not_found") << garbage.raw;
  auto other = n.Post("/v1/atms/a1/verify", atm,
                      {{"atm_card", card}, {"account_id", angelina}, {"frames", face}});
  EXPECT_EQ(other.status, 400) << other.raw;
  EXPECT_EQ(other.body["error"]["code"], "card_account_mismatch");

  auto ok = n.Post("/v1/atms/a1/verify", atm, {{"atm_card", card}, {"frames", face}});
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_TRUE(ok.body["verified"].get<bool>()) << ok.raw;
  EXPECT_EQ(ok.body["account_id"], alvaro);

  auto issued = n.Post("/v1/accounts/" + alvaro + "/atm-cards", enroller, json::object());
  ASSERT_EQ(issued.status, 201) << issued.raw;
  const std::string second = issued.body["atm_card"];
  auto revoke = n.Call("DELETE", "/v1/atm-cards/" + issued.body["card_id"].get<std::string>(), enroller);
  ASSERT_EQ(revoke.status, 200) << revoke.raw;
  auto cancelled = n.Post("/v1/atms/a1/verify", atm, {{"atm_card", second}, {"frames", face}});
  EXPECT_EQ(cancelled.status, 403) << cancelled.raw;
  EXPECT_EQ(cancelled.body["error"]["code"], "card_revoked");
  auto still = n.Post("/v1/atms/a1/verify", atm, {{"atm_card", card}, {"frames", face}});
  EXPECT_EQ(still.status, 200) << "the first card is untouched: " << still.raw;
}

// Row 7: terminals got exact scores, thresholds, margins and liveness probabilities.
TEST_P(Hardening, TerminalAnswersCarryDecisionsAndOperatorsSeeTheScores) {
  Node& n = StartNode();
  const std::string admin = n.MakeKey(Role::kAdmin);
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string gate = n.MakeKey(Role::kGate, {"g1"});
  const std::string border = n.MakeKey(Role::kBorder, {"b1"});
  EnrollWithAccount(n, enroller, "angelina", "Angelina_Jolie", {3, 4, 8}, 1000);
  auto r = n.Post("/v1/gates/g1/passages", gate,
                  {{"event_id", "s-1"}, {"frames", Frames({Img("Angelina_Jolie", 15)})}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["decision"]["outcome"], "accept");
  for (const char* k : {"score", "margin", "rule"}) {
    EXPECT_FALSE(r.body["decision"].contains(k)) << k << ": " << r.raw;
  }
  EXPECT_FALSE(r.body["probe"].contains("liveness")) << r.raw;
  EXPECT_FALSE(r.body["probe"].contains("quality_score")) << r.raw;
  auto b = n.Post("/v1/borders/b1/checks", border,
                  {{"document_number", "X1"},
                   {"document_photo", Base64(ReadBytes(Img("Angelina_Jolie", 3)))},
                   {"frames", Frames({Img("Angelina_Jolie", 15)})}});
  ASSERT_EQ(b.status, 200) << b.raw;
  EXPECT_EQ(b.body["decision"], "admitted");
  EXPECT_FALSE(b.body["face_match"].contains("score")) << b.raw;
  // The audit log keeps the scores for auditors.
  auto audit = n.Call("GET", "/v1/audit?action=passage", admin);
  ASSERT_EQ(audit.body["items"].size(), 1u);
  EXPECT_TRUE(audit.body["items"][0]["detail"]["decision"].contains("score")) << audit.raw;
  // An operator's own call shows them.
  auto op = n.Post("/v1/gates/g1/passages", admin,
                   {{"event_id", "s-2"}, {"frames", Frames({Img("Angelina_Jolie", 15)})}});
  EXPECT_TRUE(op.body["decision"].contains("score")) << op.raw;
}

// Row 8: any gate key sent a template with {"live": true} and was believed.
TEST_P(Hardening, OnlyGatesConfiguredAsEdgeGatesMaySendATemplate) {
  Node& n = StartNode();
  const std::string gate = n.MakeKey(Role::kGate, {"g1", "g3"});
  std::vector<float> t(512, 0.0f);
  t[0] = 1;
  const json body = {{"event_id", "t-1"}, {"template", t}, {"liveness", {{"live", true}, {"score", 0.0}}}};
  auto r = n.Post("/v1/gates/g1/passages", gate, body);
  EXPECT_EQ(r.status, 403) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "not_an_edge_gate");
  r = n.Post("/v1/gates/g3/passages", gate, body);  // demo.json declares g3 an edge gate
  EXPECT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["decision"]["outcome"], "reject") << "an empty gallery matches no one";
}

// Row 5: an enroller key could add a stranger's photos to a subject, who then paid as them.
TEST_P(Hardening, ImagesOfAnotherPersonCannotBeAddedToASubject) {
  Node& n = StartNode();
  const std::string admin = n.MakeKey(Role::kAdmin);
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string gate = n.MakeKey(Role::kGate, {"g1"});
  const std::string acct = EnrollWithAccount(n, enroller, "alvaro", "Alvaro_Uribe", {7, 10}, 1000);
  const size_t templates = n.gallery().TemplatesOf("alvaro").size();
  auto r = n.Post("/v1/subjects/alvaro/images", enroller,
                  {{"images", Frames({Img("Angelina_Jolie", 3), Img("Angelina_Jolie", 4)})}});
  EXPECT_EQ(r.status, 422) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "images_do_not_match_subject") << r.raw;
  EXPECT_EQ(n.gallery().TemplatesOf("alvaro").size(), templates) << "nothing stored";
  auto pass = n.Post("/v1/gates/g1/passages", gate,
                     {{"event_id", "b-1"}, {"frames", Frames({Img("Angelina_Jolie", 15)})}});
  EXPECT_NE(pass.body["decision"]["outcome"], "accept") << pass.raw;
  EXPECT_EQ(Balance(n, admin, acct), 1000);
  // The subject's own new photos are still welcome.
  r = n.Post("/v1/subjects/alvaro/images", enroller, {{"images", Frames({Img("Alvaro_Uribe", 26)})}});
  EXPECT_EQ(r.status, 201) << r.raw;
}

// Row 3: 8 connections trickling header lines made every other request time out, keyless.
TEST_P(Hardening, HealthChecksAreAnsweredWhileAHundredSlowClientsHoldConnections) {
  Node& n = StartNode();
  // A few served connections first, so the server has idle threads when the burst comes (a
  // pool that counted those as free for every queued connection starved the health checks).
  for (int i = 0; i < 8; ++i) ASSERT_EQ(n.Call("GET", "/healthz/live", "").status, 200);
  std::vector<std::unique_ptr<RawConn>> slow;
  for (int i = 0; i < 100; ++i) {  // connected in one burst, then each sends half a request
    slow.push_back(std::make_unique<RawConn>(n.port()));
    ASSERT_TRUE(slow.back()->ok());
  }
  for (auto& c : slow) ASSERT_TRUE(c->Send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n"));
  const auto t0 = SteadyClock::now();
  for (int i = 0; i < 20; ++i) {
    auto h = n.Call("GET", "/healthz/live", "");
    ASSERT_EQ(h.status, 200) << "request " << i << " while 100 slow connections are held";
  }
  EXPECT_LT(SteadyClock::now() - t0, std::chrono::seconds(5));
}

// Row 3: a request's headers have a total deadline, whatever the client trickles.
TEST_P(Hardening, AConnectionThatNeverFinishesItsHeadersIsClosedAtTheDeadline) {
  NodeOptions o;
  o.header_timeout_ms = 500;
  Node& n = StartNodeWith(o);
  RawConn c(n.port());
  ASSERT_TRUE(c.Send("POST /v1/accounts HTTP/1.1\r\nHost: x\r\n"));
  const auto t0 = SteadyClock::now();
  const std::string got = c.ReadUntilClosed();
  EXPECT_LT(SteadyClock::now() - t0, std::chrono::seconds(4)) << "closed at the deadline";
  EXPECT_EQ(got.rfind("HTTP/1.1 408", 0), 0u) << got;
  EXPECT_NE(got.find("request_timeout"), std::string::npos) << got;
}

// One host held the whole connection budget: a client address now holds at most
// max_connections_per_address connections, and the others are still served.
TEST_P(Hardening, OneAddressCannotTakeTheConnectionsEveryoneElseNeeds) {
  NodeOptions o;
  o.max_connections_per_address = 4;
  Node& n = StartNodeWith(o);
  std::vector<std::unique_ptr<RawConn>> held;
  for (int i = 0; i < 4; ++i) {  // each answered once and kept alive: all 4 are admitted
    held.push_back(std::make_unique<RawConn>(n.port(), "127.0.0.2"));
    ASSERT_TRUE(held.back()->ok());
    ASSERT_TRUE(held.back()->Send("GET /healthz/live HTTP/1.1\r\nHost: x\r\n\r\n"));
    const std::string a = held.back()->ReadOneAnswer();
    ASSERT_EQ(a.rfind("HTTP/1.1 200", 0), 0u) << a;
  }
  RawConn fifth(n.port(), "127.0.0.2");
  ASSERT_TRUE(fifth.ok());
  const std::string refused = fifth.ReadUntilClosed();
  EXPECT_EQ(refused.rfind("HTTP/1.1 503", 0), 0u) << refused;
  EXPECT_NE(refused.find("too_many_connections_from_address"), std::string::npos) << refused;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(n.Call("GET", "/healthz/live", "").status, 200) << "another address is served";
  }
  held.pop_back();  // one closed: that address may connect again
  bool admitted = false;
  for (int attempt = 0; attempt < 50 && !admitted; ++attempt) {  // the close is seen async
    RawConn again(n.port(), "127.0.0.2");
    ASSERT_TRUE(again.Send("GET /healthz/live HTTP/1.1\r\nHost: x\r\n\r\n"));
    admitted = again.ReadOneAnswer().rfind("HTTP/1.1 200", 0) == 0;
    if (!admitted) std::this_thread::yield();
  }
  EXPECT_TRUE(admitted) << "a closed connection gives its place back";
}

// cpp-httplib's TLS server bounded each read only, so a client trickling its headers inside
// TLS records held a connection (and its thread) forever: TLS meets the same total deadline.
TEST_P(Hardening, ATlsClientTricklingItsHeadersIsClosedAtTheDeadline) {
  if (GetParam() != "sqlite") GTEST_SKIP() << "TLS does not depend on the store";
  Node* tls_node = nullptr;
  ASSERT_NO_FATAL_FAILURE(StartTlsNode(800, tls_node));
  Node& n = *tls_node;

  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_NE(ctx, nullptr);
  RawConn c(n.port());
  ASSERT_TRUE(c.ok());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, c.fd());
  ASSERT_EQ(SSL_connect(ssl), 1) << "the handshake itself is served";
  const auto t0 = SteadyClock::now();
  std::string got;
  bool closed = false;
  const std::string first = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  SSL_write(ssl, first.data(), static_cast<int>(first.size()));
  for (int i = 0; i < 40 && !closed; ++i) {  // one header line per 150 ms, for up to 6 s
    pollfd p{c.fd(), POLLIN, 0};
    if (::poll(&p, 1, 150) > 0) {
      char buf[512];
      const int r = SSL_read(ssl, buf, sizeof buf);
      if (r > 0) got.append(buf, static_cast<size_t>(r));
      closed = r <= 0;
      continue;
    }
    const std::string line = "X-Slow-" + std::to_string(i) + ": 1\r\n";
    closed = SSL_write(ssl, line.data(), static_cast<int>(line.size())) <= 0;
  }
  const auto took = SteadyClock::now() - t0;
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  EXPECT_TRUE(closed) << "the server closed the trickling connection";
  EXPECT_LT(took, std::chrono::seconds(4)) << "at the 800 ms header deadline, not per read";
  EXPECT_EQ(got.rfind("HTTP/1.1 408", 0), 0u) << got;
  EXPECT_EQ(n.Call("GET", "/healthz", "").status, 200);
}

// A TLS client that connects and never says hello is dropped at the header deadline.
TEST_P(Hardening, ATlsHandshakeThatNeverArrivesIsDroppedAtTheDeadline) {
  if (GetParam() != "sqlite") GTEST_SKIP() << "TLS does not depend on the store";
  Node* tls_node = nullptr;
  ASSERT_NO_FATAL_FAILURE(StartTlsNode(800, tls_node));
  Node& n = *tls_node;
  RawConn c(n.port());
  ASSERT_TRUE(c.Send("\x16\x03\x01"));  // the first bytes of a ClientHello, then nothing
  const auto t0 = SteadyClock::now();
  EXPECT_EQ(c.ReadUntilClosed(), "");
  EXPECT_LT(SteadyClock::now() - t0, std::chrono::milliseconds(3000));
}

// Row 4: a chunked body was read without bound (600 MiB read in full).
TEST_P(Hardening, AChunkedBodyOverTheLimitIsRefusedWith413) {
  NodeOptions o;
  o.max_body_bytes = 1u << 20;
  Node& n = StartNodeWith(o);
  const std::string admin = n.MakeKey(Role::kAdmin);
  RawConn c(n.port());
  ASSERT_TRUE(c.Send("POST /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + admin +
                     "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk(64 << 10, ' ');
  char head[16];
  std::snprintf(head, sizeof head, "%zx\r\n", chunk.size());
  bool sending = true;
  for (int i = 0; i < 64 && sending; ++i) sending = c.Send(head + chunk + "\r\n");  // 4 MiB
  const std::string got = c.ReadUntilClosed();
  EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got.substr(0, 200);
  EXPECT_NE(got.find("payload_too_large"), std::string::npos) << got.substr(0, 400);
  EXPECT_EQ(n.Call("GET", "/healthz", "").status, 200);
}

// Row 10: a PUT with no body held the connection for 30 s.
TEST_P(Hardening, ABodyWithoutLengthOrChunkingIsAnsweredAtOnceWith411) {
  Node& n = StartNode();
  RawConn c(n.port());
  ASSERT_TRUE(c.Send("PUT /v1/accounts HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto t0 = SteadyClock::now();
  const std::string got = c.ReadUntilClosed();
  EXPECT_LT(SteadyClock::now() - t0, std::chrono::seconds(2));
  EXPECT_EQ(got.rfind("HTTP/1.1 411", 0), 0u) << got;
  EXPECT_NE(got.find("length_required"), std::string::npos) << got;
}

// Row 10: /metrics described facepay_ledger_merchant_balance_minor twice.
TEST_P(Hardening, MetricsDescribeEachFamilyOnce) {
  Node& n = StartNode();
  const std::string auditor = n.MakeKey(Role::kAuditor);
  auto r = n.Call("GET", "/metrics", auditor);
  ASSERT_EQ(r.status, 200);
  std::map<std::string, int> help;
  std::istringstream in(r.raw);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# HELP ", 0) == 0) ++help[line.substr(7, line.find(' ', 7) - 7)];
  }
  ASSERT_TRUE(help.count("facepay_ledger_merchant_balance_minor")) << r.raw;
  for (const auto& [family, count] : help) EXPECT_EQ(count, 1) << family;
  // promtool (Debian `prometheus`) is the reference checker; run it when installed.
  if (std::system("command -v promtool >/dev/null 2>&1") == 0) {  // NOLINT
    const std::string path = ::testing::TempDir() + "/facepay-metrics.txt";
    std::ofstream(path) << r.raw;
    const std::string cmd = "promtool check metrics < '" + path + "' 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[512];
    while (fgets(buf, sizeof buf, p)) out += buf;
    const int rc = pclose(p);
    // promtool exits 3 for lint suggestions only (e.g. units); 1 for invalid exposition.
    EXPECT_NE(WEXITSTATUS(rc), 1) << out;
    EXPECT_EQ(out.find("error"), std::string::npos) << out;
  }
}

// Row 10: /healthz said ok while SQLite was locked and requests got 503.
TEST_P(Hardening, ReadinessFailsWhileTheStoreCannotCommitAndLivenessDoesNot) {
  if (GetParam() != "sqlite") GTEST_SKIP() << "locking the file is a SQLite case";
  Node& n = StartNode();
  EXPECT_EQ(n.Call("GET", "/healthz/ready", "").status, 200);
  sqlite3* db = nullptr;
  const std::string file = loc_->location();
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK) << file;
  ASSERT_EQ(sqlite3_exec(db, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto ready = n.Call("GET", "/healthz/ready", "");
  EXPECT_EQ(ready.status, 503) << ready.raw;
  EXPECT_EQ(ready.body["error"]["code"], "store_not_writable") << ready.raw;
  EXPECT_EQ(n.Call("GET", "/healthz/live", "").status, 200);
  sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  EXPECT_EQ(n.Call("GET", "/healthz/ready", "").status, 200);
}

// The soak (a PostgreSQL restart between a payment's commit and the write of its answer): the
// till was told "approved", and the retry of that answer ran the payment again (by then the
// person had been erased: "no_match"). Now the till is told to retry; the retry runs it again,
// the ledger replays the one charge, and that answer is the one kept.
TEST_P(Hardening, AnAnswerThatCannotBeRecordedIsNotSentAndItsRetryChargesOnce) {
  Node& n = StartNode();
  const std::string admin = n.MakeKey(Role::kAdmin);
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string till = n.MakeKey(Role::kMerchant, {"t1"});
  const std::string acct = EnrollWithAccount(n, enroller, "alvaro", "Alvaro_Uribe", {7, 10}, 5000);
  // The store refuses to record answers (as a full disk or a lost connection would), nothing else.
  const bool sqlite = GetParam() == "sqlite";
  ASSERT_TRUE(loc_->ExecSql(sqlite ? "CREATE TRIGGER refuse_answers BEFORE INSERT ON "
                                     "service_requests BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                                   : "CREATE FUNCTION refuse_answers() RETURNS trigger LANGUAGE "
                                     "plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$; "
                                     "CREATE TRIGGER refuse_answers BEFORE INSERT ON "
                                     "service_requests FOR EACH ROW EXECUTE FUNCTION "
                                     "refuse_answers()")
                  .ok());
  const json pay = {{"order_id", "o-unrecorded"}, {"amount_minor", 700},
                    {"frames", Frames({Img("Alvaro_Uribe", 26)})}};
  auto first = n.Post("/v1/tills/t1/payments", till, pay);
  EXPECT_EQ(first.status, 503) << first.raw;
  EXPECT_EQ(first.body["error"]["code"], "store_unavailable") << first.raw;
  EXPECT_EQ(Balance(n, admin, acct), 4300) << "the charge itself committed";

  ASSERT_TRUE(loc_->ExecSql(sqlite ? "DROP TRIGGER refuse_answers"
                                   : "DROP TRIGGER refuse_answers ON service_requests")
                  .ok());
  auto retry = n.Post("/v1/tills/t1/payments", till, pay);
  ASSERT_EQ(retry.status, 200) << retry.raw;
  EXPECT_EQ(retry.body["decision"]["outcome"], "accept") << retry.raw;
  EXPECT_EQ(retry.body["settlement"]["outcome"], "approved") << retry.raw;
  EXPECT_EQ(retry.body["settlement"]["replayed"], true) << "the ledger's charge, replayed";
  EXPECT_EQ(retry.body["replayed"], false) << retry.raw;
  auto again = n.Post("/v1/tills/t1/payments", till, pay);
  ASSERT_EQ(again.status, 200) << again.raw;
  EXPECT_EQ(again.body["replayed"], true) << again.raw;
  EXPECT_EQ(again.body["decision"], retry.body["decision"]);
  EXPECT_EQ(again.body["settlement"], retry.body["settlement"]);
  EXPECT_EQ(Balance(n, admin, acct), 4300) << "charged once";
}

// Row 10: no access log; 5xx answers left no line.
TEST_P(Hardening, EveryRequestLeavesOneAccessLogLineWithoutSecrets) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256);
  spdlog::default_logger()->sinks().push_back(sink);
  Node& n = StartNode();
  const std::string admin = n.MakeKey(Role::kAdmin);
  auto r = n.Post("/v1/accounts", admin, {{"id", "acct:log"}});
  ASSERT_EQ(r.status, 201);
  n.Call("GET", "/v1/nothing", "");
  n.Stop();  // the line is written after the answer: wait for the server to finish
  auto& sinks = spdlog::default_logger()->sinks();
  sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());
  int create = 0, unmatched = 0;
  for (const std::string& line : sink->last_formatted()) {
    if (line.find("access ") == std::string::npos) continue;
    EXPECT_EQ(line.find(admin.substr(admin.find('.') + 1)), std::string::npos) << "secret: " << line;
    const json j = json::parse(line.substr(line.find('{')), nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    if (j["route"] == "/v1/accounts" && j["status"] == 201) {
      ++create;
      EXPECT_EQ(j["key_id"], admin.substr(0, admin.find('.')));
      EXPECT_TRUE(j.contains("ms"));
      EXPECT_EQ(j["request_id"].get<std::string>().size(), 17u);
    }
    if (j["route"] == "unmatched" && j["status"] == 404) ++unmatched;
  }
  EXPECT_EQ(create, 1);
  EXPECT_EQ(unmatched, 1);
}

INSTANTIATE_TEST_SUITE_P(Stores, Hardening, ::testing::Values("sqlite", "postgres"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace facepay::testing
