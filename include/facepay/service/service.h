// The facepay HTTP service: terminals and operators talk to it (API under /v1, see
// docs/api.md and GET /v1/openapi.json). It is the only place where a face becomes a payer:
// it runs the probe through the face pipeline, the gallery and the decision policy, then moves
// money through the ledger, idempotently, and audits every decision.
//
// Lifecycle: Create() wires the parts (all owned by the caller and outliving the Service),
// Listen() binds (port 0 = any free port), Run() serves until Stop(); Stop() stops accepting,
// lets in-flight requests finish and returns. Handlers run on a pool of `threads` threads.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "facepay/biometrics/biometric_store.h"
#include "facepay/biometrics/decision_policy.h"
#include "facepay/biometrics/gallery.h"
#include "facepay/biometrics/template_crypto.h"
#include "facepay/flows/liveness_challenge_flow.h"
#include "facepay/flows/offline.h"
#include "facepay/payments/clock.h"
#include "facepay/payments/ledger.h"
#include "facepay/service/service_store.h"
#include "facepay/service/terminals.h"
#include "facepay/vision/face_pipeline.h"
#include "facepay/vision/sequence_liveness.h"

namespace facepay::service {

struct ServiceDeps {
  const vision::FacePipeline* pipeline = nullptr;
  const vision::SequenceModel* sequence = nullptr;  // null: single-frame liveness only
  biometrics::BiometricStore* bio_store = nullptr;
  biometrics::Gallery* gallery = nullptr;
  const biometrics::TemplateKey* template_key = nullptr;  // 1:1 checks open templates
  biometrics::StoredPolicy policy;
  biometrics::Gallery* watchlist = nullptr;  // border 1:N; null = no watchlist
  payments::Ledger* ledger = nullptr;
  ServiceStore* store = nullptr;
  payments::Clock* clock = nullptr;
  Terminals terminals;
  std::string border_hash_key;  // >= 16 bytes; keys the document-number hashes
  // >= 16 bytes; derives each edge gate's key for signing its offline passages
  // (flows::GateOfflineKey). Nodes sharing a store must share it.
  std::string offline_secret;
  // The order of kiosks' active liveness challenges; null = random (CSPRNG). Tests and demos
  // that play a recorded video pass a fixed one (facepay serve --fixed-challenge-order).
  const flows::ChallengeOrderSource* challenge_order = nullptr;
};

struct ServiceOptions {
  size_t max_body_bytes = 48u << 20;  // whole request (8 images of 8 MiB, base64)
  double default_rate_per_s = 100;    // per key, when the key has no rate of its own
  int64_t challenge_ttl_ms = 120'000;  // step-up and ATM verification validity
  float verify_threshold = 0.41f;      // 1:1 (ATM, border document): LFW FAR 1e-4
  float watchlist_threshold = 0.48f;   // border watchlist hit
  int threads = 8;                     // route handlers running at once (CPU-bound work)
  // Connection handling (HTTP and HTTPS; see src/service/http_server.h): a request's headers
  // (and a TLS handshake) must arrive within header_timeout_ms of its first byte, its body
  // within request_timeout_ms; each connection has its own thread, up to max_connections, of
  // which one client address holds at most max_connections_per_address (then 503).
  int header_timeout_ms = 10'000;
  int request_timeout_ms = 60'000;
  int max_connections = 512;
  int max_connections_per_address = 128;
  bool access_log = true;  // one JSON line per request on the server log (spdlog, stderr)
  std::string tls_cert, tls_key;  // both set: HTTPS
  // Keep the source image of every enrolled template, sealed with the template key, for an
  // auditor to fetch (GET /v1/subjects/{id}/images/{template_id}) and erased with the subject.
  // Off: no raw image is stored anywhere.
  bool keep_enrollment_images = false;
  // What the server settles of an edge gate's offline passages per event day, whatever the
  // gate signed (flows/offline.h).
  flows::OfflineLimits offline_limits;
  // Pairing attempts per second per client address (POST /v1/pairing needs no key).
  double pairing_rate_per_s = 2;
  // The terminal screens and the dashboard (web/, docs/terminals.md) are served from this
  // folder; empty: no pages, the API only.
  std::string web_dir;
};

class Service {
 public:
  // Creates the system accounts the terminals settle into when missing (revenue, merchants,
  // ATM cash, the top-up desk). Errors: missing dependencies, store errors, tls files.
  static StatusOr<std::unique_ptr<Service>> Create(ServiceDeps deps, ServiceOptions options);
  ~Service();

  // Binds host:port (0 = any free port) and returns the port. Unavailable("bind_failed").
  StatusOr<int> Listen(const std::string& host, int port);
  void Run();   // blocks until Stop()
  void Stop();  // thread-safe, idempotent

  struct Impl;

 private:
  explicit Service(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Makes a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) leave one line on stderr
// naming the signal and the request id the crashing thread was serving, then lets the process
// die as it would have. Not installed under AddressSanitizer (it reports crashes itself).
void InstallCrashLog();

}  // namespace facepay::service
