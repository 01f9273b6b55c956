#include "facepay/node/gate.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <opencv2/videoio.hpp>

#include "facepay/service/auth.h"

namespace facepay::node {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now().time_since_epoch())
      .count();
}

namespace {

int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch())
      .count();
}

bool IsStreamUrl(const std::string& s) {
  return s.rfind("rtsp://", 0) == 0 || s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0;
}

bool IsDeviceNumber(const std::string& s) {
  return !s.empty() && s.size() <= 3 && std::all_of(s.begin(), s.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
}

// OpenCV VideoCapture over a device, a stream or a file.
class VideoSource final : public FrameSource {
 public:
  VideoSource(std::string spec, double from_ms, bool realtime, bool loop)
      : spec_(std::move(spec)), from_ms_(from_ms), realtime_(realtime), loop_(loop) {
    file_ = !IsDeviceNumber(spec_) && !IsStreamUrl(spec_) && spec_.rfind("/dev/", 0) != 0;
  }

  Status Reopen() override {
    cap_.release();
    bool ok = false;
    if (IsDeviceNumber(spec_)) {
      ok = cap_.open(std::stoi(spec_), cv::CAP_V4L2);
    } else if (spec_.rfind("/dev/", 0) == 0) {
      ok = cap_.open(spec_, cv::CAP_V4L2);
    } else {
      ok = cap_.open(spec_, cv::CAP_FFMPEG);
    }
    if (!ok || !cap_.isOpened()) {
      return Unavailable("camera_unavailable", "cannot open the camera " + spec_);
    }
    fps_ = cap_.get(cv::CAP_PROP_FPS);
    if (!(fps_ > 1 && fps_ < 1000)) fps_ = 30;
    index_ = 0;
    if (file_ && from_ms_ > 0) {
      // Seek by reading: container seeks are approximate for webm, frame counts are not.
      const auto skip = static_cast<int64_t>(std::floor(from_ms_ * fps_ / 1000.0));
      cv::Mat scratch;
      while (index_ < skip && cap_.read(scratch)) ++index_;
    }
    started_ns_ = SteadyNowNs();
    first_index_ = index_;
    return Status::Ok();
  }

  Status Read(cv::Mat& bgr, double& t_ms) override {
    if (!cap_.isOpened()) return Unavailable("camera_unavailable", "the camera is not open");
    if (!cap_.read(bgr) || bgr.empty()) {
      if (file_ && loop_ && index_ > first_index_) {
        base_ms_ += static_cast<double>(index_ + 1) * 1000.0 / fps_;
        FACEPAY_RETURN_IF_ERROR(Reopen());
        if (cap_.read(bgr) && !bgr.empty()) {
          t_ms = base_ms_ + static_cast<double>(index_) * 1000.0 / fps_;
          ++index_;
          return Status::Ok();
        }
      }
      if (file_) return NotFound("end_of_stream", spec_);
      return Unavailable("camera_unavailable", "the camera gave no frame: " + spec_);
    }
    if (file_) {
      t_ms = base_ms_ + static_cast<double>(index_) * 1000.0 / fps_;
      if (realtime_) {
        const auto due = started_ns_ + static_cast<int64_t>(
                                           static_cast<double>(index_ - first_index_) * 1e9 / fps_);
        const auto now = SteadyNowNs();
        if (due > now) std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
      }
    } else {
      t_ms = static_cast<double>(SteadyNowMs());
    }
    ++index_;
    return Status::Ok();
  }

  bool is_file() const override { return file_; }
  std::string Describe() const override { return spec_; }

 private:
  std::string spec_;
  double from_ms_ = 0;
  bool realtime_ = false, loop_ = false, file_ = false;
  double base_ms_ = 0;  // capture time at the start of this pass (loop)
  cv::VideoCapture cap_;
  double fps_ = 30;
  int64_t index_ = 0, first_index_ = 0, started_ns_ = 0;
};

class JsonLines final : public Turnstile {
 public:
  explicit JsonLines(std::ostream& out) : out_(out) {}
  std::string Name() const override { return "json"; }
  Status Signal(const GateDecision& d) override {
    out_ << d.ToJson().dump() << std::endl;  // a line per decision, flushed for a pipe reader
    if (!out_) return Unavailable("turnstile_failed", "cannot write the decision line");
    return Status::Ok();
  }

 private:
  std::ostream& out_;
};

class Webhook final : public Turnstile {
 public:
  Webhook(std::string base, std::string path) : base_(std::move(base)), path_(std::move(path)) {}
  std::string Name() const override { return "webhook"; }
  Status Signal(const GateDecision& d) override {
    httplib::Client cli(base_);
    cli.set_connection_timeout(2, 0);
    cli.set_read_timeout(2, 0);
    cli.set_write_timeout(2, 0);
    auto r = cli.Post(path_, d.ToJson().dump(), "application/json");
    if (!r) return Unavailable("turnstile_failed", "webhook " + base_ + path_ + ": no answer");
    if (r->status / 100 != 2) {
      return Unavailable("turnstile_failed",
                         "webhook " + base_ + path_ + " answered " + std::to_string(r->status));
    }
    return Status::Ok();
  }

 private:
  std::string base_, path_;
};

// The GPIO / serial stub: one line per decision to a file or device node. A real relay driver
// replaces this class (the interface is Turnstile::Signal).
class RelayFile final : public Turnstile {
 public:
  explicit RelayFile(std::string path) : path_(std::move(path)) {}
  std::string Name() const override { return "relay"; }
  Status Signal(const GateDecision& d) override {
    std::ofstream f(path_, std::ios::app);
    if (d.open) {
      f << "open " << d.event_id << "\n";
    } else {
      f << "closed " << d.event_id << " " << (d.reason.empty() ? d.outcome : d.reason) << "\n";
    }
    f.flush();
    if (!f) return Unavailable("turnstile_failed", "cannot write the relay " + path_);
    return Status::Ok();
  }

 private:
  std::string path_;
};

// Splits "http://host:port/path" into the client base and the path ("/" when none).
StatusOr<std::pair<std::string, std::string>> SplitUrl(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos || (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)) {
    return InvalidArgument("invalid_url", "not an http:// or https:// URL: " + url);
  }
  const auto slash = url.find('/', scheme + 3);
  if (slash == std::string::npos) return std::make_pair(url, std::string("/"));
  return std::make_pair(url.substr(0, slash), url.substr(slash));
}

