#include "facepay/node/gate_offline.h"

#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>

#include "facepay/node/gate.h"
#include "facepay/node/node.h"

namespace facepay::node {

using nlohmann::json;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS templates (
  template_id INTEGER PRIMARY KEY, subject_id TEXT NOT NULL, sealed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL UNIQUE,
  subject_id TEXT NOT NULL,
  event_time_ms INTEGER NOT NULL,
  score_milli INTEGER NOT NULL,
  signature TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  result TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS queue_pending ON queue(state, id);
)sql";

std::string ReplicaAd(const std::string& subject, int64_t template_id) {
  return "facepay-gate-replica-v1|" + subject + "|" + std::to_string(template_id);
}

Status SqlError(sqlite3* db, const std::string& what) {
  return Internal("gate_store_failed", what + ": " + sqlite3_errmsg(db));
}

// A prepared statement, finalized on scope exit.
struct Stmt {
  sqlite3_stmt* s = nullptr;
  Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &s, nullptr); }
  ~Stmt() { sqlite3_finalize(s); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  void Text(int i, const std::string& v) { sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); }
  void Blob(int i, const std::string& v) { sqlite3_bind_blob(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); }
  void Int(int i, int64_t v) { sqlite3_bind_int64(s, i, v); }
  std::string Col(int i) const {
    const void* p = sqlite3_column_blob(s, i);
    return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s, i))) : "";
  }
};

}  // namespace

StatusOr<std::unique_ptr<GateReplica>> GateReplica::Open(const std::string& state_dir,
                                                         const std::string& gate_id,
                                                         payments::Clock& clock) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  FACEPAY_RETURN_IF_ERROR(SecureDataFolder(state_dir));
  auto r = std::unique_ptr<GateReplica>(new GateReplica);
  r->dir_ = state_dir;
  r->gate_ = gate_id;
  r->clock_ = &clock;
  bool created = false;
  FACEPAY_ASSIGN_OR_RETURN(auto key, biometrics::TemplateKey::Resolve(state_dir + "/gate.key",
                                                                      true, &created));
  r->key_ = key;
  const std::string path = state_dir + "/gate.db";
  if (sqlite3_open_v2(path.c_str(), &r->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                                SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    return Unavailable("gate_store_failed", "cannot open " + path);
  }
  chmod(path.c_str(), 0600);
  sqlite3_busy_timeout(r->db_, 5000);
  FACEPAY_RETURN_IF_ERROR(r->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"));
  FACEPAY_RETURN_IF_ERROR(r->Exec(kSchema));
  FACEPAY_ASSIGN_OR_RETURN(r->index_, biometrics::MakeGalleryIndex("Flat", 512));
  std::lock_guard<std::mutex> l(r->mu_);
  FACEPAY_RETURN_IF_ERROR(r->LoadLocked());
  return r;
}

GateReplica::~GateReplica() {
  if (db_) sqlite3_close(db_);
}

Status GateReplica::Exec(const std::string& sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "?";
    sqlite3_free(err);
    return Internal("gate_store_failed", m);
  }
  return Status::Ok();
}

Status GateReplica::LoadLocked() {
  {
    Stmt m(db_, "SELECT k, v FROM meta");
    while (sqlite3_step(m.s) == SQLITE_ROW) {
      const std::string k = m.Col(0), v = m.Col(1);
      if (k == "cursor") cursor_ = std::stoll(v);
      if (k == "last_contact_ms") last_contact_ms_ = std::stoll(v);
      if (k == "offline_key") {
        auto open = key_->Open(v, "facepay-gate-offline-key|" + gate_);
        if (!open.ok()) return DataLoss("gate_store_tampered", "the stored offline key fails authentication");
        offline_key_ = *open;
      }
    }
  }
  Stmt t(db_, "SELECT template_id, subject_id, sealed FROM templates");
  int tampered = 0;
  while (sqlite3_step(t.s) == SQLITE_ROW) {
    const int64_t id = sqlite3_column_int64(t.s, 0);
    const std::string subject = t.Col(1);
    auto e = biometrics::OpenEmbedding(*key_, t.Col(2), ReplicaAd(subject, id));
    if (!e.ok()) {
      ++tampered;  // never used; the next full sync cannot fix it, so say it
      continue;
    }
    FACEPAY_RETURN_IF_ERROR(index_->Add(id, *e));
    subject_of_[id] = subject;
  }
  if (tampered > 0) {
    return DataLoss("gate_store_tampered", std::to_string(tampered) +
                                               " replica template(s) fail authentication");
  }
  return Status::Ok();
}

