#include "facepay/flows/offline.h"

#include <sodium.h>

#include <algorithm>
#include <numeric>

#include "facepay/biometrics/template_crypto.h"
#include "facepay/payments/result_json.h"

namespace facepay::flows {

using nlohmann::json;

namespace {

std::string Hex(const unsigned char* p, size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), p, n);
  out.pop_back();
  return out;
}

std::string Mac(const std::string& key, const std::string& message) {
  unsigned char out[crypto_generichash_BYTES];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(message.data()),
                     message.size(), reinterpret_cast<const unsigned char*>(key.data()), key.size());
  return Hex(out, sizeof out);
}

// Takes one unit of `scope`'s daily count (the budget's `failures` field counts, for the day in
// `updated_at_ms`); false when that would pass `limit`. Atomic across nodes.
StatusOr<bool> Take(FlowStore& store, const std::string& scope, int limit, int64_t day) {
  bool ok = false;
  FACEPAY_RETURN_IF_ERROR(store.UpdateFactorBudget(scope, [&](FactorBudget b) {
    if (b.updated_at_ms != day) b = FactorBudget{0, 0, 0, day};
    ok = b.failures < limit;
    if (ok) ++b.failures;
    return b;
  }).status());
  return ok;
}

Status Give(FlowStore& store, const std::string& scope, int64_t day) {
  return store.UpdateFactorBudget(scope, [&](FactorBudget b) {
    if (b.updated_at_ms == day && b.failures > 0) --b.failures;
    return b;
  }).status();
}

}  // namespace

const char* OfflineResultName(OfflineResult r) {
  switch (r) {
    case OfflineResult::kSettled: return "settled";
    case OfflineResult::kAlreadySettled: return "already_settled";
    case OfflineResult::kTampered: return "tampered";
    case OfflineResult::kSubjectErased: return "subject_erased";
    case OfflineResult::kNoLinkedAccount: return "no_linked_account";
    case OfflineResult::kDeclined: return "declined";
    case OfflineResult::kStale: return "stale";
    case OfflineResult::kOverLimit: return "over_limit";
  }
  return "tampered";
}

std::string OfflineRecordMessage(const std::string& gate, const OfflineRecord& r) {
  // Length-prefixed fields: no separator inside an id can shift one field into the next.
  std::string m = "facepay-offline-passage-v1";
  for (const std::string& f : {gate, r.event_id, r.subject_id, std::to_string(r.event_time_ms),
                               std::to_string(r.score_milli)}) {
    m.append("|").append(std::to_string(f.size())).append(":").append(f);
  }
  return m;
}

std::string GateOfflineKey(const std::string& node_secret, const std::string& gate) {
  unsigned char out[32];
  std::string msg = "facepay-offline-key-v1|";
  msg.append(gate);
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(msg.data()),
                     msg.size(), reinterpret_cast<const unsigned char*>(node_secret.data()),
                     std::min<size_t>(node_secret.size(), crypto_generichash_KEYBYTES_MAX));
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

std::string SignOfflineRecord(const std::string& gate_key, const std::string& gate,
                              const OfflineRecord& r) {
  return Mac(gate_key, OfflineRecordMessage(gate, r));
}

bool VerifyOfflineRecord(const std::string& gate_key, const std::string& gate,
                         const OfflineRecord& r) {
  const std::string want = SignOfflineRecord(gate_key, gate, r);
  return r.signature.size() == want.size() &&
         sodium_memcmp(r.signature.data(), want.data(), want.size()) == 0;
}