const char* ProbeStateWord(biometrics::ProbeState s) {
  switch (s) {
    case biometrics::ProbeState::kOk: return "ok";
    case biometrics::ProbeState::kNoFace: return "no_face";
    case biometrics::ProbeState::kMultipleFaces: return "multiple_faces";
    case biometrics::ProbeState::kSpoof: return "spoof";
    case biometrics::ProbeState::kLowQuality: return "low_quality";
  }
  return "no_face";
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

}  // namespace

StatusOr<std::unique_ptr<FrameSource>> OpenVideoSource(const std::string& spec, double from_ms,
                                                       bool realtime, bool loop) {
  if (spec.empty()) return InvalidArgument("camera_not_found", "no camera given");
  const bool file = !IsDeviceNumber(spec) && !IsStreamUrl(spec);
  if (file && !std::filesystem::exists(spec)) {
    return NotFound("camera_not_found", "no such camera device or video file: " + spec);
  }
  auto s = std::make_unique<VideoSource>(spec, from_ms, realtime, loop);
  FACEPAY_RETURN_IF_ERROR(s->Reopen());
  return std::unique_ptr<FrameSource>(std::move(s));
}

StatusOr<std::unique_ptr<Turnstile>> MakeTurnstile(const std::string& spec, std::ostream& json_out) {
  if (spec == "json") return std::unique_ptr<Turnstile>(std::make_unique<JsonLines>(json_out));
  if (spec.rfind("webhook:", 0) == 0) {
    auto parts = SplitUrl(spec.substr(8));
    if (!parts.ok()) return InvalidArgument("invalid_output", parts.status().message());
    return std::unique_ptr<Turnstile>(std::make_unique<Webhook>(parts->first, parts->second));
  }
  if (spec.rfind("relay:", 0) == 0 && spec.size() > 6) {
    return std::unique_ptr<Turnstile>(std::make_unique<RelayFile>(spec.substr(6)));
  }
  return InvalidArgument("invalid_output",
                         "an output is json, webhook:http://HOST:PORT/PATH or relay:PATH, not '" +
                             spec + "'");
}