Status GateReplica::ApplyPage(const json& page) {
  if (!page.is_object() || !page.contains("changes") || !page["changes"].is_array() ||
      !page.contains("next_after") || !page["next_after"].is_number_integer() ||
      !page.contains("offline_key") || !page["offline_key"].is_string()) {
    return InvalidArgument("invalid_replica_page", "not a replica page");
  }
  const std::string hex = page["offline_key"].get<std::string>();
  std::string key(32, '\0');
  size_t key_len = 0;
  if (hex.size() != 64 || sodium_hex2bin(reinterpret_cast<unsigned char*>(key.data()), key.size(),
                                         hex.data(), hex.size(), nullptr, &key_len, nullptr) != 0 ||
      key_len != 32) {
    return InvalidArgument("invalid_replica_page", "bad offline_key");
  }
  struct Add { int64_t id; std::string subject; vision::Embedding e; };
  std::vector<Add> adds;
  std::vector<int64_t> removes;
  for (const auto& c : page["changes"]) {
    if (!c.is_object() || !c.contains("template_id") || !c["template_id"].is_number_integer() ||
        !c.contains("subject_id") || !c["subject_id"].is_string() || !c.contains("op")) {
      return InvalidArgument("invalid_replica_page", "bad change");
    }
    const int64_t id = c["template_id"].get<int64_t>();
    if (c["op"] == "remove") {
      removes.push_back(id);
      continue;
    }
    if (!c.contains("template") || !c["template"].is_array() || c["template"].size() != 512) {
      return InvalidArgument("invalid_replica_page", "an added template needs 512 numbers");
    }
    vision::Embedding e;
    e.reserve(512);
    for (const auto& v : c["template"]) {
      if (!v.is_number()) return InvalidArgument("invalid_replica_page", "non-number in a template");
      e.push_back(v.get<float>());
    }
    adds.push_back({id, c["subject_id"].get<std::string>(), std::move(e)});
  }
  const int64_t next = page["next_after"].get<int64_t>();
  std::lock_guard<std::mutex> l(mu_);
  FACEPAY_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto fail = [&](Status s) {
    (void)Exec("ROLLBACK");
    return s;
  };
  for (const auto& a : adds) {
    Stmt ins(db_, "INSERT OR REPLACE INTO templates(template_id, subject_id, sealed) VALUES(?,?,?)");
    ins.Int(1, a.id);
    ins.Text(2, a.subject);
    ins.Blob(3, biometrics::SealEmbedding(*key_, a.e, ReplicaAd(a.subject, a.id)));
    if (sqlite3_step(ins.s) != SQLITE_DONE) return fail(SqlError(db_, "replica insert"));
  }
  for (int64_t id : removes) {
    Stmt del(db_, "DELETE FROM templates WHERE template_id = ?");
    del.Int(1, id);
    if (sqlite3_step(del.s) != SQLITE_DONE) return fail(SqlError(db_, "replica delete"));
  }
  const int64_t now = clock_->NowMs();
  for (const auto& [k, v] : std::map<std::string, std::string>{
           {"cursor", std::to_string(std::max(cursor_, next))},
           {"last_contact_ms", std::to_string(now)},
           {"offline_key", key_->Seal(key, "facepay-gate-offline-key|" + gate_)}}) {
    Stmt m(db_, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)");
    m.Text(1, k);
    m.Blob(2, v);
    if (sqlite3_step(m.s) != SQLITE_DONE) return fail(SqlError(db_, "replica meta"));
  }
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return fail(SqlError(db_, "replica commit"));
  }
  // The index follows the committed rows.
  for (const auto& a : adds) {
    if (index_->Contains(a.id)) (void)index_->Remove(a.id);
    FACEPAY_RETURN_IF_ERROR(index_->Add(a.id, a.e));
    subject_of_[a.id] = a.subject;
  }
  for (int64_t id : removes) {
    if (index_->Contains(id)) (void)index_->Remove(id);
    subject_of_.erase(id);
  }
  cursor_ = std::max(cursor_, next);
  last_contact_ms_ = now;
  offline_key_ = key;
  ++generation_;
  applied_.notify_all();
  return Status::Ok();
}

int64_t GateReplica::cursor() const {
  std::lock_guard<std::mutex> l(mu_);
  return cursor_;
}

size_t GateReplica::template_count() const {
  std::lock_guard<std::mutex> l(mu_);
  return subject_of_.size();
}

bool GateReplica::ContainsSubject(const std::string& subject_id) const {
  std::lock_guard<std::mutex> l(mu_);
  return std::any_of(subject_of_.begin(), subject_of_.end(),
                     [&](const auto& kv) { return kv.second == subject_id; });
}

