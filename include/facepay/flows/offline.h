// Offline operation of edge gates, the server's half: the gallery replica a gate decides
// against while the server is unreachable, and the settlement of what it decided then.
//
// Replica: ReadReplicaPage reads the template change log after a sequence, with each added
// template's embedding opened (the gate seals it again with its own key at rest). The caller
// (the service) sends it only to an authenticated edge gate.
//
// Settlement: a gate signs each offline passage with its offline key, GateOfflineKey(node
// secret, gate) — BLAKE2b-256 keyed by the node's secret, so nodes sharing a data folder's
// secret agree, and a key taken from one gate signs for that gate only. OfflineReplayFlow checks
// every record's signature, then settles the valid ones in event-time order with the same
// idempotency key as an online passage (`gate:{gate}:{event_id}`), so a passage that did reach
// the server before the link dropped is never charged again, and a replayed queue is settled
// once. What cannot be settled (altered record, erased person, no account, declined, too old)
// is audited as `offline_passage` with the result, and counted.
//
// The server does not trust the gate's own offline limits: a holder of a gate's key can read
// its offline key from the replica route and sign whatever it likes for that gate. So the
// server settles at most `OfflineLimits` per gate and per (gate, person) and event day;
// records past them are refused (kOverLimit) and audited, whoever signed them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "facepay/biometrics/biometric_store.h"
#include "facepay/flows/flow_deps.h"
#include "facepay/flows/sinks.h"
#include "facepay/payments/transit.h"
#include "facepay/vision/face_types.h"

namespace facepay::flows {

inline constexpr int kMaxOfflineRecordsPerBatch = 200;
inline constexpr int kMaxReplicaPage = 500;
// A record older than this, or more than kOfflineFutureSkewMs in the future, is not settled.
inline constexpr int64_t kMaxOfflineAgeMs = 7LL * 24 * 3600 * 1000;
inline constexpr int64_t kOfflineFutureSkewMs = 5 * 60 * 1000;

struct OfflineRecord {
  std::string event_id;
  std::string subject_id;
  int64_t event_time_ms = 0;  // when the gate opened (the gate's clock)
  int score_milli = 0;        // the local match score x 1000 (audited)
  std::string signature;      // hex BLAKE2b-256 keyed MAC of OfflineRecordMessage
};

// The bytes a record's signature covers; the gate id is part of them.
std::string OfflineRecordMessage(const std::string& gate, const OfflineRecord& r);
// 32 bytes (binary) from the node's offline secret (>= 16 bytes) and the gate id.
std::string GateOfflineKey(const std::string& node_secret, const std::string& gate);
std::string SignOfflineRecord(const std::string& gate_key, const std::string& gate,
                              const OfflineRecord& r);
bool VerifyOfflineRecord(const std::string& gate_key, const std::string& gate,
                         const OfflineRecord& r);

enum class OfflineResult {
  kSettled,          // the fare is charged now (or free: cap, transfer)
  kAlreadySettled,   // this event was settled before (online, or an earlier replay)
  kTampered,         // the signature does not match: forged or altered, nothing moves
  kSubjectErased,    // the person was erased since: nothing charged, reported
  kNoLinkedAccount,  // no account to charge: reported
  kDeclined,         // the charge was declined (e.g. insufficient_funds): reported
  kStale,            // event time outside [now - kMaxOfflineAgeMs, now + skew]
  kOverLimit,        // past the server's own offline limits for this gate (a forging gate)
};
const char* OfflineResultName(OfflineResult r);  // "settled", "already_settled", ...

struct OfflineSettlement {
  std::string event_id;
  OfflineResult result = OfflineResult::kTampered;
  std::string reason;  // the decline reason, the fare reason
  std::optional<payments::TapResult> tap;
};

struct OfflineReplayRequest {
  std::string gate;  // an edge gate
  std::vector<OfflineRecord> records;  // 1..kMaxOfflineRecordsPerBatch
};

struct OfflineLimits {
  int per_person_per_day = 4;    // offline passages of one person at one gate, per event day
  int per_gate_per_day = 5'000;  // offline passages of one gate, per event day
};

class OfflineReplayFlow {
 public:
  // `gate_key` is GateOfflineKey(secret, request.gate).
  OfflineReplayFlow(const FlowDeps& deps, std::string node_secret, OfflineLimits limits = {})
      : deps_(deps), secret_(std::move(node_secret)), limits_(limits) {}
  // Results in the order of the request's records. Errors: store failures only (a record that
  // cannot be settled is a result, not an error); a failed batch is safe to send again.
  StatusOr<std::vector<OfflineSettlement>> Run(const Caller& who,
                                               const OfflineReplayRequest& r) const;

 private:
  const FlowDeps& deps_;
  std::string secret_;
  OfflineLimits limits_;
};

struct ReplicaChange {
  int64_t sequence = 0;
  biometrics::ChangeOp op = biometrics::ChangeOp::kAdd;
  int64_t template_id = 0;
  std::string subject_id;
  vision::Embedding embedding;  // kAdd only; empty when the template was erased since
};
struct ReplicaPage {
  std::vector<ReplicaChange> changes;
  int64_t next_after = 0;  // the sequence to ask after next
  int64_t latest = 0;      // the store's latest sequence (caught up when next_after == latest)
};
// Templates of another model are skipped; one failing authentication is left out (the gallery
// reports those). InvalidArgument("invalid_limit") unless 1..kMaxReplicaPage.
StatusOr<ReplicaPage> ReadReplicaPage(const FlowDeps& deps, int64_t after, int limit);

}  // namespace facepay::flows
