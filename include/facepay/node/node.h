// Node: one facepay server put together in one place, the composition root that `facepay
// serve`, `facepay demo seed`, the service tests and (later) `facepay gate` share, so the
// composition they run is the one that is tested. Shaped like LevelDB's DB::Open: a config in,
// an open node (or the reason it cannot open) out.
//
// The data folder (NodeConfig::data_dir) holds, created on first start:
//   facepay.db        SQLite store (subjects, templates, ledger, keys, audit), unless `store`
//                     names a PostgreSQL database shared by several nodes
//   template.key      the key sealing templates and snapshots (0600; back it up)
//   border.key        the key hashing document numbers at border posts (0600)
//   offline.key       the secret each edge gate's offline-signing key derives from (0600)
//   watchlist.db      the border watchlist (SQLite only; on PostgreSQL: schema facepay_watchlist)
//   gallery.faiss*    the gallery snapshot (SQLite: saved on Close; PostgreSQL: gallery-node.faiss)
// The folder is made 0700 and its files 0600 at open (looser modes are tightened, with a
// warning on stderr; a folder that cannot be tightened is refused).
//
// First start (no active API key): one admin key is made, audited, and returned once by
// first_admin_token(). Close() stops the gallery followers and saves the snapshot.
// Listen/Run/Stop may be called from different threads; the rest is not thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "facepay/biometrics/biometric_store.h"
#include "facepay/biometrics/decision_policy.h"
#include "facepay/biometrics/gallery.h"
#include "facepay/common/status_or.h"
#include "facepay/payments/ledger.h"
#include "facepay/service/service.h"
#include "facepay/service/service_store.h"
#include "facepay/vision/face_pipeline.h"
#include "facepay/vision/sequence_liveness.h"

namespace facepay::node {

struct NodeConfig {
  std::string data_dir = "data";
  std::string store;      // "" = <data_dir>/facepay.db; or postgres://user@host:port/db
  std::string models;     // "" = ModelsDir()
  std::string terminals;  // "" = $FACEPAY_TERMINALS, else <ConfigDir()>/terminals/demo.json
  std::string index = "Flat";  // FAISS factory of the gallery (gallery_index.h)
  int ef_search = 0;           // 0 = the index's default
  int pipelines = 1;           // pipeline instances (parallel vision work)
  std::string card_provider = "none";  // none | simulated (no real card is ever charged)
  int follow_ms = 250;  // how often the gallery follows the template change log
  service::ServiceOptions service;
  // Optional, for processes that start many nodes from one loaded model pack (tests): used
  // instead of loading `models`. Must outlive the node.
  const vision::FacePipeline* pipeline = nullptr;
  const vision::SequenceModel* sequence = nullptr;
  // Replaces the thresholds of the stored (calibrated) policy.
  std::optional<biometrics::PolicyThresholds> thresholds;
  // Write the key check into an empty store on first open (off: an old store without one).
  bool init_key_check = true;
  payments::Clock* clock = nullptr;  // null = the system clock; must outlive the node
  // The order of kiosks' active liveness challenges; null = random. Must outlive the node.
  const flows::ChallengeOrderSource* challenge_order = nullptr;
  // First start makes an admin key (off for tools that fill a store a server opens later, so
  // that the server's first start still shows the key).
  bool make_first_admin_key = true;
};

class Node {
 public:
  // Errors: data_folder_unusable / data_folder_permissions, store and model errors,
  // terminals config errors, invalid_card_provider.
  static StatusOr<std::unique_ptr<Node>> Open(NodeConfig config);
  ~Node();  // Close()

  // Binds host:port (0 = a free port) and returns the port.
  StatusOr<int> Listen(const std::string& host, int port);
  void Run();   // serves until Stop()
  void Stop();  // thread-safe, idempotent; Run returns once in-flight requests are answered
  // Stops following and saves the gallery snapshot (SQLite). Idempotent; the node serves no
  // more afterwards.
  Status Close();

  // The admin key made on this first start ("" when the store already had keys).
  const std::string& first_admin_token() const;
  // One line for the log: store backend, subjects, templates, snapshot, provider.
  std::string Summary() const;
  bool postgres() const;

  service::ServiceStore& store();
  biometrics::Gallery& gallery();
  biometrics::Gallery& watchlist();
  payments::Ledger& ledger();
  const vision::FacePipeline& pipeline();
  payments::PaymentProvider* provider();  // null with card_provider "none"
  const NodeConfig& config() const;

  struct Parts;

 private:
  explicit Node(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> p_;
};

// The data folder rules above, on their own (for commands that open a store without a node).
Status SecureDataFolder(const std::string& dir);
// A 32-byte random secret kept as hex in a 0600 file, created on first use.
StatusOr<std::string> SecretFile(const std::string& path);
bool IsPostgresLocation(const std::string& location);

}  // namespace facepay::node