json GateDecision::ToJson() const {
  json j = {{"event_id", event_id},   {"outcome", outcome},
            {"open", open},           {"live", live},
            {"liveness_mode", liveness_mode}, {"attempts", attempts},
            {"source_t_ms", source_t_ms}, {"frame_to_decision_ms", frame_to_decision_ms}};
  if (!reason.empty()) j["reason"] = reason;
  if (fare_minor) j["fare_minor"] = *fare_minor;
  if (balance_minor) j["balance_minor"] = *balance_minor;
  if (!settlement_reason.empty()) j["settlement_reason"] = settlement_reason;
  if (!challenge_id.empty()) j["challenge_id"] = challenge_id;
  if (offline) j["offline"] = true;
  return j;
}

// ---------------------------------------------------------------------------- ServerLink

ServerLink::ServerLink(LinkConfig config) : config_(std::move(config)) {}
ServerLink::~ServerLink() = default;

StatusOr<json> ServerLink::PostPassage(const std::string& gate, const std::string& event_id,
                                       const vision::Embedding& embedding, bool live,
                                       float liveness_score, int* attempts) {
  const json body = {{"event_id", event_id},
                     {"template", embedding},
                     {"liveness", {{"live", live}, {"score", std::clamp(liveness_score, 0.f, 1.f)}}}};
  const std::string path = "/v1/gates/" + gate + "/passages";
  const int64_t deadline = SteadyNowMs() + config_.retry_budget_ms;
  int backoff = config_.backoff_initial_ms;
  for (int n = 1;; ++n) {
    if (attempts) *attempts = n;
    // One attempt each; only an unreachable server (transport failure, 5xx, 429) is retried,
    // with the same event id: a refusal a retry cannot change is returned at once.
    auto a = Call("POST", path, &body);
    if (a.ok()) {
      if (!a->contains("decision")) {
        return Internal("bad_server_answer", "the server's passage answer is not a decision");
      }
      return a;
    }
    if (a.status().reason() != "server_unreachable") return a.status();
    if (SteadyNowMs() + backoff >= deadline) return a.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
    backoff = std::min(backoff * 2, config_.backoff_max_ms);
  }
}

StatusOr<json> ServerLink::Call(const std::string& method, const std::string& path,
                                const json* body) const {
  httplib::Client cli(config_.server);
  if (!config_.ca_cert.empty()) cli.set_ca_cert_path(config_.ca_cert.c_str());
  cli.set_connection_timeout(std::chrono::milliseconds(config_.timeout_ms));
  cli.set_read_timeout(std::chrono::milliseconds(config_.timeout_ms));
  cli.set_write_timeout(std::chrono::milliseconds(config_.timeout_ms));
  const httplib::Headers headers = {{"Authorization", "Bearer " + config_.key}};
  auto r = method == "GET" ? cli.Get(path, headers)
                           : cli.Post(path, headers, body ? body->dump() : "{}", "application/json");
  if (!r || r->status >= 500 || r->status == 429) {
    return Unavailable("server_unreachable",
                       config_.server + path + ": " +
                           (r ? "HTTP " + std::to_string(r->status) : httplib::to_string(r.error())));
  }
  json a = json::parse(r->body, nullptr, false);
  if (r->status != 200) {
    std::string code = "http_" + std::to_string(r->status), msg = r->body.substr(0, 200);
    if (!a.is_discarded() && a.is_object() && a.contains("error") && a["error"].is_object()) {
      code = a["error"].value("code", code);
      msg = a["error"].value("message", msg);
    }
    return FailedPrecondition(code, msg);
  }
  if (a.is_discarded() || !a.is_object()) {
    return Internal("bad_server_answer", "the server's answer to " + path + " is not a JSON object");
  }
  return a;
}

// ---------------------------------------------------------------------------------- Gate

Gate::Gate(GateConfig config, const vision::FacePipeline& pipeline,
           const vision::SequenceModel* sequence, const vision::CameraProfile* profile,
           ServerLink& link, std::vector<Turnstile*> outputs, GateReplica* replica)
    : config_(std::move(config)),
      pipeline_(pipeline),
      sequence_(sequence),
      profile_(profile),
      link_(link),
      outputs_(std::move(outputs)),
      replica_(replica),
      boot_id_(service::RandomHex(4)) {
  cnn_logit_offset_ = sequence_ ? vision::CnnLogitOffsetFor(*sequence_, profile_)
                                : (profile_ ? profile_->cnn_logit_offset : 0.f);
  progress_ms_ = SteadyNowMs();
}

