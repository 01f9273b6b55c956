// The edge gate's offline half: a sealed local replica of the gallery, kept current from the
// server's template change log while online, a stricter offline policy to decide against it
// while the server is unreachable, and a durable queue of signed offline passages that is
// replayed, exactly once, when the server answers again (flows/offline.h is the server's half).
//
// One SQLite file in the gate's state folder (`gate.db`, 0600, synchronous=FULL) and a key file
// (`gate.key`, 0600): the replica's templates are sealed with that key (XChaCha20-Poly1305,
// bound to subject and template id), the offline-signing key the server hands out is stored
// sealed with it too. A passage is in the queue (committed) before the turnstile opens.
//
// Thread-safe: the gate loop decides and enqueues while GateSync follows and replays.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "facepay/biometrics/gallery_index.h"
#include "facepay/biometrics/template_crypto.h"
#include "facepay/common/status_or.h"
#include "facepay/flows/offline.h"
#include "facepay/payments/clock.h"

struct sqlite3;

namespace facepay::node {

class ServerLink;

// Like a transit card validator's offline risk rules (docs/privacy.md, docs/operations.md).
struct OfflinePolicy {
  float accept_threshold = 0.55f;  // cosine; stricter than the server's calibrated accept
  float min_margin = 0.08f;        // best minus the best other person
  int64_t max_offline_ms = 4LL * 3600 * 1000;  // since the server last answered: then refuse
  int per_person_passages = 2;     // unsettled offline passages one person may have
  int64_t anti_passback_ms = 120'000;  // the same person again at this gate within it: refused
  int64_t nominal_fare_minor = 250;        // what each offline passage counts for
  int64_t per_gate_limit_minor = 50'000;   // value of unsettled offline passages per gate
};

struct OfflineVerdict {
  bool open = false;
  std::string reason;  // refusals: no_match, offline_too_long, offline_person_limit,
                       // offline_gate_limit, offline_no_replica, anti_passback, spoof
  std::string subject_id;
  float score = 0;
  std::optional<flows::OfflineRecord> record;  // queued (open only)
};

struct QueueCounts {
  int64_t pending = 0, settled = 0, already_settled = 0, refused = 0;
};

class GateReplica {
 public:
  // Opens (creates) <state_dir>/gate.db and <state_dir>/gate.key. `clock` must outlive it.
  static StatusOr<std::unique_ptr<GateReplica>> Open(const std::string& state_dir,
                                                     const std::string& gate_id,
                                                     payments::Clock& clock);
  ~GateReplica();

  // Applies one page of GET /v1/gates/{gate}/replica (changes, next_after, offline_key) in one
  // transaction and records the server contact. Errors: invalid_replica_page.
  Status ApplyPage(const nlohmann::json& page);
  int64_t cursor() const;
  size_t template_count() const;
  bool ContainsSubject(const std::string& subject_id) const;
  // Blocks until `pred` holds after an applied page, or `timeout_ms` passes; returns pred().
  bool WaitFor(const std::function<bool()>& pred, int timeout_ms) const;

  // The server answered (any request): the offline duration counts from here.
  void RecordContact();
  int64_t last_contact_ms() const;

  // Decides a live probe offline under `policy`; when it opens, the signed record is committed
  // to the queue first (a failed commit keeps the turnstile closed: offline_queue_failed).
  StatusOr<OfflineVerdict> DecideOffline(const std::string& event_id,
                                         const vision::Embedding& probe,
                                         const OfflinePolicy& policy);

  // The oldest `limit` unsettled records, in queue order.
  StatusOr<std::vector<flows::OfflineRecord>> Pending(int limit) const;
  // Stores the server's result of a replayed record; settled and refused records leave the
  // pending set (kept, without subject id after settlement, for the gate's own report).
  Status MarkResult(const std::string& event_id, const std::string& result);
  QueueCounts counts() const;
  const std::string& state_dir() const { return dir_; }

 private:
  GateReplica() = default;
  Status Exec(const std::string& sql) const;
  Status LoadLocked();

  std::string dir_, gate_;
  payments::Clock* clock_ = nullptr;
  std::optional<biometrics::TemplateKey> key_;
  sqlite3* db_ = nullptr;
  mutable std::mutex mu_;
  mutable std::condition_variable applied_;
  std::unique_ptr<biometrics::GalleryIndex> index_;
  std::unordered_map<int64_t, std::string> subject_of_;  // template id -> subject
  std::string offline_key_;  // binary, from the server
  int64_t cursor_ = 0, last_contact_ms_ = 0;
  uint64_t generation_ = 0;  // pages applied (WaitFor)
};

// Follows the replica and replays the queue against the server: SyncOnce does one round
// (replica pages until caught up, then pending records in batches of up to 200); Start runs
// rounds every `every_ms` on a thread of its own until Stop.
class GateSync {
 public:
  GateSync(GateReplica& replica, ServerLink& link, std::string gate_id);
  ~GateSync();
  struct Round {
    int pages = 0, changes = 0, replayed = 0;
    bool reachable = false;
  };
  StatusOr<Round> SyncOnce();
  void Start(int every_ms);
  void Stop();

 private:
  GateReplica& replica_;
  ServerLink& link_;
  std::string gate_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace facepay::node
