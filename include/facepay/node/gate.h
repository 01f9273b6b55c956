// The edge gate (`facepay gate`): a process beside one turnstile. It reads its camera, waits
// until one person presents (vision::PresenceTracker), collects a burst, runs the vision stages
// and sequence liveness locally (flows::ProbeBuilder, the server's own probe code) and sends
// only the template and the liveness verdict to the server's edge-template passage route —
// never an image. The answer drives the turnstile outputs.
//
//   FrameSource   where frames come from: a V4L2 device, an RTSP/HTTP stream or a file
//                 (OpenCV VideoCapture); a stream that fails is reopened with back-off
//   ServerLink    the edge-template passage route, retried with the same event id (so a
//                 retry, or a server restart in the middle, never charges a second fare)
//   Turnstile     what opens the turnstile and tells the gate screen: a JSON line per decision,
//                 an HTTP webhook, a relay file (the GPIO / serial stub to replace)
//   Gate          the loop; StatusJson() is what a gate screen or a supervisor reads
//
// Shutdown: RequestStop (SIGTERM) lets the passage in flight finish — its burst, the server's
// answer and the turnstile signal — then Run returns. A watchdog (ServeGateStatus's thread)
// ends the process when the loop stops making progress, for systemd to restart it.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "facepay/common/status_or.h"
#include "facepay/flows/probe.h"
#include "facepay/node/gate_offline.h"
#include "facepay/vision/face_pipeline.h"
#include "facepay/vision/presence_tracker.h"
#include "facepay/vision/sequence_liveness.h"

namespace facepay::node {

// ---------------------------------------------------------------------------------- camera

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // The next frame and its capture time in ms (a file: its position in the file; a camera or a
  // stream: a steady clock). NotFound("end_of_stream") after the last frame of a file;
  // Unavailable("camera_unavailable") when a device or stream fails (Reopen, then read again).
  virtual Status Read(cv::Mat& bgr, double& t_ms) = 0;
  virtual Status Reopen() = 0;
  virtual bool is_file() const = 0;
  virtual std::string Describe() const = 0;
};

// `spec`: a device number ("0"), a device path ("/dev/video0"), a stream URL (rtsp://,
// http://, https://) or a video file. A file starts at `from_ms` and is read as fast as the
// gate processes it (tests, benchmarks); with `realtime` at its own frame rate; with `loop`
// it starts again at its end (capture times keep increasing).
// Errors: camera_not_found (no such file or device), camera_unavailable (cannot be opened).
StatusOr<std::unique_ptr<FrameSource>> OpenVideoSource(const std::string& spec, double from_ms = 0,
                                                       bool realtime = false, bool loop = false);

// ----------------------------------------------------------------------------- decisions

struct GateDecision {
  std::string event_id;
  std::string outcome;  // accept | step_up | reject | error (no answer: see reason)
  std::string reason;   // reject reason, or an error code (server_unreachable, ...)
  bool open = false;    // the turnstile opens: the server settled a fare with open_gate
  std::optional<int64_t> fare_minor, balance_minor;
  std::string settlement_reason;  // e.g. anti_passback, insufficient_funds
  std::string challenge_id;       // step_up: what a gate screen completes with the keypad
  std::string liveness_mode;      // sequence | single_frame
  bool offline = false;           // decided by the gate against its replica (queued)
  bool live = false;              // the gate's own liveness verdict
  int attempts = 0;               // HTTP attempts (retries reuse the event id)
  double source_t_ms = 0;         // the source time of the burst's last frame
  double frame_to_decision_ms = 0;  // from reading the burst's last frame to the answer
  nlohmann::json ToJson() const;
};

class Turnstile {
 public:
  virtual ~Turnstile() = default;
  virtual std::string Name() const = 0;
  // Opens (decision.open) or keeps closed and tells why. An error is logged by the gate and
  // counted; the passage itself is settled on the server either way.
  virtual Status Signal(const GateDecision& decision) = 0;
};

// "json" (one line per decision on `json_out`), "webhook:URL" (POST of the same JSON, 2 s
// timeout), "relay:PATH" (writes "open <event_id>" / "closed <event_id> <reason>" lines to a
// file or device: the GPIO / serial stub). Errors: invalid_output.
StatusOr<std::unique_ptr<Turnstile>> MakeTurnstile(const std::string& spec, std::ostream& json_out);

// ---------------------------------------------------------------------------- the server

struct LinkConfig {
  std::string server = "http://127.0.0.1:8080";  // http:// or https://
  std::string key;      // the gate's API key (role gate, bound to this gate or its station)
  std::string ca_cert;  // https: the server's certificate or CA ("" = the system's)
  int timeout_ms = 3000;       // per attempt (connect, read, write)
  int retry_budget_ms = 8000;  // keep retrying transport failures, 5xx and 429 this long
  int backoff_initial_ms = 100, backoff_max_ms = 2000;
};