Gate::~Gate() = default;

void Gate::RequestStop() { stop_.store(true); }

void Gate::SetState(const std::string& s) {
  std::lock_guard<std::mutex> l(mu_);
  state_ = s;
}

GateCounters Gate::counters() const {
  std::lock_guard<std::mutex> l(mu_);
  return counters_;
}

std::vector<GateDecision> Gate::decisions() const {
  std::lock_guard<std::mutex> l(mu_);
  return {decisions_.begin(), decisions_.end()};
}

json Gate::StatusJson() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<double> lat;
  for (const auto& d : decisions_) lat.push_back(d.frame_to_decision_ms);
  json j = {{"gate", config_.gate_id},
            {"state", state_},
            {"camera", camera_},
            {"server", server_},
            {"camera_calibrated", profile_ != nullptr},
            {"cnn_logit_offset", cnn_logit_offset_},
            {"stopping", stop_.load()},
            {"counters",
             {{"frames", counters_.frames},
              {"presentations", counters_.presentations},
              {"decisions", counters_.decisions},
              {"opened", counters_.opened},
              {"refused", counters_.refused},
              {"step_up", counters_.step_up},
              {"errors", counters_.errors},
              {"abandoned", counters_.abandoned},
              {"camera_failures", counters_.camera_failures},
              {"turnstile_errors", counters_.turnstile_errors},
              {"offline", counters_.offline},
              {"offline_opened", counters_.offline_opened}}},
            {"frame_to_decision_ms",
             {{"median", Percentile(lat, 0.5)}, {"p99", Percentile(lat, 0.99)}}}};
  if (!decisions_.empty()) j["last_decision"] = decisions_.back().ToJson();
  if (replica_ != nullptr) {
    const QueueCounts q = replica_->counts();
    j["replica"] = {{"templates", replica_->template_count()},
                    {"cursor", replica_->cursor()},
                    {"last_contact_ms", replica_->last_contact_ms()},
                    {"queue", {{"pending", q.pending}, {"settled", q.settled},
                               {"already_settled", q.already_settled}, {"refused", q.refused}}}};
  }
  return j;
}

GateDecision Gate::Decide(const std::string& event_id, const flows::Probe& probe, double t_ms,
                          int64_t read_ns) {
  GateDecision d;
  d.event_id = event_id;
  d.source_t_ms = t_ms;
  d.liveness_mode = probe.liveness_mode;
  d.live = probe.state != biometrics::ProbeState::kSpoof;
  SetState("deciding");
  auto a = link_.PostPassage(config_.gate_id, event_id, probe.embedding, d.live, probe.liveness,
                             &d.attempts);
  {
    std::lock_guard<std::mutex> l(mu_);
    server_ = a.ok() || a.status().reason() != "server_unreachable" ? "reachable" : "unreachable";
  }
  if (!a.ok() && a.status().reason() == "server_unreachable" && replica_ != nullptr) {
    // Offline: decided here under the stricter offline policy; an open passage is queued
    // (signed, committed) before the turnstile opens and settled when the server is back.
    d.offline = true;
    if (!d.live) {
      d.outcome = "reject";
      d.reason = "spoof";
    } else {
      auto v = replica_->DecideOffline(event_id, probe.embedding, config_.offline);
      if (!v.ok()) {
        d.outcome = "error";
        d.reason = std::string(v.status().reason());
      } else {
        d.outcome = v->open ? "accept" : "reject";
        d.reason = v->reason;
        d.open = v->open;
      }
    }
  } else if (!a.ok()) {
    d.outcome = "error";
    d.reason = std::string(a.status().reason());
  } else {
    if (replica_ != nullptr) replica_->RecordContact();
    const json& ans = *a;
    const json& dec = ans["decision"];
    d.outcome = dec.value("outcome", "reject");
    d.reason = dec.value("reason", "");
    if (ans.contains("settlement") && ans["settlement"].is_object()) {
      const json& s = ans["settlement"];
      d.open = s.value("open_gate", false);
      if (s.contains("fare_minor") && s["fare_minor"].is_number_integer()) {
        d.fare_minor = s["fare_minor"].get<int64_t>();
      }
      if (s.contains("balance_minor") && s["balance_minor"].is_number_integer()) {
        d.balance_minor = s["balance_minor"].get<int64_t>();
      }
      d.settlement_reason = s.value("reason", "");
    }
    if (ans.contains("challenge") && ans["challenge"].is_object()) {
      d.challenge_id = ans["challenge"].value("id", "");
    }
  }
  d.frame_to_decision_ms = static_cast<double>(SteadyNowNs() - read_ns) / 1e6;
  return d;
}

