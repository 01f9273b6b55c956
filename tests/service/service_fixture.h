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
#include "facepay/biometrics/gallery_follower.h"
#include "facepay/common/env.h"
#include "facepay/payments/clock.h"
#include "facepay/payments/ledger.h"
#include "facepay/service/auth.h"
#include "facepay/service/service.h"
#include "facepay/storage/biometric_stores.h"
#include "facepay/storage/ledger_stores.h"
#include "facepay/storage/service_stores.h"
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

// The shared, immutable parts: one pipeline and template key for every node of a test binary.
struct SharedEngine {
  std::unique_ptr<vision::FacePipeline> pipeline;
  std::unique_ptr<vision::SequenceModel> sequence;
  std::unique_ptr<biometrics::TemplateKey> key;
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
      s->key = std::make_unique<biometrics::TemplateKey>(biometrics::TemplateKey::Generate());
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
};

// One `facepay serve` node over `location`.
class Node {
 public:
  static StatusOr<std::unique_ptr<Node>> Start(const std::string& location,
                                               const NodeOptions& options = {}) {
    const TlsFiles& tls = options.tls;
    auto n = std::unique_ptr<Node>(new Node);
    SharedEngine& e = SharedEngine::Get();
    if (!e.pipeline) return FailedPrecondition("no_models", "model pack missing: run scripts/setup");
    FACEPAY_ASSIGN_OR_RETURN(n->ledger_store_, storage::OpenLedgerStore(location));
    FACEPAY_ASSIGN_OR_RETURN(n->bio_store_, storage::OpenBiometricStore(location));
    FACEPAY_ASSIGN_OR_RETURN(n->store_, storage::OpenServiceStore(location));
    // The watchlist as `facepay serve` keeps it: on PostgreSQL in the schema
    // facepay_watchlist of the shared database; on SQLite a file of the node's data folder
    // (here a fresh directory removed with the node).
    if (location.rfind("postgres", 0) == 0) {
      FACEPAY_ASSIGN_OR_RETURN(n->wl_store_,
                               storage::OpenPgBiometricStore(location, "facepay_watchlist"));
    } else {
      std::string tmpl = ::testing::TempDir() + "/facepay-wl-XXXXXX";
      if (mkdtemp(tmpl.data()) == nullptr) return Internal("mkdtemp_failed", tmpl);
      n->wl_dir_ = tmpl;
      FACEPAY_ASSIGN_OR_RETURN(n->wl_store_,
                               storage::OpenSqliteBiometricStore(n->wl_dir_ + "/watchlist.db"));
    }
    biometrics::GalleryOptions go;
    go.model_id = e.pipeline->pack().params().embedder_model_id;
    go.dim = e.pipeline->pack().params().embedding_dim;
    go.init_key_check = options.init_key_check;
    FACEPAY_ASSIGN_OR_RETURN(n->gallery_, biometrics::Gallery::Open(*n->bio_store_, *e.key, go));
    go.init_key_check = true;
    FACEPAY_ASSIGN_OR_RETURN(n->watchlist_, biometrics::Gallery::Open(*n->wl_store_, *e.key, go));
    n->ledger_ = std::make_unique<payments::Ledger>(*n->ledger_store_, n->clock_, &n->provider_);
    FACEPAY_ASSIGN_OR_RETURN(auto terminals, service::LoadTerminals(
                                                 std::string(FACEPAY_SOURCE_DIR) +
                                                 "/config/terminals/demo.json"));
    service::ServiceDeps d;
    d.pipeline = e.pipeline.get();
    d.sequence = e.sequence.get();
    d.bio_store = n->bio_store_.get();
    d.gallery = n->gallery_.get();
    d.template_key = e.key.get();
    d.policy.thresholds = options.policy;
    d.watchlist = n->watchlist_.get();
    d.ledger = n->ledger_.get();
    d.store = n->store_.get();
    d.clock = &n->clock_;
    d.terminals = std::move(terminals);
    d.border_hash_key = "test-border-hash-key-0123456789";
    service::ServiceOptions so;
    so.threads = 8;
    so.default_rate_per_s = 1000;
    so.tls_cert = tls.cert;
    so.tls_key = tls.key;
    so.keep_enrollment_images = options.keep_enrollment_images;
    so.max_body_bytes = options.max_body_bytes;
    so.header_timeout_ms = options.header_timeout_ms;
    so.request_timeout_ms = options.request_timeout_ms;
    so.max_connections = options.max_connections;
    n->tls_ca_ = tls.cert;
    FACEPAY_ASSIGN_OR_RETURN(n->service_, service::Service::Create(std::move(d), so));
    FACEPAY_ASSIGN_OR_RETURN(n->port_, n->service_->Listen("127.0.0.1", 0));
    biometrics::GalleryFollowerOptions fo;
    fo.interval_ms = 100;
    n->follower_ = std::make_unique<biometrics::GalleryFollower>(*n->gallery_, fo);
    n->follower_->Start();
    n->wl_follower_ = std::make_unique<biometrics::GalleryFollower>(*n->watchlist_, fo);
    n->wl_follower_->Start();
    n->thread_ = std::thread([p = n.get()] { p->service_->Run(); });
    return n;
  }
  ~Node() {
    if (service_) service_->Stop();
    if (thread_.joinable()) thread_.join();
    if (follower_) follower_->Stop();
    if (wl_follower_) wl_follower_->Stop();
    watchlist_.reset();
    wl_store_.reset();
    std::error_code ec;
    if (!wl_dir_.empty()) std::filesystem::remove_all(wl_dir_, ec);
  }

  int port() const { return port_; }
  // Stops accepting and returns once in-flight requests are answered (as SIGTERM does).
  void Stop() {
    service_->Stop();
    if (thread_.joinable()) thread_.join();
  }
  service::ServiceStore& store() { return *store_; }
  biometrics::Gallery& gallery() { return *gallery_; }
  payments::Ledger& ledger() { return *ledger_; }
  // Card accounts charge through it (`facepay serve --card-provider simulated`).
  payments::SimulatedProvider& provider() { return provider_; }

  // A key made directly in the store (as `facepay keys create` does).
  std::string MakeKey(service::Role role, std::vector<std::string> bind = {}, double rate = 0) {
    auto k = service::MakeApiKey(role, std::move(bind), "test", rate, clock_.NowMs());
    EXPECT_TRUE(k.ok()) << k.status().ToString();
    EXPECT_TRUE(store_->PutKey(k->record).ok());
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
  payments::SimulatedProvider provider_;
  std::unique_ptr<payments::LedgerStore> ledger_store_;
  std::unique_ptr<biometrics::BiometricStore> bio_store_;
  std::unique_ptr<service::ServiceStore> store_;
  std::unique_ptr<biometrics::BiometricStore> wl_store_;
  std::unique_ptr<biometrics::Gallery> gallery_;
  std::unique_ptr<biometrics::Gallery> watchlist_;
  std::unique_ptr<payments::Ledger> ledger_;
  std::unique_ptr<service::Service> service_;
  std::unique_ptr<biometrics::GalleryFollower> follower_;
  std::unique_ptr<biometrics::GalleryFollower> wl_follower_;
  std::thread thread_;
  int port_ = 0;
  std::string wl_dir_;
  std::string tls_ca_;  // the node's certificate when it serves HTTPS
};

}  // namespace facepay::testing