class ServerLink {
 public:
  explicit ServerLink(LinkConfig config);
  ~ServerLink();
  // POST /v1/gates/{gate}/passages with the template and the liveness verdict. Returns the
  // server's answer (HTTP 200), or its error (its code as the reason, e.g. not_an_edge_gate),
  // or Unavailable("server_unreachable") when the budget is spent. `attempts` counts tries.
  StatusOr<nlohmann::json> PostPassage(const std::string& gate, const std::string& event_id,
                                       const vision::Embedding& embedding, bool live,
                                       float liveness_score, int* attempts);
  // One attempt of GET (empty body) or POST (JSON body) on `path`: the answer (HTTP 200), the
  // server's refusal (its code as the reason), or Unavailable("server_unreachable").
  StatusOr<nlohmann::json> Call(const std::string& method, const std::string& path,
                                const nlohmann::json* body) const;
  const LinkConfig& config() const { return config_; }

 private:
  LinkConfig config_;
};

// ------------------------------------------------------------------------------- the gate

struct GateConfig {
  std::string gate_id;
  int burst_frames = 8;             // frames judged together (sequence liveness needs >= 3)
  double burst_interval_ms = 125;   // spacing of burst frames in camera time
  vision::PresenceConfig presence;
  int max_passages = 0;  // stop after this many decisions (0 = run until stopped)
  // Benchmarks: after a decision, the same person presents again at once instead of having
  // to leave first (each decision is a new event: the fare rules see repeated taps).
  bool rearm = false;
  OfflinePolicy offline;  // used when the gate has a replica (Gate's `replica`)
};

struct GateCounters {
  int64_t frames = 0, presentations = 0, decisions = 0, opened = 0, refused = 0, step_up = 0,
          errors = 0, abandoned = 0, camera_failures = 0, turnstile_errors = 0, offline = 0,
          offline_opened = 0;
};

class Gate {
 public:
  // `profile` null: a camera never calibrated, judged at the model's conservative offset
  // (vision::CnnLogitOffsetFor). `sequence` null: single-frame liveness only. Everything
  // passed in must outlive the gate.
  // `replica` null: no offline operation (an unreachable server keeps the turnstile closed).
  Gate(GateConfig config, const vision::FacePipeline& pipeline,
       const vision::SequenceModel* sequence, const vision::CameraProfile* profile,
       ServerLink& link, std::vector<Turnstile*> outputs, GateReplica* replica = nullptr);
  ~Gate();

  // Runs until the end of a file, max_passages decisions, or RequestStop (the passage in flight
  // finishes first). Errors: only what cannot go on (inference_failed); a failing camera is
  // reopened, an unreachable server is a decision with reason server_unreachable.
  Status Run(FrameSource& source);
  void RequestStop();  // thread-safe; async-signal-safe (an atomic store)
  bool stop_requested() const { return stop_.load(); }

  // For the status endpoint and the gate screen (thread-safe): state, counters, last
  // decision, whether the camera is calibrated, frame-to-decision percentiles.
  nlohmann::json StatusJson() const;
  GateCounters counters() const;
  // The decisions of this run, in order: the last kKeptDecisions (what the status's
  // frame-to-decision percentiles are computed over).
  std::vector<GateDecision> decisions() const;
  static constexpr size_t kKeptDecisions = 4096;
  // Steady-clock ms of the loop's last progress (a frame read or a decision): the watchdog's.
  int64_t last_progress_ms() const { return progress_ms_.load(); }

 private:
  GateDecision Decide(const std::string& event_id, const flows::Probe& probe, double t_ms,
                      int64_t read_ns);
  void Publish(const GateDecision& d);
  void SetState(const std::string& s);

  GateConfig config_;
  const vision::FacePipeline& pipeline_;
  const vision::SequenceModel* sequence_;
  const vision::CameraProfile* profile_;
  float cnn_logit_offset_ = 0;
  ServerLink& link_;
  std::vector<Turnstile*> outputs_;
  GateReplica* replica_ = nullptr;
  std::string boot_id_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> progress_ms_{0};
  mutable std::mutex mu_;  // guards what follows
  std::string state_ = "starting", camera_ = "opening", server_ = "unknown";
  GateCounters counters_;
  std::deque<GateDecision> decisions_;  // the last kKeptDecisions
};

// Serves GET /status (Gate::StatusJson) and GET /healthz (200 while frames arrive, 503
// when the camera has given none for `stale_ms`) on host:port from a thread of its own, and a
// watchdog that ends the process (exit code 75) when the gate makes no progress for
// `watchdog_ms` (0 = no watchdog). Returns the bound port. The server stops with the object.
class GateStatusServer {
 public:
  static StatusOr<std::unique_ptr<GateStatusServer>> Start(const Gate& gate, const std::string& host,
                                                           int port, int stale_ms, int watchdog_ms);
  ~GateStatusServer();
  int port() const;
  struct Impl;

 private:
  explicit GateStatusServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Steady-clock milliseconds (the clock of last_progress_ms).
int64_t SteadyNowMs();

}  // namespace facepay::node