void Gate::Publish(const GateDecision& d) {
  int failed = 0;
  for (Turnstile* t : outputs_) {
    Status s = t->Signal(d);
    if (!s.ok()) {
      ++failed;
      std::cerr << "facepay gate: output " << t->Name() << ": " << s.ToString() << "\n";
    }
  }
  std::lock_guard<std::mutex> l(mu_);
  ++counters_.decisions;
  if (d.offline) ++counters_.offline;
  if (d.offline && d.open) ++counters_.offline_opened;
  if (d.open) {
    ++counters_.opened;
  } else if (d.outcome == "step_up") {
    ++counters_.step_up;
  } else if (d.outcome == "error") {
    ++counters_.errors;
  } else {
    ++counters_.refused;
  }
  counters_.turnstile_errors += failed;
  decisions_.push_back(d);
  // A gate runs for months: the status keeps the recent decisions, not every one.
  if (decisions_.size() > kKeptDecisions) decisions_.pop_front();
}

Status Gate::Run(FrameSource& source) {
  vision::PresenceTracker tracker(config_.presence);
  flows::ProbeContext ctx;
  ctx.pipeline = &pipeline_;
  ctx.sequence = sequence_;
  ctx.camera = profile_;
  ctx.frame_interval_ms = config_.burst_interval_ms;
  vision::AnalyzeOptions track;  // detection (and landmarks) only: ~10 ms a frame
  track.liveness = false;
  track.embed = false;
  vision::AnalyzeOptions full;
  full.single_subject = true;
  std::optional<flows::ProbeBuilder> burst;
  int burst_n = 0;
  double next_burst_t = 0;
  int backoff_ms = 250;
  int64_t passages = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    camera_ = "ok";
  }
  SetState("idle");
  cv::Mat frame;
  double t_ms = 0;
  for (;;) {
    // A stop ends the loop between passages; a burst in flight is finished first.
    if (stop_.load() && !burst) break;
    Status rs = source.Read(frame, t_ms);
    progress_ms_ = SteadyNowMs();
    if (!rs.ok()) {
      if (rs.reason() == "end_of_stream") break;
      {
        std::lock_guard<std::mutex> l(mu_);
        camera_ = "reconnecting";
        ++counters_.camera_failures;
      }
      burst.reset();  // a burst across a camera failure is not one presentation
      tracker.Reset();
      std::cerr << "facepay gate: " << rs.ToString() << "; reopening in " << backoff_ms << " ms\n";
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
      backoff_ms = std::min(backoff_ms * 2, 8000);
      if (source.Reopen().ok()) {
        std::lock_guard<std::mutex> l(mu_);
        camera_ = "ok";
        backoff_ms = 250;
      }
      continue;
    }
    const int64_t read_ns = SteadyNowNs();
    {
      std::lock_guard<std::mutex> l(mu_);
      ++counters_.frames;
    }
    if (burst) {
      if (t_ms + 1e-6 < next_burst_t) continue;  // between burst frames
      FACEPAY_ASSIGN_OR_RETURN(auto a, pipeline_.Analyze(frame, full));
      burst->Add(frame, a, t_ms);
      next_burst_t = t_ms + config_.burst_interval_ms;
      if (++burst_n < config_.burst_frames) continue;
      flows::Probe probe = burst->Finish();
      // The server gets a yes/no liveness verdict with the template and could not step an
      // unsure burst up on it: an unsure burst of an uncalibrated camera is sent as not live.
      flows::RefuseUnsure(probe);
      burst.reset();
      const bool usable = probe.state == biometrics::ProbeState::kOk ||
                          probe.state == biometrics::ProbeState::kSpoof;
      if (!usable || probe.face_frames < flows::kMinSequenceFrames) {
        // The person left, a second face came in, or the face was too poor: no passage.
        std::lock_guard<std::mutex> l(mu_);
        ++counters_.abandoned;
        state_ = std::string("retry:") + ProbeStateWord(probe.state);
        tracker.Reset();
        continue;
      }
      const std::string event_id =
          config_.gate_id + "-" + boot_id_ + "-" + std::to_string(++passages);
      const GateDecision d = Decide(event_id, probe, t_ms, read_ns);
      Publish(d);
      progress_ms_ = SteadyNowMs();
      if (config_.rearm) {
        tracker.Reset();
      } else {
        tracker.MarkDecided();
      }
      SetState(config_.rearm ? "idle" : "decided");
      if (config_.max_passages > 0 && passages >= config_.max_passages) break;
      continue;
    }
    FACEPAY_ASSIGN_OR_RETURN(auto a, pipeline_.Analyze(frame, track));
    const auto before = tracker.state();
    const auto now = tracker.Feed(a.detections, a.image_width, a.image_height);
    if (now == vision::Presence::kPresenting && !stop_.load()) {
      burst.emplace(ctx);
      burst_n = 0;
      next_burst_t = t_ms;  // this frame is the burst's first: analysed in full below
      {
        std::lock_guard<std::mutex> l(mu_);
        ++counters_.presentations;
        state_ = "presenting";
      }
      FACEPAY_ASSIGN_OR_RETURN(auto fa, pipeline_.Analyze(frame, full));
      burst->Add(frame, fa, t_ms);
      ++burst_n;
      next_burst_t = t_ms + config_.burst_interval_ms;
    } else if (now != before) {
      SetState(vision::PresenceName(now));
    }
  }
  SetState("stopped");
  return Status::Ok();
}