StatusOr<std::vector<OfflineSettlement>> OfflineReplayFlow::Run(
    const Caller& who, const OfflineReplayRequest& r) const {
  if (r.records.empty() || r.records.size() > static_cast<size_t>(kMaxOfflineRecordsPerBatch)) {
    return InvalidArgument("invalid_records", "send 1.." + std::to_string(kMaxOfflineRecordsPerBatch) +
                                                  " offline records");
  }
  const auto git = deps_.terminals->gates.find(r.gate);
  if (git == deps_.terminals->gates.end()) return NotFound("gate_not_found", r.gate);
  const GateConfig& g = git->second;
  const std::string key = GateOfflineKey(secret_, r.gate);
  const int64_t now_ms = deps_.clock->NowMs();
  // Fare rules see the passages in the order they happened.
  std::vector<size_t> order(r.records.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return r.records[a].event_time_ms < r.records[b].event_time_ms;
  });
  std::vector<OfflineSettlement> out(r.records.size());
  for (size_t i : order) {
    const OfflineRecord& rec = r.records[i];
    OfflineSettlement& s = out[i];
    s.event_id = rec.event_id;
    bool took = false;  // this call counted the event against the limits
    json detail = {{"event_id", rec.event_id},
                   {"event_time_ms", rec.event_time_ms},
                   {"score", rec.score_milli / 1000.0}};
    if (!VerifyOfflineRecord(key, r.gate, rec)) {
      s.result = OfflineResult::kTampered;
    } else if (rec.event_time_ms < now_ms - kMaxOfflineAgeMs ||
               rec.event_time_ms > now_ms + kOfflineFutureSkewMs) {
      s.result = OfflineResult::kStale;
    } else {
      FACEPAY_ASSIGN_OR_RETURN(auto subject, deps_.bio_store->GetSubject(rec.subject_id));
      FACEPAY_ASSIGN_OR_RETURN(auto account, deps_.store->AccountOfSubject(rec.subject_id));
      if (!subject) {
        s.result = OfflineResult::kSubjectErased;
      } else if (!account) {
        s.result = OfflineResult::kNoLinkedAccount;
      } else {
        // The server's own limits, taken once per event before its fare (an event marker
        // remembers it was counted: a batch sent again is not counted again) and given back
        // when the event turns out to be settled already (online, before the link dropped).
        const int64_t day = rec.event_time_ms / 86'400'000;
        const std::string marker = "offline:event:" + g.id + ":" + rec.event_id;
        FACEPAY_ASSIGN_OR_RETURN(FactorBudget counted, deps_.store->GetFactorBudget(marker));
        if (counted.failures == 0) {
          const std::string gate_scope = "offline:" + g.id;
          const std::string person_scope = "offline:" + g.id + ":" + rec.subject_id;
          FACEPAY_ASSIGN_OR_RETURN(bool gate_ok,
                                   Take(*deps_.store, gate_scope, limits_.per_gate_per_day, day));
          bool person_ok = false;
          if (gate_ok) {
            FACEPAY_ASSIGN_OR_RETURN(person_ok, Take(*deps_.store, person_scope,
                                                     limits_.per_person_per_day, day));
            if (!person_ok) FACEPAY_RETURN_IF_ERROR(Give(*deps_.store, gate_scope, day));
          }
          if (!gate_ok || !person_ok) {
            s.result = OfflineResult::kOverLimit;
            s.reason = gate_ok ? "person_limit" : "gate_limit";
          } else {
            took = true;
            FACEPAY_RETURN_IF_ERROR(deps_.store->UpdateFactorBudget(marker, [&](FactorBudget b) {
              b.failures = 1;
              b.updated_at_ms = now_ms;
              return b;
            }).status());
          }
        }
      }
      if (subject && account && s.result != OfflineResult::kOverLimit) {
        const int64_t day = rec.event_time_ms / 86'400'000;
        payments::TapRequest tap;
        tap.event_id = "gate:" + g.id + ":" + rec.event_id;  // the online passage's key
        tap.account_id = *account;
        tap.gate_id = g.id;
        tap.gate_group = g.gate_group;
        tap.station = g.station;
        tap.direction = g.direction;
        tap.at_ms = rec.event_time_ms;
        FACEPAY_ASSIGN_OR_RETURN(payments::TapResult t, deps_.transit->Tap(tap));
        s.reason = t.reason;
        s.result = t.replayed   ? OfflineResult::kAlreadySettled
                   : t.declined ? OfflineResult::kDeclined
                                : OfflineResult::kSettled;
        if (t.replayed && took) {
          FACEPAY_RETURN_IF_ERROR(Give(*deps_.store, "offline:" + g.id, day));
          FACEPAY_RETURN_IF_ERROR(Give(*deps_.store, "offline:" + g.id + ":" + rec.subject_id, day));
        }
        detail["settlement"] = payments::TapToJson(t);
        s.tap = t;
      }
    }
    if (s.result != OfflineResult::kSettled && s.result != OfflineResult::kAlreadySettled) {
      detail["unsettled"] = true;  // for the operator: an open gate that was not paid for
    }
    // The subject id of a tampered record is the forger's claim: audited, never trusted.
    deps_.audit->Audit(who, now_ms, "offline_passage", rec.subject_id, OfflineResultName(s.result),
                       detail);
    if (deps_.counter) deps_.counter->CountDecision("offline", OfflineResultName(s.result), s.reason);
  }
  return out;
}

StatusOr<ReplicaPage> ReadReplicaPage(const FlowDeps& deps, int64_t after, int limit) {
  if (limit < 1 || limit > kMaxReplicaPage) {
    return InvalidArgument("invalid_limit", "limit must be 1.." + std::to_string(kMaxReplicaPage));
  }
  if (after < 0) return InvalidArgument("invalid_after", "after must be >= 0");
  ReplicaPage page;
  FACEPAY_ASSIGN_OR_RETURN(page.latest, deps.bio_store->LatestSequence());
  FACEPAY_ASSIGN_OR_RETURN(auto changes, deps.bio_store->ChangesSince(after, limit));
  page.next_after = after;
  const std::string& model = deps.gallery->options().model_id;
  for (const auto& c : changes) {
    page.next_after = c.sequence;
    ReplicaChange rc{c.sequence, c.op, c.template_id, c.subject_id, {}};
    if (c.op == biometrics::ChangeOp::kAdd) {
      FACEPAY_ASSIGN_OR_RETURN(auto t, deps.bio_store->GetTemplate(c.template_id));
      if (!t) continue;  // erased since: its kRemove follows in the log
      if (t->model_id != model) continue;
      auto e = biometrics::OpenEmbedding(*deps.template_key, t->sealed,
                                         biometrics::TemplateAd(t->subject_id, t->template_id,
                                                                t->model_id));
      if (!e.ok()) continue;  // failed authentication: never sent (the gallery reports it)
      rc.embedding = std::move(*e);
    }
    page.changes.push_back(std::move(rc));
  }
  return page;
}

}  // namespace facepay::flows
