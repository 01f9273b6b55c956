// The fixture of the service flow tests: one store per parameter ("sqlite", "postgres"),
// nodes started on it, and helpers to enroll real LFW faces and make camera bursts.
#pragma once

#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "service_fixture.h"

namespace facepay::testing {

using service::Role;

class ServiceFlows : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    FACEPAY_DATA_PATH_OR_RETURN(lfw, "lfw-view1/images");
    FACEPAY_DATA_PATH_OR_RETURN(nuaa, "nuaa-train/print/0001");
    lfw_ = lfw;
    nuaa_ = nuaa;
    auto loc = TestLocation::Create(GetParam(), "facepay.db");
    ASSERT_TRUE(loc.ok()) << loc.status().ToString();
    loc_ = std::move(*loc);
    if (GetParam() == "postgres") {  // the nodes' shared data folder (keys, watchlist)
      std::string dir = ::testing::TempDir() + "/facepay-node-XXXXXX";
      ASSERT_NE(mkdtemp(dir.data()), nullptr);
      data_dir_ = dir;
    }
  }
  void TearDown() override {
    nodes_.clear();
    loc_.reset();
    std::error_code ec;
    if (!data_dir_.empty()) std::filesystem::remove_all(data_dir_, ec);
    for (const auto& d : scratch_dirs_) std::filesystem::remove_all(d, ec);
  }
  // A new empty folder, removed after the test (certificates, exported files).
  std::string ScratchDir() {
    std::string dir = ::testing::TempDir() + "/facepay-scratch-XXXXXX";
    if (mkdtemp(dir.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << dir;
      return ::testing::TempDir();
    }
    scratch_dirs_.push_back(dir);
    return dir;
  }
  Node& StartNode(biometrics::PolicyThresholds policy = {}, bool keep_images = false) {
    NodeOptions o;
    o.policy = policy;
    o.keep_enrollment_images = keep_images;
    return StartNodeWith(o);
  }
  // A node whose clock only moves by clock_.AdvanceMs (key cache, rate limits, challenges).
  Node& StartNodeOnManualClock() {
    NodeOptions o;
    o.clock = &clock_;
    return StartNodeWith(o);
  }
  Node& StartNodeWith(NodeOptions o) {
    if (o.data_dir.empty()) o.data_dir = data_dir_;
    auto n = Node::Start(loc_->location(), o);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    nodes_.push_back(std::move(*n));
    return *nodes_.back();
  }
  std::string Img(const std::string& person, int i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "_%04d.jpg", i);
    return lfw_ + "/" + person + "/" + person + buf;
  }
  json Frames(const std::vector<std::string>& paths) {
    json a = json::array();
    for (const auto& p : paths) a.push_back(Base64(ReadBytes(p)));
    return a;
  }
  // Account + enrollment through the API; returns the account id.
  std::string EnrollWithAccount(Node& n, const std::string& enroller, const std::string& subject,
                                const std::string& person, std::vector<int> images,
                                int64_t balance, const std::string& phone = "") {
    const std::string account = "acct:" + subject;
    auto r = n.Post("/v1/accounts", enroller, {{"id", account}});
    EXPECT_EQ(r.status, 201) << r.raw;
    r = n.Post("/v1/accounts/" + account + "/topups", enroller,
               {{"idempotency_key", "open-" + subject}, {"amount_minor", balance}});
    EXPECT_EQ(r.status, 200) << r.raw;
    std::vector<std::string> paths;
    for (int i : images) paths.push_back(Img(person, i));
    json body = {{"id", subject},
                 {"display_name", person},
                 {"consent", {{"text_version", "v1"}, {"channel", "kiosk"}}},
                 {"account_id", account},
                 {"images", Frames(paths)}};
    if (!phone.empty()) body["phone_last4"] = phone;
    r = n.Post("/v1/subjects", enroller, body);
    EXPECT_EQ(r.status, 201) << r.raw;
    return account;
  }
  // A camera burst: `count` frames of a real video from `from_ms`, one every `every_ms`, JPEG.
  json VideoBurst(const std::string& video, double from_ms, int count, double every_ms) {
    json a = json::array();
    cv::VideoCapture cap(video);
    EXPECT_TRUE(cap.isOpened()) << video;
    const double fps = cap.get(cv::CAP_PROP_FPS) > 1 ? cap.get(cv::CAP_PROP_FPS) : 30;
    cv::Mat f;
    double next_ms = from_ms;
    for (int i = 0; static_cast<int>(a.size()) < count && cap.read(f); ++i) {
      if (i / fps * 1000 + 1e-6 < next_ms) continue;
      next_ms += every_ms;
      std::vector<uint8_t> jpg;
      cv::imencode(".jpg", f, jpg, {cv::IMWRITE_JPEG_QUALITY, 92});
      a.push_back(Base64(std::string(jpg.begin(), jpg.end())));
    }
    EXPECT_EQ(static_cast<int>(a.size()), count) << video;
    return a;
  }
  // Issues an ATM card for `account`; returns the token the card carries.
  std::string IssueAtmCard(Node& n, const std::string& enroller, const std::string& account) {
    auto r = n.Post("/v1/accounts/" + account + "/atm-cards", enroller, nlohmann::json::object());
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("atm_card", "");
  }

  int64_t Balance(Node& n, const std::string& admin, const std::string& account) {
    auto r = n.Call("GET", "/v1/accounts/" + account, admin);
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body.value("balance_minor", int64_t{-1});
  }

  std::string lfw_, nuaa_;
  // Declared before nodes_: outlives them.
  payments::ManualClock clock_{payments::SystemClock().NowMs()};
  std::string data_dir_;  // PostgreSQL nodes' data folder ("" on SQLite: the file's folder)
  std::vector<std::string> scratch_dirs_;  // folders ScratchDir() made, removed at TearDown
  std::unique_ptr<TestLocation> loc_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

}  // namespace facepay::testing