bool GateReplica::WaitFor(const std::function<bool()>& pred, int timeout_ms) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    const uint64_t seen = generation_;
    l.unlock();  // pred takes the lock itself
    if (pred()) return true;
    l.lock();
    // A page applied while pred ran is not missed: the generation moved.
    if (!applied_.wait_until(l, deadline, [&] { return generation_ != seen; })) {
      l.unlock();
      return pred();
    }
  }
}

void GateReplica::RecordContact() {
  std::lock_guard<std::mutex> l(mu_);
  last_contact_ms_ = clock_->NowMs();
  Stmt m(db_, "INSERT OR REPLACE INTO meta(k, v) VALUES('last_contact_ms', ?)");
  m.Blob(1, std::to_string(last_contact_ms_));
  sqlite3_step(m.s);  // best effort: losing it only shortens the next offline spell
}

int64_t GateReplica::last_contact_ms() const {
  std::lock_guard<std::mutex> l(mu_);
  return last_contact_ms_;
}

StatusOr<OfflineVerdict> GateReplica::DecideOffline(const std::string& event_id,
                                                    const vision::Embedding& probe,
                                                    const OfflinePolicy& policy) {
  OfflineVerdict v;
  std::lock_guard<std::mutex> l(mu_);
  const int64_t now = clock_->NowMs();
  if (offline_key_.empty() || last_contact_ms_ == 0) {
    v.reason = "offline_no_replica";  // never synced: nothing to decide against
    return v;
  }
  if (now - last_contact_ms_ > policy.max_offline_ms) {
    v.reason = "offline_too_long";
    return v;
  }
  FACEPAY_ASSIGN_OR_RETURN(auto hits, index_->Search(probe, 16));
  std::string best;
  float best_score = -1, other = -1;
  for (const auto& h : hits) {  // best first: the first hit of another person is the runner-up
    const auto it = subject_of_.find(h.label);
    if (it == subject_of_.end()) continue;
    if (best.empty()) {
      best = it->second;
      best_score = h.score;
    } else if (it->second != best) {
      other = std::max(other, h.score);
      break;
    }
  }
  v.subject_id = best;
  v.score = best_score;
  if (best.empty() || best_score < policy.accept_threshold ||
      best_score - std::max(other, 0.f) < policy.min_margin) {
    v.reason = "no_match";  // no step-up offline: the server checks second factors
    v.subject_id.clear();
    return v;
  }
  int64_t person = 0, total = 0, last_ms = 0;
  {
    Stmt c(db_, "SELECT COUNT(*), SUM(subject_id = ?1), MAX(CASE WHEN subject_id = ?1 THEN "
                "event_time_ms END) FROM queue WHERE state = 'pending'");
    c.Text(1, best);
    if (sqlite3_step(c.s) != SQLITE_ROW) return SqlError(db_, "queue count");
    total = sqlite3_column_int64(c.s, 0);
    person = sqlite3_column_int64(c.s, 1);
    last_ms = sqlite3_column_int64(c.s, 2);  // 0 when NULL: no queued passage of this person
  }
  if (last_ms > 0 && now - last_ms < policy.anti_passback_ms) {
    v.reason = "anti_passback";  // the fare rules settle it later; the gate stays shut now
    return v;
  }
  if (person >= policy.per_person_passages) {
    v.reason = "offline_person_limit";
    return v;
  }
  if ((total + 1) * policy.nominal_fare_minor > policy.per_gate_limit_minor) {
    v.reason = "offline_gate_limit";
    return v;
  }
  flows::OfflineRecord rec;
  rec.event_id = event_id;
  rec.subject_id = best;
  rec.event_time_ms = now;
  rec.score_milli = static_cast<int>(std::lround(best_score * 1000));
  rec.signature = flows::SignOfflineRecord(offline_key_, gate_, rec);
  Stmt ins(db_, "INSERT INTO queue(event_id, subject_id, event_time_ms, score_milli, signature) "
                "VALUES(?,?,?,?,?)");
  ins.Text(1, rec.event_id);
  ins.Text(2, rec.subject_id);
  ins.Int(3, rec.event_time_ms);
  ins.Int(4, rec.score_milli);
  ins.Text(5, rec.signature);
  if (sqlite3_step(ins.s) != SQLITE_DONE) {
    v.reason = "offline_queue_failed";  // not durable: the turnstile stays closed
    return v;
  }
  v.open = true;
  v.record = rec;
  return v;
}