// ------------------------------------------------------------------------ status server

struct GateStatusServer::Impl {
  httplib::Server server;
  std::thread serve, watchdog;
  std::atomic<bool> done{false};
  std::mutex mu;
  std::condition_variable cv;
  int port = 0;
};

StatusOr<std::unique_ptr<GateStatusServer>> GateStatusServer::Start(const Gate& gate,
                                                                     const std::string& host,
                                                                     int port, int stale_ms,
                                                                     int watchdog_ms) {
  auto impl = std::make_unique<Impl>();
  Impl* p = impl.get();
  p->server.Get("/status", [&gate](const httplib::Request&, httplib::Response& res) {
    res.set_content(gate.StatusJson().dump(), "application/json");
  });
  p->server.Get("/healthz", [&gate, stale_ms](const httplib::Request&, httplib::Response& res) {
    const int64_t age = SteadyNowMs() - gate.last_progress_ms();
    const bool ok = age <= stale_ms;
    res.status = ok ? 200 : 503;
    res.set_content(json{{"status", ok ? "ok" : "stalled"}, {"last_progress_age_ms", age}}.dump(),
                    "application/json");
  });
  if (port == 0) {
    p->port = p->server.bind_to_any_port(host);
  } else {
    p->port = p->server.bind_to_port(host, port) ? port : -1;
  }
  if (p->port <= 0) {
    return Unavailable("status_listen_failed",
                       "cannot listen on " + host + ":" + std::to_string(port));
  }
  p->serve = std::thread([p] { p->server.listen_after_bind(); });
  if (watchdog_ms > 0) {
    p->watchdog = std::thread([p, &gate, watchdog_ms] {
      std::unique_lock<std::mutex> l(p->mu);
      while (!p->done.load()) {
        p->cv.wait_for(l, std::chrono::milliseconds(std::max(100, watchdog_ms / 10)));
        if (p->done.load()) break;
        const int64_t age = SteadyNowMs() - gate.last_progress_ms();
        if (age > watchdog_ms) {
          std::cerr << "facepay gate: watchdog: no progress for " << age
                    << " ms (a hung camera or inference); exiting for the supervisor to restart\n";
          std::_Exit(75);
        }
      }
    });
  }
  return std::unique_ptr<GateStatusServer>(new GateStatusServer(std::move(impl)));
}

GateStatusServer::GateStatusServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GateStatusServer::~GateStatusServer() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->done = true;
  }
  impl_->cv.notify_all();
  impl_->server.stop();
  if (impl_->serve.joinable()) impl_->serve.join();
  if (impl_->watchdog.joinable()) impl_->watchdog.join();
}

int GateStatusServer::port() const { return impl_->port; }

}  // namespace facepay::node
