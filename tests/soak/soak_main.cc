// The soak driver: mixed terminal load against a running `facepay serve` that tests/soak/run-soak
// kills at random, then a check that every acknowledged operation is in the stores exactly once.
//
//   soak_driver load   --port P --keys keys.json --images LFW_DIR --journal J --stop-file F
//   soak_driver verify --port P --keys keys.json --journal J --report R
//
// load: W workers, each with its own identities, accounts and subjects, run top-ups, gate
// passages, till payments, step-ups (when an answer asks for one), enrolments and erasures
// until the stop file exists. Every request is retried on a transport error, a 5xx or a 429
// with the very same body (same idempotency key / event_id / order_id), like a terminal
// would, until it is answered (or `--op-deadline-s` passes). Each answered operation is one
// JSON line in the journal. verify: re-reads the journal and checks, through the API, that
// each acknowledged money movement is in its account's transactions exactly once with the
// acknowledged amount, that balances equal the acknowledged movements, that a retry of an
// acknowledged request replays the same answer, that enrolled subjects exist (with their
// account) unless erased, and that erased subjects are gone and unlinked. Exit 0 = clean.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode;
  std::string host = "127.0.0.1";
  int port = 0;
  std::string keys, images, journal, stop_file, report, terminals;
  int workers = 4;
  int identities = 120;  // LFW people used (each needs >= 4 photos)
  int op_deadline_s = 240;
  unsigned seed = 1;
  std::string run = "r";
};

// Safe reads of answers that may lack a field (an error body, a gave-up record).
const json& P(const json& j, std::initializer_list<const char*> path) {
  static const json kNull;
  const json* v = &j;
  for (const char* k : path) {
    if (!v->is_object()) return kNull;
    auto it = v->find(k);
    if (it == v->end()) return kNull;
    v = &*it;
  }
  return *v;
}
std::string Str(const json& v) { return v.is_string() ? v.get<std::string>() : std::string(); }
int64_t Int(const json& v) { return v.is_number_integer() ? v.get<int64_t>() : 0; }
bool Bool(const json& v) { return v.is_boolean() && v.get<bool>(); }

// ---- HTTP with terminal-style retries ------------------------------------------------------

struct Answer {
  int status = 0;  // 0: no answer (gave up)
  json body;
  int attempts = 0;
  int transport_errors = 0;  // connection refused/reset, timeouts
  int server_errors = 0;     // 5xx / 429 answers that were retried
  json retried_codes = json::object();  // "503:store_unavailable" -> times
};

struct Request {
  std::string method;  // POST, GET, DELETE
  std::string path;
  std::string token;
  json body;                                 // JSON body (POST), or
  httplib::MultipartFormDataItems multipart;  // multipart body when non-empty
};