StatusOr<std::vector<flows::OfflineRecord>> GateReplica::Pending(int limit) const {
  std::lock_guard<std::mutex> l(mu_);
  Stmt q(db_, "SELECT event_id, subject_id, event_time_ms, score_milli, signature FROM queue "
              "WHERE state = 'pending' ORDER BY id LIMIT ?");
  q.Int(1, limit);
  std::vector<flows::OfflineRecord> out;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    flows::OfflineRecord r;
    r.event_id = q.Col(0);
    r.subject_id = q.Col(1);
    r.event_time_ms = sqlite3_column_int64(q.s, 2);
    r.score_milli = sqlite3_column_int(q.s, 3);
    r.signature = q.Col(4);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return SqlError(db_, "queue read");
  return out;
}

Status GateReplica::MarkResult(const std::string& event_id, const std::string& result) {
  std::lock_guard<std::mutex> l(mu_);
  const bool settled = result == "settled" || result == "already_settled";
  // A settled record no longer needs the person: the subject id is dropped (docs/privacy.md).
  Stmt u(db_, settled ? "UPDATE queue SET state = 'done', result = ?, subject_id = '' WHERE event_id = ?"
                      : "UPDATE queue SET state = 'refused', result = ? WHERE event_id = ?");
  u.Text(1, result);
  u.Text(2, event_id);
  if (sqlite3_step(u.s) != SQLITE_DONE) return SqlError(db_, "queue update");
  return Status::Ok();
}

QueueCounts GateReplica::counts() const {
  std::lock_guard<std::mutex> l(mu_);
  QueueCounts c;
  Stmt q(db_, "SELECT state, result, COUNT(*) FROM queue GROUP BY state, result");
  while (sqlite3_step(q.s) == SQLITE_ROW) {
    const std::string state = q.Col(0), result = q.Col(1);
    const int64_t n = sqlite3_column_int64(q.s, 2);
    if (state == "pending") c.pending += n;
    else if (result == "settled") c.settled += n;
    else if (result == "already_settled") c.already_settled += n;
    else c.refused += n;
  }
  return c;
}

// ---------------------------------------------------------------------------- GateSync

GateSync::GateSync(GateReplica& replica, ServerLink& link, std::string gate_id)
    : replica_(replica), link_(link), gate_(std::move(gate_id)) {}

GateSync::~GateSync() { Stop(); }

StatusOr<GateSync::Round> GateSync::SyncOnce() {
  Round r;
  // Replica first: erasures reach the gate before anything else.
  for (int guard = 0; guard < 1000; ++guard) {
    const std::string path = "/v1/gates/" + gate_ + "/replica?after=" +
                             std::to_string(replica_.cursor()) + "&limit=100";
    auto page = link_.Call("GET", path, nullptr);
    if (!page.ok()) {
      if (page.status().reason() == "server_unreachable") return r;
      return page.status();
    }
    r.reachable = true;
    FACEPAY_RETURN_IF_ERROR(replica_.ApplyPage(*page));
    ++r.pages;
    r.changes += static_cast<int>((*page)["changes"].size());
    if ((*page)["changes"].empty() || (*page).value("next_after", int64_t{0}) >= (*page).value("latest", int64_t{0})) {
      break;
    }
  }
  // Then the queue, oldest first, in batches the server settles in event-time order.
  for (int guard = 0; guard < 1000; ++guard) {
    FACEPAY_ASSIGN_OR_RETURN(auto pending, replica_.Pending(flows::kMaxOfflineRecordsPerBatch));
    if (pending.empty()) break;
    json records = json::array();
    for (const auto& p : pending) {
      records.push_back({{"event_id", p.event_id},
                         {"subject_id", p.subject_id},
                         {"event_time_ms", p.event_time_ms},
                         {"score_milli", p.score_milli},
                         {"signature", p.signature}});
    }
    const json body = {{"records", records}};
    auto a = link_.Call("POST", "/v1/gates/" + gate_ + "/offline-passages", &body);
    if (!a.ok()) {
      if (a.status().reason() == "server_unreachable") return r;  // next round
      return a.status();
    }
    if (!a->contains("results") || !(*a)["results"].is_array()) {
      return Internal("bad_server_answer", "offline-passages answer without results");
    }
    for (const auto& res : (*a)["results"]) {
      FACEPAY_RETURN_IF_ERROR(replica_.MarkResult(res.value("event_id", ""), res.value("result", "")));
      ++r.replayed;
    }
  }
  return r;
}

void GateSync::Start(int every_ms) {
  thread_ = std::thread([this, every_ms] {
    std::unique_lock<std::mutex> l(mu_);
    while (!stop_) {
      l.unlock();
      auto r = SyncOnce();
      if (!r.ok()) std::cerr << "facepay gate: sync: " << r.status().ToString() << "\n";
      l.lock();
      cv_.wait_for(l, std::chrono::milliseconds(every_ms), [this] { return stop_; });
    }
  });
}

void GateSync::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace facepay::node
