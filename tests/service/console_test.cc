// What the terminal screens and the dashboard need from a real server on loopback: the pages
// served (and nothing else), who a key is, keys and terminals managed over HTTP, a frame check
// that tells a person what to do, and self-service erasure with face and PIN.
#include <httplib.h>

#include <filesystem>
#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "flows_fixture.h"

namespace facepay::testing {
namespace {

using service::Role;

void WriteText(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

std::string Jpeg(const cv::Mat& m) {
  std::vector<uint8_t> b;
  cv::imencode(".jpg", m, b);
  return Base64(std::string(b.begin(), b.end()));
}

TEST_P(ServiceFlows, ThePagesAreServedWithAStrictPolicyAndNothingOutsideTheirFolder) {
  const std::filesystem::path root = std::filesystem::path(::testing::TempDir()) / ("web-" + GetParam());
  std::filesystem::remove_all(root);
  WriteText(root / "web" / "admin.html", "<html>admin</html>");
  WriteText(root / "web" / "gate.html", "<html>gate</html>");
  WriteText(root / "web" / "common" / "api.js", "export const x = 1;");
  WriteText(root / "web" / "notes.key", "not a served type");
  WriteText(root / "web" / ".hidden.js", "hidden");
  WriteText(root / "secret.js", "outside the folder");
  std::filesystem::create_symlink(root / "secret.js", root / "web" / "link.js");
  NodeOptions o;
  o.web_dir = (root / "web").string();
  Node& n = StartNodeWith(o);
  httplib::Client cli("127.0.0.1", n.port());
  auto admin = cli.Get("/admin");
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->status, 200);
  EXPECT_EQ(admin->body, "<html>admin</html>");
  EXPECT_NE(admin->get_header_value("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(admin->get_header_value("X-Frame-Options"), "DENY");
  EXPECT_EQ(admin->get_header_value("Cache-Control"), "no-store");
  auto gate = cli.Get("/kiosk/gate/g1");
  ASSERT_TRUE(gate);
  EXPECT_EQ(gate->body, "<html>gate</html>");
  auto js = cli.Get("/web/common/api.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_EQ(js->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  auto root_page = cli.Get("/");
  ASSERT_TRUE(root_page);
  EXPECT_EQ(root_page->status, 302);
  EXPECT_EQ(root_page->get_header_value("Location"), "/admin");
  // Outside the folder, hidden, of no served type, through a link out, or a missing page: 404.
  for (const char* p : {"/web/../secret.js", "/web/%2e%2e/secret.js", "/web/.hidden.js",
                        "/web/notes.key", "/web/link.js", "/kiosk/till/t1", "/kiosk/toaster/x",
                        "/web/common/", "/web//etc/passwd"}) {
    auto r = cli.Get(p);
    ASSERT_TRUE(r) << p;
    EXPECT_EQ(r->status, 404) << p << " " << r->body;
    EXPECT_EQ(r->body.find("outside the folder"), std::string::npos) << p;
  }
  // The API still answers beside the pages.
  EXPECT_EQ(n.Call("GET", "/healthz", "").status, 200);
}

TEST_P(ServiceFlows, ASessionSaysWhoAKeyIsAndAKeyRevokedOverHttpIsRefusedWithinASecond) {
  Node& n = StartNodeOnManualClock();
  const std::string admin = n.MakeKey(Role::kAdmin);
  auto made = n.Post("/v1/keys", admin, {{"role", "gate"}, {"bindings", {"g1"}}, {"label", "turnstile 1"}});
  ASSERT_EQ(made.status, 201) << made.raw;
  const std::string token = made.body["token"];
  const std::string key_id = made.body["key_id"];
  auto who = n.Call("GET", "/v1/session", token);
  ASSERT_EQ(who.status, 200) << who.raw;
  EXPECT_EQ(who.body["role"], "gate");
  EXPECT_EQ(who.body["key_id"], key_id);
  EXPECT_EQ(who.body["bindings"], json::array({"g1"}));
  EXPECT_EQ(who.body["label"], "turnstile 1");
  // Listed without any secret; newest first.
  auto list = n.Call("GET", "/v1/keys", admin);
  ASSERT_EQ(list.status, 200) << list.raw;
  EXPECT_EQ(list.raw.find(token.substr(token.find('.') + 1)), std::string::npos);
  EXPECT_EQ(list.raw.find("secret"), std::string::npos);
  bool listed = false;
  for (const auto& k : list.body["items"]) listed = listed || k["key_id"] == key_id;
  EXPECT_TRUE(listed);
  // Only an admin manages keys; a gate key needs a binding; a role must exist.
  EXPECT_EQ(n.Post("/v1/keys", token, {{"role", "admin"}}).status, 403);
  EXPECT_EQ(n.Call("GET", "/v1/keys", token).status, 403);
  EXPECT_EQ(n.Post("/v1/keys", admin, {{"role", "gate"}}).body["error"]["code"], "binding_required");
  EXPECT_EQ(n.Post("/v1/keys", admin, {{"role", "wizard"}}).body["error"]["code"], "invalid_role");
  EXPECT_EQ(n.Post("/v1/keys", admin, {{"role", "gate"}, {"bindings", "g1"}}).body["error"]["code"],
            "invalid_binding");
  EXPECT_EQ(n.Call("DELETE", "/v1/keys/knope", admin).status, 404);
  ASSERT_EQ(n.Call("DELETE", "/v1/keys/" + key_id, admin).status, 200);
  // The node that revoked it refuses it at once (its key cache forgets the key), with no wait.
  auto gone = n.Call("GET", "/v1/session", token);
  EXPECT_EQ(gone.status, 401) << gone.raw;
}

TEST_P(ServiceFlows, TheTerminalListSaysWhichArePairedAndWhenEachWasLastSeen) {
  Node& n = StartNodeOnManualClock();
  const std::string admin = n.MakeKey(Role::kAdmin);
  const std::string auditor = n.MakeKey(Role::kAuditor);
  auto code = n.Post("/v1/pairing-codes", admin, {{"kind", "gate"}, {"id", "g2"}});
  ASSERT_EQ(code.status, 201) << code.raw;
  auto paired = n.Post("/v1/pairing", "", {{"code", code.body["code"]}});
  ASSERT_EQ(paired.status, 201) << paired.raw;
  auto desk = n.Post("/v1/pairing-codes", admin, {{"kind", "kiosk"}, {"id", "desk-9"}});
  ASSERT_EQ(n.Post("/v1/pairing", "", {{"code", desk.body["code"]}}).status, 201);
  auto find = [&](const json& list, const std::string& kind, const std::string& id) {
    for (const auto& t : list["terminals"]) {
      if (t["kind"] == kind && t["id"] == id) return t;
    }
    return json();
  };
  auto before = n.Call("GET", "/v1/terminals", auditor);
  ASSERT_EQ(before.status, 200) << before.raw;
  EXPECT_TRUE(find(before.body, "gate", "g2")["paired"].get<bool>());
  EXPECT_TRUE(find(before.body, "gate", "g2")["last_seen_ms"].is_null());
  EXPECT_FALSE(find(before.body, "gate", "g1")["paired"].get<bool>());
  EXPECT_TRUE(find(before.body, "kiosk", "desk-9")["paired"].get<bool>());
  EXPECT_FALSE(find(before.body, "till", "t1").is_null());
  clock_.AdvanceMs(5000);
  ASSERT_EQ(n.Call("GET", "/v1/session", paired.body["token"]).status, 200);
  auto after = n.Call("GET", "/v1/terminals", auditor);
  EXPECT_EQ(find(after.body, "gate", "g2")["last_seen_ms"], clock_.NowMs());
  EXPECT_EQ(n.Call("GET", "/v1/terminals", paired.body["token"]).status, 403);
}

TEST_P(ServiceFlows, AFrameCheckTellsThePersonAtTheCameraWhatToDo) {
  Node& n = StartNode();
  const std::string gate = n.MakeKey(Role::kGate, {"g1"});
  const cv::Mat face = cv::imread(Img("Angelina_Jolie", 3));
  ASSERT_FALSE(face.empty());
  auto check = [&](const cv::Mat& m) {
    auto r = n.Post("/v1/frames/check", gate, {{"frame", Jpeg(m)}});
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body;
  };
  auto close = check(face);
  EXPECT_EQ(close["hint"], "ok") << close;
  EXPECT_EQ(close["face"], "ok");
  EXPECT_GT(close["face_height_ratio"].get<double>(), 0.3);
  EXPECT_EQ(close["box"].size(), 4u);
  // The same face, alone (LFW's background faces cropped off), small in a large frame.
  const cv::Mat alone = face(cv::Rect(55, 45, 140, 160));
  cv::Mat far(1400, 1400, CV_8UC3, cv::Scalar(90, 90, 90));
  alone.copyTo(far(cv::Rect(630, 620, alone.cols, alone.rows)));
  EXPECT_EQ(check(far)["hint"], "move_closer");
  cv::Mat two;
  cv::hconcat(face, cv::imread(Img("Alvaro_Uribe", 10)), two);
  EXPECT_EQ(check(two)["hint"], "multiple_faces");
  EXPECT_EQ(check(cv::Mat(480, 640, CV_8UC3, cv::Scalar(120, 120, 120)))["hint"], "no_face");
  cv::Mat dark;
  face.convertTo(dark, -1, 0.12, 0);
  const std::string dark_hint = check(dark)["hint"];
  EXPECT_TRUE(dark_hint == "too_dark" || dark_hint == "no_face") << dark_hint;
  // Exactly one frame; nothing for a key that is not a terminal's or a desk's.
  EXPECT_EQ(n.Post("/v1/frames/check", gate, {{"frame", json::array({Jpeg(face), Jpeg(face)})}})
                .body["error"]["code"],
            "missing_frame");
  EXPECT_EQ(n.Post("/v1/frames/check", n.MakeKey(Role::kAuditor), {{"frame", Jpeg(face)}}).status, 403);
}

TEST_P(ServiceFlows, SelfServiceErasureNeedsBothTheFaceAndItsPin) {
  Node& n = StartNode();
  const std::string enroller = n.MakeKey(Role::kEnroller);
  const std::string gate = n.MakeKey(Role::kGate, {"g1"});
  ASSERT_EQ(n.Post("/v1/accounts", enroller, {{"id", "acct:ana"}}).status, 201);
  auto enrolled = n.Post("/v1/subjects", enroller,
                         {{"id", "ana"},
                          {"consent", {{"text_version", "v1"}, {"channel", "kiosk"}}},
                          {"account_id", "acct:ana"},
                          {"pin", "4821"},
                          {"images", Frames({Img("Angelina_Jolie", 3), Img("Angelina_Jolie", 4)})}});
  ASSERT_EQ(enrolled.status, 201) << enrolled.raw;
  const json ana = Frames({Img("Angelina_Jolie", 15)});
  const json stranger = Frames({Img("Alvaro_Uribe", 10)});
  auto erase = [&](const json& frames, const std::string& pin) {
    auto r = n.Post("/v1/kiosks/desk-1/erasures", enroller, {{"frames", frames}, {"pin", pin}});
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body;
  };
  // The PIN alone (another face) or the face alone (a wrong PIN) erase nothing.
  EXPECT_EQ(erase(stranger, "4821")["result"], "not_recognised");
  EXPECT_EQ(erase(ana, "1111")["result"], "not_recognised");
  EXPECT_EQ(n.Call("GET", "/v1/subjects/ana", enroller).body["templates"], 2);
  auto done = erase(ana, "4821");
  EXPECT_EQ(done["result"], "erased") << done;
  EXPECT_EQ(done["subject_id"], "ana");
  EXPECT_FALSE(done["kept"].empty());
  // The gate no longer knows her; the erasure is audited.
  auto passage = n.Post("/v1/gates/g1/passages", gate, {{"event_id", "after-erase"}, {"frames", ana}});
  EXPECT_EQ(passage.body["decision"]["outcome"], "reject") << passage.raw;
  auto audit = n.Call("GET", "/v1/audit?action=erase_by_face", n.MakeKey(Role::kAuditor));
  ASSERT_EQ(audit.status, 200) << audit.raw;
  EXPECT_EQ(audit.body["items"].size(), 3u);
  EXPECT_EQ(n.Post("/v1/kiosks/desk-1/erasures", enroller, {{"frames", ana}, {"pin", "12"}})
                .body["error"]["code"],
            "invalid_pin");
  EXPECT_EQ(n.Post("/v1/kiosks/desk-1/erasures", gate, {{"frames", ana}, {"pin", "4821"}}).status, 403);
}

}  // namespace
}  // namespace facepay::testing