std::string Base64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += k[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint8_t(in[i]) << 16;
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class Http {
 public:
  Http(const Options& o) : o_(o) {}
  // One attempt; status 0 = transport error.
  std::pair<int, json> Once(const Request& r) {
    httplib::Client c(o_.host, o_.port);
    c.set_connection_timeout(2, 0);
    c.set_read_timeout(60, 0);
    c.set_write_timeout(30, 0);
    httplib::Headers h{{"Authorization", "Bearer " + r.token}};
    httplib::Result res = r.method == "GET"      ? c.Get(r.path, h)
                          : r.method == "DELETE" ? c.Delete(r.path, h)
                          : !r.multipart.empty() ? c.Post(r.path, h, r.multipart)
                                                 : c.Post(r.path, h, r.body.dump(), "application/json");
    if (!res) return {0, json()};
    json b = json::parse(res->body, nullptr, false);
    if (b.is_discarded()) b = json{{"raw", res->body.substr(0, 200)}};
    return {res->status, b};
  }
  // Until an answer that is not a transport error, 5xx or 429, or the deadline.
  Answer Retry(const Request& r) {
    Answer a;
    const auto deadline = Clock::now() + std::chrono::seconds(o_.op_deadline_s);
    int backoff_ms = 50;
    while (true) {
      ++a.attempts;
      auto [status, body] = Once(r);
      if (status != 0 && status != 429 && status < 500) {
        a.status = status;
        a.body = std::move(body);
        return a;
      }
      if (status == 0) {
        ++a.transport_errors;
      } else {
        ++a.server_errors;
        const std::string why = std::to_string(status) + ":" + Str(P(body, {"error", "code"}));
        a.retried_codes[why] = a.retried_codes.value(why, 0) + 1;
      }
      if (Clock::now() > deadline) {
        a.status = 0;
        a.body = json{{"gave_up", true}, {"last_status", status}, {"last_body", body}};
        return a;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
      backoff_ms = std::min(1000, backoff_ms * 2);
    }
  }

 private:
  const Options& o_;
};

// ---- the journal ---------------------------------------------------------------------------

class Journal {
 public:
  explicit Journal(const std::string& path) : out_(path, std::ios::trunc) {}
  void Write(const json& j) {
    std::lock_guard<std::mutex> lock(mu_);  // guards out_
    out_ << j.dump() << "\n";
    out_.flush();
  }

 private:
  std::mutex mu_;
  std::ofstream out_;
};

json Entry(const std::string& op, const Request& r, const Answer& a) {
  json j = {{"op", op},        {"path", r.path},         {"status", a.status},
            {"body", a.body},  {"attempts", a.attempts}, {"transport_errors", a.transport_errors},
            {"server_errors", a.server_errors}, {"retried_codes", a.retried_codes}};
  if (r.multipart.empty() && r.method == "POST") {
    json req = r.body;
    req.erase("frames");  // keep the journal small; the frame is named in "frame"
    j["request"] = req;
  }
  return j;
}

// ---- load ----------------------------------------------------------------------------------

struct Identity {
  std::string name;
  std::vector<std::string> photos;  // [0..1] enrol, [2..] probes
};

struct Subject {
  std::string id, account, phone;
  const Identity* who = nullptr;
  bool enrolled = false, erased = false;
};

struct Keys {
  std::string enroller, gate, merchant;
};

class Worker {
 public:
  Worker(int index, const Options& o, const Keys& k, std::vector<const Identity*> mine,
         Journal& j, std::atomic<bool>& stop)
      : w_(index), o_(o), k_(k), mine_(std::move(mine)), j_(j), stop_(stop), http_(o),
        rng_(o.seed * 7919u + static_cast<unsigned>(index)) {}

  void Run() {
    for (int i = 0; i < 3 && next_ < mine_.size(); ++i) Enrol();
    while (!stop_.load()) {
      const int r = Pick(100);
      if (subjects_.empty()) {
        if (next_ >= mine_.size()) return;
        Enrol();
      } else if (r < 20) {
        TopUp(subjects_[Pick(subjects_.size())].account, 100 + 50 * Pick(40));
      } else if (r < 50) {
        Passage();
      } else if (r < 80) {
        Payment();
      } else if (r < 94) {
        if (next_ < mine_.size()) Enrol(); else Passage();
      } else {
        Erase();
      }
    }
  }

 private:
  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  std::string Id(const std::string& what) {
    return o_.run + "-w" + std::to_string(w_) + "-" + what + std::to_string(++seq_);
  }
  Answer Go(const std::string& op, Request r, json extra = {}) {
    Answer a = http_.Retry(r);
    json e = Entry(op, r, a);
    e["worker"] = w_;
    for (auto& [k, v] : extra.items()) e[k] = v;
    j_.Write(e);
    return a;
  }

  void TopUp(const std::string& account, int64_t amount) {
    Request r{"POST", "/v1/accounts/" + account + "/topups", k_.enroller,
              {{"idempotency_key", Id("topup")}, {"amount_minor", amount}}, {}};
    Go("topup", r, {{"account", account}});
  }

  void Enrol() {
    const Identity* who = mine_[next_++];
    Subject s;
    s.id = Id("subj");
    s.account = "acct:" + s.id;
    s.phone = std::to_string(1000 + Pick(9000));
    s.who = who;
    Request ra{"POST", "/v1/accounts", k_.enroller, {{"id", s.account}, {"floor_minor", 0}}, {}};
    Answer a = Go("account", ra, {{"account", s.account}});
    if (a.status != 201 && !(a.status == 409 && a.attempts > 1)) return;
    TopUp(s.account, 3000);
    httplib::MultipartFormDataItems mp = {{"id", s.id, "", ""},
                                          {"text_version", "v1", "", ""},
                                          {"channel", "kiosk", "", ""},
                                          {"account_id", s.account, "", ""},
                                          {"phone_last4", s.phone, "", ""}};
    for (int i = 0; i < 2; ++i) {
      mp.push_back({"images", ReadFile(who->photos[i]), fs::path(who->photos[i]).filename(),
                    "image/jpeg"});
    }
    Request re{"POST", "/v1/subjects", k_.enroller, {}, mp};
    Answer e = Go("enrol", re, {{"subject", s.id}, {"account", s.account}, {"who", who->name}});
    s.enrolled = e.status == 201 || (e.status == 409 && e.attempts > 1 &&
                                     Str(P(e.body, {"error", "code"})) == "subject_exists");
    subjects_.push_back(s);
  }

  // A probe photo of one of this worker's subjects (enrolled, or sometimes erased).
  Subject* Someone() {
    std::vector<Subject*> live;
    for (auto& s : subjects_) {
      if (s.enrolled && (!s.erased || Pick(10) == 0)) live.push_back(&s);
    }
    if (live.empty()) return nullptr;
    return live[Pick(live.size())];
  }

  // A probe photo; one that drew a step-up before is chosen again half of the time, so that
  // step-ups (rare with LFW probes) are part of the mix.
  std::string Probe(const Subject& s) {
    auto it = asked_step_up_.find(s.id);
    if (it != asked_step_up_.end() && Pick(2) == 0) {
      auto p = it->second.begin();
      std::advance(p, Pick(it->second.size()));
      return *p;
    }
    return s.who->photos[2 + Pick(s.who->photos.size() - 2)];
  }

  void Passage() {
    Subject* s = Someone();
    if (s == nullptr) return;
    const std::string gate = "g" + std::to_string(1 + Pick(3));
    const std::string photo = Probe(*s);
    const std::string event = Id("ev");
    httplib::MultipartFormDataItems mp = {
        {"event_id", event, "", ""},
        {"frames", ReadFile(photo), fs::path(photo).filename(), "image/jpeg"}};
    Request r{"POST", "/v1/gates/" + gate + "/passages", k_.gate, {}, mp};
    json extra = {{"gate", gate}, {"event_id", event}, {"intended", s->id}, {"frame", photo}};
    Answer a = Go("passage", r, extra);
    if (a.status == 200 && Str(P(a.body, {"decision", "outcome"})) == "step_up" &&
        a.body.contains("challenge")) {
      asked_step_up_[s->id].insert(photo);
      StepUp("/v1/gates/" + gate + "/passages/", k_.gate, a, *s, extra);
    }
  }

  void Payment() {
    Subject* s = Someone();
    if (s == nullptr) return;
    const std::string till = "t" + std::to_string(1 + Pick(2));
    const std::string photo = Probe(*s);
    const std::string order = Id("ord");
    const int64_t amount = 50 + 10 * static_cast<int64_t>(Pick(60));
    Request r{"POST", "/v1/tills/" + till + "/payments", k_.merchant,
              {{"order_id", order}, {"amount_minor", amount},
               {"frames", json::array({Base64(ReadFile(photo))})}}, {}};
    json extra = {{"till", till}, {"order_id", order}, {"intended", s->id}, {"frame", photo}};
    Answer a = Go("payment", r, extra);
    if (a.status == 200 && Str(P(a.body, {"decision", "outcome"})) == "step_up" &&
        a.body.contains("challenge")) {
      asked_step_up_[s->id].insert(photo);
      StepUp("/v1/tills/" + till + "/payments/", k_.merchant, a, *s, extra);
    }
  }

  void StepUp(const std::string& prefix, const std::string& token, const Answer& first,
              const Subject& s, json extra) {
    const std::string ch = Str(P(first.body, {"challenge", "id"}));
    Request r{"POST", prefix + ch + "/step-up", token, {{"phone_last4", s.phone}}, {}};
    extra["challenge"] = ch;
    Go("step_up", r, extra);
  }

  void Erase() {
    std::vector<Subject*> live;
    for (auto& s : subjects_) {
      if (s.enrolled && !s.erased) live.push_back(&s);
    }
    if (live.size() < 3) return;
    Subject* s = live[Pick(live.size())];
    Request r{"DELETE", "/v1/subjects/" + s->id, k_.enroller, {}, {}};
    Answer a = Go("erase", r, {{"subject", s->id}, {"account", s->account}});
    if (a.status == 200 || (a.status == 404 && a.attempts > 1)) s->erased = true;
  }

  int w_;
  const Options& o_;
  const Keys& k_;
  std::vector<const Identity*> mine_;
  size_t next_ = 0;
  Journal& j_;
  std::atomic<bool>& stop_;
  Http http_;
  std::mt19937 rng_;
  int seq_ = 0;
  std::vector<Subject> subjects_;
  std::map<std::string, std::set<std::string>> asked_step_up_;  // subject -> photos
};

std::vector<Identity> LoadIdentities(const std::string& dir, int want) {
  std::vector<Identity> out;
  std::vector<fs::path> people;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory()) people.push_back(e.path());
  }
  std::sort(people.begin(), people.end());
  for (const auto& p : people) {
    Identity id{p.filename().string(), {}};
    for (const auto& f : fs::directory_iterator(p)) id.photos.push_back(f.path().string());
    std::sort(id.photos.begin(), id.photos.end());
    if (id.photos.size() >= 4) out.push_back(std::move(id));
    if (static_cast<int>(out.size()) >= want) break;
  }
  return out;
}

