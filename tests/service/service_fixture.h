// A real facepay service node for tests: real stores (SQLite file or PostgreSQL database),
// the real model pack, a real HTTP server on 127.0.0.1:0, called with a real HTTP client.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <sodium.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "facepay/biometrics/gallery.h"
#include "facepay/common/env.h"
#include "facepay/node/node.h"
#include "facepay/payments/clock.h"
#include "facepay/payments/ledger.h"
#include "facepay/service/auth.h"
#include "facepay/vision/face_pipeline.h"
#include "support/test_data.h"
#include "support/test_location.h"

namespace facepay::testing {

using nlohmann::json;

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline std::string Base64(const std::string& bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();
  return out;
}

// The shared, immutable part: one loaded pipeline for every node of a test binary (loading
// the model pack per node would dominate the suite's time). Everything else is the node's own.
struct SharedEngine {
  std::unique_ptr<vision::FacePipeline> pipeline;
  std::unique_ptr<vision::SequenceModel> sequence;
  static SharedEngine& Get() {
    static SharedEngine* e = [] {
      auto* s = new SharedEngine;
      auto pack = vision::ModelPack::Load(ModelsDir());
      if (!pack.ok()) return s;
      vision::PipelineOptions opt;
      opt.max_instances = 2;
      auto p = vision::FacePipeline::Create(*pack, opt);
      if (p.ok()) s->pipeline = std::move(*p);
      auto m = vision::SequenceModelFromJson((*pack)->manifest().value("sequence_liveness", json::object()));
      if (m.ok()) s->sequence = std::make_unique<vision::SequenceModel>(*m);
      return s;
    }();
    return *e;
  }
};

// A throwaway self-signed certificate for 127.0.0.1 (made with the `openssl` command that
// scripts/setup installs), for serving HTTPS as `facepay serve --tls-cert/--tls-key` does.
struct TlsFiles {
  std::string cert, key;
};
inline StatusOr<TlsFiles> MakeSelfSignedCert(const std::string& dir) {
  TlsFiles f{dir + "/cert.pem", dir + "/key.pem"};
  const std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
      "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout '" + f.key +
      "' -out '" + f.cert + "' >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) {  // NOLINT(concurrency-mt-unsafe)
    return FailedPrecondition("openssl_failed",
                              "cannot make a test certificate: is `openssl` installed "
                              "(scripts/setup installs it)?");
  }
  return f;
}

struct NodeOptions {
  biometrics::PolicyThresholds policy;
  bool init_key_check = true;
  TlsFiles tls;  // both set: HTTPS
  bool keep_enrollment_images = false;
  size_t max_body_bytes = 48u << 20;
  int header_timeout_ms = 10'000;
  int request_timeout_ms = 60'000;
  int max_connections = 512;
  int max_connections_per_address = 128;
  payments::Clock* clock = nullptr;  // null = the system clock; must outlive the node
  // The node's data folder (keys, watchlist, snapshot). Nodes sharing a store share it, as
  // nodes deployed together share their keys. "" = the SQLite file's folder (PostgreSQL: set it).
  std::string data_dir;
  std::string web_dir;  // "" = no pages
  // The order of kiosks' liveness challenges (an order the test's video performs); null = random.
  const flows::ChallengeOrderSource* challenge_order = nullptr;
};