Keys ReadKeys(const std::string& path) {
  json k = json::parse(ReadFile(path));
  return {k.at("enroller"), k.at("gate"), k.at("merchant")};
}

int Load(const Options& o) {
  const Keys keys = ReadKeys(o.keys);
  const auto ids = LoadIdentities(o.images, o.identities);
  if (static_cast<int>(ids.size()) < o.workers * 3) {
    std::cerr << "soak: too few identities with >= 4 photos in " << o.images << "\n";
    return 1;
  }
  Journal journal(o.journal);
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<Worker>> workers;
  for (int w = 0; w < o.workers; ++w) {
    std::vector<const Identity*> mine;
    for (size_t i = w; i < ids.size(); i += o.workers) mine.push_back(&ids[i]);
    workers.push_back(std::make_unique<Worker>(w, o, keys, mine, journal, stop));
  }
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->Run(); });
  while (!fs::exists(o.stop_file)) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop = true;
  for (auto& t : threads) t.join();
  std::cerr << "soak: load finished\n";
  return 0;
}

// ---- verify --------------------------------------------------------------------------------

struct Expected {
  std::string account;
  int64_t delta = 0;  // signed, on the customer account
  std::string op;
};

int Verify(const Options& o) {
  const Keys keys = ReadKeys(o.keys);
  std::map<std::string, std::string> merchant_of;  // till -> merchant account
  {
    json t = json::parse(ReadFile(o.terminals));
    for (const auto& x : t["tills"]) merchant_of[x["id"]] = x["merchant_account"];
  }
  std::vector<json> entries;
  {
    std::ifstream in(o.journal);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) entries.push_back(json::parse(line));
    }
  }
  Http http(o);
  json violations = json::array();
  auto violate = [&](const std::string& what, json detail) {
    detail["violation"] = what;
    violations.push_back(detail);
    std::cerr << "VIOLATION " << detail.dump() << "\n";
  };

  std::map<std::string, std::string> account_of_subject;
  std::set<std::string> accounts;
  std::map<std::string, Expected> expected;   // ledger idempotency key -> movement
  std::map<std::string, std::string> unknown;  // key -> account ("" = any), not acknowledged
  json ops = json::object();
  json retry_causes = {{"transport_error", 0}};
  auto count = [&](const std::string& op, const std::string& what) {
    json& c = ops[op];
    if (!c.is_object()) c = json::object();
    c[what] = c.value(what, 0) + 1;
  };
  std::map<std::string, const json*> enrolled, erased;  // subject -> entry
  std::vector<const json*> replayable;

  for (const json& e : entries) {
    const std::string op = e["op"];
    const int status = e["status"];
    const json& b = e["body"];
    count(op, "sent");
    retry_causes["transport_error"] = retry_causes["transport_error"].get<int>() +
                                      e["transport_errors"].get<int>();
    for (auto& [why, n] : e["retried_codes"].items()) {
      retry_causes[why] = retry_causes.value(why, 0) + n.get<int>();
    }
    if (e["attempts"].get<int>() > 1) count(op, "retried");
    if (status == 0) count(op, "gave_up");
    else if (status / 100 == 2) count(op, "acknowledged");
    else count(op, "refused_" + std::to_string(status));
    if (b.is_object() && (Bool(P(b, {"replayed"})) || Bool(P(b, {"settlement", "replayed"})))) {
      count(op, "answered_replayed");
    }
    if (op == "account" && (status == 201 || status == 409)) accounts.insert(e["account"]);
    if (op == "topup") {
      const std::string key = "topup:" + e["request"]["idempotency_key"].get<std::string>();
      if (status == 200 && Str(P(b, {"outcome"})) == "approved") {
        expected[key] = {e["account"], e["request"]["amount_minor"].get<int64_t>(), op};
        replayable.push_back(&e);
      } else if (status == 0) {
        unknown[key] = e["account"];
      }
    }
    if (op == "enrol") {
      const std::string s = e["subject"];
      if (status == 201) {
        enrolled[s] = &e;
        account_of_subject[s] = e["account"];
      } else if (status == 409 && e["attempts"].get<int>() > 1 &&
                 Str(P(b, {"error", "code"})) == "subject_exists") {
        count(op, "inflight_then_exists");
        enrolled[s] = &e;  // the lost answer was an enrolment
        account_of_subject[s] = e["account"];
      } else if (status == 0) {
        account_of_subject[s] = e["account"];
      }
    }
    if (op == "erase") {
      const std::string s = e["subject"];
      if (status == 200) erased[s] = &e;
      else if (status == 404 && e["attempts"].get<int>() > 1) {
        count(op, "inflight_then_gone");
        erased[s] = &e;
      }
    }
    if (op == "passage" || op == "payment" || op == "step_up") {
      const bool gate = e.contains("gate");
      const std::string key =
          gate ? "gate:" + e["gate"].get<std::string>() + ":" + e["event_id"].get<std::string>()
               : "order:" + merchant_of[e["till"]] + ":" + e["order_id"].get<std::string>();
      const bool accepted = status == 200 && Str(P(b, {"decision", "outcome"})) == "accept";
      if (status == 200) count(op, "outcome_" + Str(P(b, {"decision", "outcome"})));
      if (accepted) {
        const std::string subject = Str(P(b, {"decision", "subject_id"}));
        if (subject != Str(P(e, {"intended"}))) count(op, "accepted_other_subject");
        const json& st = P(b, {"settlement"});
        const auto acct = account_of_subject.find(subject);
        if (gate && Int(P(st, {"txn_id"})) > 0 && Int(P(st, {"fare_minor"})) > 0) {
          expected[key] = {acct == account_of_subject.end() ? "" : acct->second,
                           -Int(P(st, {"fare_minor"})), op};
        } else if (!gate && Str(P(st, {"outcome"})) == "approved") {
          expected[key] = {Str(P(st, {"receipt", "account_id"})),
                           -Int(P(st, {"receipt", "amount_minor"})), op};
        }
        if (op != "step_up") replayable.push_back(&e);
      } else if (status == 0 || (op == "step_up" && status != 200 && e["attempts"].get<int>() > 1)) {
        // No answer, or a retried step-up that now says challenge_used: the charge may have
        // been made under the lost answer.
        unknown[key] = "";
        if (op == "step_up" && status != 200) count(op, "inflight_outcome_unknown");
      }
    }
  }
  for (const auto& [s, a] : account_of_subject) accounts.insert(a);
  for (auto& [key, ex] : expected) unknown.erase(key);

  // Every account: its transactions vs what was acknowledged.
  json ledger = {{"acknowledged_movements", expected.size()}, {"present_exactly_once", 0},
                 {"missing", 0}, {"duplicated", 0}, {"amount_mismatch", 0},
                 {"unacknowledged_present", 0}, {"unexpected", 0}, {"accounts", accounts.size()},
                 {"balance_ok", 0}};
  std::map<std::string, int> seen;  // key -> times listed on its customer account
  std::map<std::string, int64_t> seen_delta;
  for (const std::string& acct : accounts) {
    auto [sa, ab] = http.Once({"GET", "/v1/accounts/" + acct, keys.enroller, {}, {}});
    auto [st, tb] =
        http.Once({"GET", "/v1/accounts/" + acct + "/transactions?limit=1000", keys.enroller, {}, {}});
    if (sa != 200 || st != 200) {
      violate("account_unreadable", {{"account", acct}, {"status", sa}, {"txn_status", st}});
      continue;
    }
    int64_t sum_entries = 0, sum_expected = 0;
    for (const auto& t : tb["items"]) {
      const std::string key = t.value("idempotency_key", "");
      int64_t d = 0;
      for (const auto& en : t["entries"]) {
        if (en["account_id"] == acct) d += en["amount_minor"].get<int64_t>();
      }
      sum_entries += d;
      seen[key] += 1;
      seen_delta[key] = d;
      auto ex = expected.find(key);
      if (ex == expected.end()) {
        auto u = unknown.find(key);
        if (u != unknown.end()) {
          ledger["unacknowledged_present"] = ledger["unacknowledged_present"].get<int>() + 1;
          sum_expected += d;
        } else {
          ledger["unexpected"] = ledger["unexpected"].get<int>() + 1;
          violate("unexpected_transaction", {{"account", acct}, {"txn", t}});
        }
      } else {
        if (!ex->second.account.empty() && ex->second.account != acct) {
          violate("wrong_account", {{"key", key}, {"expected", ex->second.account}, {"got", acct}});
        }
        sum_expected += ex->second.delta;
      }
    }
    if (tb["items"].size() >= 1000) violate("too_many_transactions_to_check", {{"account", acct}});
    const int64_t balance = ab["balance_minor"];
    if (balance == sum_entries && balance == sum_expected) {
      ledger["balance_ok"] = ledger["balance_ok"].get<int>() + 1;
    } else {
      violate("balance_mismatch", {{"account", acct}, {"balance_minor", balance},
                                   {"sum_listed_entries", sum_entries},
                                   {"sum_acknowledged", sum_expected}});
    }
  }
  for (const auto& [key, ex] : expected) {
    const int n = seen.count(key) ? seen[key] : 0;
    if (n == 1) {
      ledger["present_exactly_once"] = ledger["present_exactly_once"].get<int>() + 1;
      if (seen_delta[key] != ex.delta) {
        ledger["amount_mismatch"] = ledger["amount_mismatch"].get<int>() + 1;
        violate("amount_mismatch", {{"key", key}, {"acknowledged", ex.delta}, {"ledger", seen_delta[key]}});
      }
    } else if (n == 0) {
      ledger["missing"] = ledger["missing"].get<int>() + 1;
      violate("acknowledged_missing", {{"key", key}, {"op", ex.op}, {"account", ex.account}});
    } else {
      ledger["duplicated"] = ledger["duplicated"].get<int>() + 1;
      violate("duplicated", {{"key", key}, {"times", n}});
    }
  }
  for (const auto& [key, acct] : unknown) {
    if (seen.count(key) && seen[key] > 1) violate("inflight_duplicated", {{"key", key}, {"times", seen[key]}});
  }
  ledger["unacknowledged_absent"] = static_cast<int>(unknown.size()) -
                                    ledger["unacknowledged_present"].get<int>();

  // Retrying an acknowledged request gives the stored answer, charging nothing again.
  json replays = {{"sent", 0}, {"same", 0}};
  for (const json* e : replayable) {
    Request r{"POST", (*e)["path"], "", (*e).value("request", json::object()), {}};
    const std::string op = (*e)["op"];
    if (op == "topup") r.token = keys.enroller;
    else if (op == "payment") r.token = keys.merchant;
    else r.token = keys.gate;
    if (op == "passage") {
      r.multipart = {{"event_id", (*e)["event_id"], "", ""},
                     {"frames", ReadFile((*e)["frame"]), fs::path((*e)["frame"].get<std::string>()).filename(),
                      "image/jpeg"}};
    } else if (op == "payment") {
      r.body["frames"] = json::array({Base64(ReadFile((*e)["frame"]))});
    }
    auto [s, b] = http.Once(r);
    replays["sent"] = replays["sent"].get<int>() + 1;
    const json& first = (*e)["body"];
    bool same = s == 200;
    if (same && op == "topup") {
      same = Bool(P(b, {"replayed"})) && P(b, {"receipt", "txn_id"}) == P(first, {"receipt", "txn_id"});
    } else if (same) {
      same = Bool(P(b, {"replayed"})) && P(b, {"decision"}) == P(first, {"decision"}) &&
             P(b, {"settlement"}) == P(first, {"settlement"});
    }
    if (same) replays["same"] = replays["same"].get<int>() + 1;
    else violate("replay_differs", {{"op", op}, {"path", (*e)["path"]}, {"status", s}, {"first", first}, {"retry", b}});
  }

  // Subjects: enrolled ones exist with their account unless erased; erased ones are gone and
  // their account unlinked (a new enrolment may link it: no images = 400, not 409).
  json subjects = {{"acknowledged_enrolled", enrolled.size()}, {"acknowledged_erased", erased.size()},
                   {"present", 0}, {"gone", 0}, {"unlinked", 0}};
  for (const auto& [s, e] : enrolled) {
    auto [st, b] = http.Once({"GET", "/v1/subjects/" + s, keys.enroller, {}, {}});
    if (erased.count(s)) {
      if (st == 404) subjects["gone"] = subjects["gone"].get<int>() + 1;
      else violate("erased_subject_present", {{"subject", s}, {"status", st}});
      auto [lp, lb] = http.Once({"POST", "/v1/subjects", keys.enroller,
                                 {{"id", "linkprobe"}, {"text_version", "v1"},
                                  {"account_id", account_of_subject[s]}}, {}});
      if (lp == 409 && Str(P(lb, {"error", "code"})) == "account_linked") {
        violate("erased_subject_account_still_linked", {{"subject", s}, {"account", account_of_subject[s]}});
      } else {
        subjects["unlinked"] = subjects["unlinked"].get<int>() + 1;
      }
    } else if (st == 200) {
      subjects["present"] = subjects["present"].get<int>() + 1;
      if (Str(P(b, {"account_id"})) != account_of_subject[s] || Int(P(b, {"templates"})) < 1) {
        violate("enrolled_subject_incomplete", {{"subject", s}, {"expected_account", account_of_subject[s]}, {"got", b}});
      }
    } else {
      violate("enrolled_subject_missing", {{"subject", s}, {"status", st}});
    }
  }
  for (const auto& [s, e] : erased) {
    if (!enrolled.count(s)) violate("erased_never_enrolled", {{"subject", s}});
  }

  json report = {{"operations", ops}, {"retry_causes", retry_causes}, {"ledger", ledger}, {"replays", replays},
                 {"subjects", subjects}, {"violations", violations},
                 {"journal_entries", entries.size()}};
  std::ofstream(o.report) << report.dump(2) << "\n";
  std::cout << report.dump(2) << "\n";
  return violations.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (argc < 2) {
    std::cerr << "usage: soak_driver load|verify --port P --keys F [--images DIR --journal J "
                 "--stop-file F --workers N --seed S --run ID] [--report R --terminals T]\n";
    return 2;
  }
  o.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--port") o.port = std::stoi(v);
    else if (k == "--host") o.host = v;
    else if (k == "--keys") o.keys = v;
    else if (k == "--images") o.images = v;
    else if (k == "--journal") o.journal = v;
    else if (k == "--stop-file") o.stop_file = v;
    else if (k == "--report") o.report = v;
    else if (k == "--terminals") o.terminals = v;
    else if (k == "--workers") o.workers = std::stoi(v);
    else if (k == "--identities") o.identities = std::stoi(v);
    else if (k == "--op-deadline-s") o.op_deadline_s = std::stoi(v);
    else if (k == "--seed") o.seed = static_cast<unsigned>(std::stoul(v));
    else if (k == "--run") o.run = v;
    else { std::cerr << "unknown option " << k << "\n"; return 2; }
  }
  if (o.mode == "load") return Load(o);
  if (o.mode == "verify") return Verify(o);
  std::cerr << "mode must be load or verify\n";
  return 2;
}