// One node as `facepay serve` opens it (node::Node::Open: the same composition), on `location`,
// serving on 127.0.0.1:<free port> from a thread of its own.
class Node {
 public:
  static StatusOr<std::unique_ptr<Node>> Start(const std::string& location,
                                               const NodeOptions& options = {}) {
    const TlsFiles& tls = options.tls;
    auto n = std::unique_ptr<Node>(new Node);
    SharedEngine& e = SharedEngine::Get();
    if (!e.pipeline) return FailedPrecondition("no_models", "model pack missing: run scripts/setup");
    node::NodeConfig c;
    c.data_dir = options.data_dir;
    if (c.data_dir.empty()) {
      if (node::IsPostgresLocation(location)) {
        return InvalidArgument("data_dir_required", "a PostgreSQL node needs NodeOptions::data_dir");
      }
      c.data_dir = std::filesystem::path(location).parent_path().string();
    }
    c.store = location;
    c.terminals = std::string(FACEPAY_SOURCE_DIR) + "/config/terminals/demo.json";
    c.pipeline = e.pipeline.get();
    c.sequence = e.sequence.get();
    c.thresholds = options.policy;
    c.init_key_check = options.init_key_check;
    c.clock = options.clock;
    c.challenge_order = options.challenge_order;
    c.card_provider = "simulated";
    c.follow_ms = 100;
    c.make_first_admin_key = false;  // tests make the keys they need
    service::ServiceOptions& so = c.service;
    so.threads = 8;
    so.default_rate_per_s = 1000;
    so.pairing_rate_per_s = 1000;  // every request comes from 127.0.0.1
    so.tls_cert = tls.cert;
    so.tls_key = tls.key;
    so.keep_enrollment_images = options.keep_enrollment_images;
    so.max_body_bytes = options.max_body_bytes;
    so.header_timeout_ms = options.header_timeout_ms;
    so.request_timeout_ms = options.request_timeout_ms;
    so.max_connections = options.max_connections;
    so.max_connections_per_address = options.max_connections_per_address;
    so.web_dir = options.web_dir;
    n->tls_ca_ = tls.cert;
    FACEPAY_ASSIGN_OR_RETURN(n->node_, node::Node::Open(std::move(c)));
    FACEPAY_ASSIGN_OR_RETURN(n->port_, n->node_->Listen("127.0.0.1", 0));
    n->thread_ = std::thread([p = n.get()] { p->node_->Run(); });
    return n;
  }
  ~Node() {
    if (node_) node_->Stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  // Stops accepting and returns once in-flight requests are answered (as SIGTERM does).
  void Stop() {
    node_->Stop();
    if (thread_.joinable()) thread_.join();
  }
  service::ServiceStore& store() { return node_->store(); }
  biometrics::Gallery& gallery() { return node_->gallery(); }
  payments::Ledger& ledger() { return node_->ledger(); }
  // Card accounts charge through it (`facepay serve --card-provider simulated`).
  payments::SimulatedProvider& provider() {
    return *static_cast<payments::SimulatedProvider*>(node_->provider());
  }

  // A key made directly in the store (as `facepay keys create` does).
  std::string MakeKey(service::Role role, std::vector<std::string> bind = {}, double rate = 0) {
    auto k = service::MakeApiKey(role, std::move(bind), "test", rate, clock_.NowMs());
    EXPECT_TRUE(k.ok()) << k.status().ToString();
    EXPECT_TRUE(store().PutKey(k->record).ok());
    return k->token;
  }

  struct Res {
    int status = 0;
    json body;
    std::string raw;
  };
  Res Call(const std::string& method, const std::string& path, const std::string& token,
           const std::string& body = "", const std::string& content_type = "application/json") {
    // HTTPS nodes are called over TLS, verifying the node's certificate and host name.
    std::unique_ptr<httplib::Client> owned;
    if (tls_ca_.empty()) {
      owned = std::make_unique<httplib::Client>("127.0.0.1", port_);
    } else {
      owned = std::make_unique<httplib::Client>("https://127.0.0.1:" + std::to_string(port_));
      owned->set_ca_cert_path(tls_ca_.c_str());
      owned->enable_server_certificate_verification(true);
    }
    httplib::Client& cli = *owned;
    cli.set_read_timeout(60, 0);
    httplib::Headers h;
    if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
    httplib::Result r = method == "GET"      ? cli.Get(path.c_str(), h)
                        : method == "DELETE" ? cli.Delete(path.c_str(), h)
                                             : cli.Post(path.c_str(), h, body, content_type.c_str());
    Res out;
    if (!r) return out;
    out.status = r->status;
    out.raw = r->body;
    out.body = json::parse(r->body, nullptr, false);
    return out;
  }
  Res Post(const std::string& path, const std::string& token, const json& body) {
    return Call("POST", path, token, body.dump());
  }

 private:
  Node() = default;
  payments::SystemClock clock_;
  std::unique_ptr<node::Node> node_;
  std::thread thread_;
  int port_ = 0;
  std::string tls_ca_;  // the node's certificate when it serves HTTPS
};

}  // namespace facepay::testing
