// facepay gate: the edge process beside one turnstile (include/facepay/node/gate.h).
#include <signal.h>
#include <sodium.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli_common.h"
#include "commands.h"
#include "facepay/node/gate_node.h"
#include "facepay/vision/sequence_liveness.h"

namespace facepay::cli {
namespace {

using nlohmann::json;

struct GateArgs {
  std::string config_file;
  std::string gate, camera, server = "http://127.0.0.1:8080", key_file, ca_cert, camera_profile,
      models, status_listen;
  std::vector<std::string> outputs;
  std::string state_dir;  // offline operation: replica + queue here
  int sync_ms = 250;
  double from_ms = 0;
  bool realtime = false, rearm = false, loop = false, replay_only = false;
  node::GateConfig config;
  node::LinkConfig link;
  int watchdog_ms = 20'000;
};

StatusOr<std::string> ReadKey(const std::string& key_file) {
  if (key_file.empty()) {
    const char* env = std::getenv("FACEPAY_GATE_KEY");  // NOLINT(concurrency-mt-unsafe)
    if (env != nullptr && *env != '\0') return std::string(env);
    return InvalidArgument("missing_key",
                           "give --key-file FILE (the gate's API key; never on the command line) "
                           "or set FACEPAY_GATE_KEY");
  }
  std::ifstream in(key_file);
  if (!in) return NotFound("key_file_not_found", "cannot read " + key_file);
  std::string key;
  std::getline(in, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.empty() || key.size() > 512) {
    return InvalidArgument("invalid_key_file", key_file + " holds no key on its first line");
  }
  return key;
}

StatusOr<std::pair<std::string, int>> HostPort(const std::string& s) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return InvalidArgument("invalid_listen", "--status-listen is HOST:PORT, not '" + s + "'");
  }
  const std::string port = s.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgument("invalid_listen", "--status-listen has a bad port: '" + s + "'");
  }
  const int p = std::stoi(port);
  if (p > 65535) return InvalidArgument("invalid_listen", "--status-listen port past 65535");
  return std::make_pair(s.substr(0, colon), p);
}

// The gate's JSON config (`--config`, what the systemd unit passes): the same settings as the
// options, by the options' names without dashes (`key_file`, `camera_profile`, `outputs` a
// list, ...). An option given on the command line wins. Unknown keys and wrong types are
// refused: a typo in a turnstile's config must not silently fall back to a default.
Status ApplyConfigFile(GateArgs& a, const CLI::App& cmd, bool* budget_set) {
  std::ifstream in(a.config_file, std::ios::binary);
  if (!in) return NotFound("config_not_found", "cannot read " + a.config_file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > 64 * 1024) return InvalidArgument("invalid_config", a.config_file + " is over 64 KiB");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument("invalid_config", a.config_file + " is not a JSON object");
  }
  auto given = [&](const char* opt) { return cmd.count(opt) > 0; };
  for (const auto& [k, v] : j.items()) {
    auto str = [&](std::string& dst, const char* opt) -> Status {
      if (!v.is_string()) return InvalidArgument("invalid_config", "'" + k + "' must be a string");
      if (!given(opt)) dst = v.get<std::string>();
      return Status::Ok();
    };
    auto num = [&](auto& dst, const char* opt, double lo, double hi) -> Status {
      if (!v.is_number() || v.get<double>() < lo || v.get<double>() > hi) {
        return InvalidArgument("invalid_config", "'" + k + "' must be a number in [" +
                                                     std::to_string(lo) + ", " + std::to_string(hi) + "]");
      }
      if (!given(opt)) dst = v.get<std::remove_reference_t<decltype(dst)>>();
      return Status::Ok();
    };
    Status s;
    if (k == "gate") s = str(a.gate, "--gate");
    else if (k == "camera") s = str(a.camera, "--camera");
    else if (k == "server") s = str(a.server, "--server");
    else if (k == "key_file") s = str(a.key_file, "--key-file");
    else if (k == "ca_cert") s = str(a.ca_cert, "--ca-cert");
    else if (k == "camera_profile") s = str(a.camera_profile, "--camera-profile");
    else if (k == "models") s = str(a.models, "--models");
    else if (k == "status_listen") s = str(a.status_listen, "--status-listen");
    else if (k == "burst_frames") s = num(a.config.burst_frames, "--burst-frames", 3, 16);
    else if (k == "burst_interval_ms") s = num(a.config.burst_interval_ms, "--burst-interval-ms", 10, 1000);
    else if (k == "min_face_height") s = num(a.config.presence.min_face_height, "--min-face-height", 0.02, 1);
    else if (k == "stable_frames") s = num(a.config.presence.stable_frames, "--stable-frames", 1, 100);
    else if (k == "absent_frames") s = num(a.config.presence.absent_frames, "--absent-frames", 1, 1000);
    else if (k == "timeout_ms") s = num(a.link.timeout_ms, "--timeout-ms", 100, 60'000);
    else if (k == "retry_budget_ms") {
      s = num(a.link.retry_budget_ms, "--retry-budget-ms", 0, 600'000);
      *budget_set = true;
    }
    else if (k == "watchdog_ms") s = num(a.watchdog_ms, "--watchdog-ms", 0, 3'600'000);
    else if (k == "state_dir") s = str(a.state_dir, "--state-dir");
    else if (k == "sync_ms") s = num(a.sync_ms, "--sync-ms", 50, 60'000);
    else if (k == "offline_accept_threshold") s = num(a.config.offline.accept_threshold, "--offline-accept-threshold", 0.3, 1);
    else if (k == "offline_max_ms") s = num(a.config.offline.max_offline_ms, "--offline-max-ms", 0, 7.0 * 24 * 3600 * 1000);
    else if (k == "offline_person_passages") s = num(a.config.offline.per_person_passages, "--offline-person-passages", 0, 100);
    else if (k == "offline_gate_limit_minor") s = num(a.config.offline.per_gate_limit_minor, "--offline-gate-limit-minor", 0, 1e12);
    else if (k == "offline_anti_passback_ms") s = num(a.config.offline.anti_passback_ms, "--offline-anti-passback-ms", 0, 86'400'000);
    else if (k == "offline_fare_minor") s = num(a.config.offline.nominal_fare_minor, "--offline-fare-minor", 1, 1e9);
    else if (k == "outputs") {
      if (!v.is_array() || v.size() > 8) {
        return InvalidArgument("invalid_config", "'outputs' must be a list of at most 8 outputs");
      }
      if (!given("--output")) {
        a.outputs.clear();
        for (const auto& o : v) {
          if (!o.is_string()) return InvalidArgument("invalid_config", "'outputs' holds a non-string");
          a.outputs.push_back(o.get<std::string>());
        }
      }
    } else {
      return InvalidArgument("invalid_config", "unknown setting '" + k + "' in " + a.config_file);
    }
    FACEPAY_RETURN_IF_ERROR(s);
  }
  if (a.gate.empty() || (a.camera.empty() && !a.replay_only)) {
    return InvalidArgument("invalid_config", "a gate needs 'gate' and 'camera' (config or options)");
  }
  return Status::Ok();
}

int RunGate(GateArgs& a, const CLI::App& cmd) {
  if (sodium_init() < 0) return Fail(Internal("sodium_init_failed", "libsodium"));
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGUSR1);  // sent by this process when Run ends by itself
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  bool budget_set = cmd.count("--retry-budget-ms") > 0;
  if (!a.config_file.empty()) {
    if (Status s = ApplyConfigFile(a, cmd, &budget_set); !s.ok()) return Fail(s);
  } else if (a.gate.empty() || (a.camera.empty() && !a.replay_only)) {
    return Fail(InvalidArgument("usage", "give --gate and --camera, or --config FILE"));
  }
  // With a replica, a person at the turnstile waits for the local decision, not 8 s of retries.
  if (!a.state_dir.empty() && !budget_set) a.link.retry_budget_ms = 1500;
  auto key = ReadKey(a.key_file);
  if (!key.ok()) return Fail(key.status());
  a.link.server = a.server;
  a.link.key = *key;
  a.link.ca_cert = a.ca_cert;
  if (a.replay_only) {
    // Settle what the queue holds (e.g. before a gate is taken down) and say what is left.
    if (a.state_dir.empty()) return Fail(InvalidArgument("usage", "--replay-only needs --state-dir"));
    auto r = node::ReplayQueue(a.state_dir, a.gate, a.link);
    if (!r.ok()) return Fail(r.status());
    PrintJson({{"reachable", r->reachable},
               {"replayed", r->replayed},
               {"queue", {{"pending", r->queue.pending}, {"settled", r->queue.settled},
                          {"already_settled", r->queue.already_settled},
                          {"refused", r->queue.refused}}}},
              false);
    return r->queue.pending == 0 ? 0 : 1;
  }
  node::GateNodeConfig c;
  c.gate = a.config;
  c.gate.gate_id = a.gate;
  c.gate.rearm = a.rearm;
  c.link = a.link;
  c.camera = a.camera;
  c.from_ms = a.from_ms;
  c.realtime = a.realtime;
  c.loop = a.loop;
  c.camera_profile = a.camera_profile;
  c.models = a.models;
  if (!a.outputs.empty()) c.outputs = a.outputs;
  c.state_dir = a.state_dir;
  c.sync_ms = a.sync_ms;
  c.watchdog_ms = a.watchdog_ms;
  if (!a.status_listen.empty()) {
    auto hp = HostPort(a.status_listen);
    if (!hp.ok()) return Fail(hp.status());
    c.status_host = hp->first;
    c.status_port = hp->second;
  }
  ConfigureThreads(1);
  auto gate = node::GateNode::Open(std::move(c));
  if (!gate.ok()) return Fail(gate.status());
  // One thread waits for SIGTERM / SIGINT: the passage in flight finishes, then Run returns.
  std::thread signals([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (sig == SIGUSR1) return;
    std::cerr << "facepay gate: signal " << sig << ": finishing the passage in flight\n";
    (*gate)->RequestStop();
  });
  std::cerr << "facepay " << (*gate)->Summary() << "\n";
  const auto t0 = std::chrono::steady_clock::now();
  Status run = (*gate)->Run();
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Wake the signal thread if no signal came (a second SIGUSR1 to a finished thread is harmless:
  // the signal stays blocked and pending).
  pthread_kill(signals.native_handle(), SIGUSR1);
  signals.join();
  json summary = (*gate)->gate().StatusJson();
  gate->reset();  // stops the sync thread after a last replay
  summary["wall_s"] = wall_s;
  summary["decisions_per_s"] =
      wall_s > 0 ? static_cast<double>(summary["counters"]["decisions"].get<int64_t>()) / wall_s : 0;
  std::cerr << json{{"summary", summary}}.dump() << "\n";
  if (!run.ok()) return Fail(run);
  return 0;
}

}  // namespace

void AddGateCommands(CLI::App& app, int& exit_code) {
  static GateArgs a;
  auto* g = app.add_subcommand(
      "gate", "Edge gate: camera -> local vision + liveness -> template to the server -> turnstile");
  g->add_option("--config", a.config_file,
                "JSON settings file (the options' names with underscores; options win)");
  g->add_option("--gate", a.gate, "This gate's id (an edge gate in the server's terminals config)");
  g->add_option("--camera", a.camera,
                "Camera: a device number (0), a device (/dev/video0), a stream URL "
                "(rtsp://, http://) or a video file");
  g->add_option("--from-ms", a.from_ms, "A video file: start this far in")->check(CLI::NonNegativeNumber);
  g->add_flag("--replay-only", a.replay_only,
              "Settle the offline queue of --state-dir with the server, print what is left, exit");
  g->add_flag("--loop", a.loop, "A video file: start again at its end (soak tests)");
  g->add_flag("--realtime", a.realtime, "A video file: read at its frame rate (default: as fast as possible)");
  g->add_option("--server", a.server, "The facepay server (default http://127.0.0.1:8080)");
  g->add_option("--key-file", a.key_file, "File holding this gate's API key (else $FACEPAY_GATE_KEY)");
  g->add_option("--ca-cert", a.ca_cert, "https: the server's certificate or CA");
  g->add_option("--camera-profile", a.camera_profile,
                "Liveness calibration of this camera (facepay liveness calibrate --out)");
  g->add_option("--models", a.models, "Model pack folder");
  g->add_option("--output", a.outputs,
                "Turnstile output: json (stdout, default), webhook:URL, relay:PATH; repeatable");
  g->add_option("--status-listen", a.status_listen,
                "Serve GET /status and /healthz on HOST:PORT (e.g. 127.0.0.1:8091)");
  g->add_option("--burst-frames", a.config.burst_frames, "Frames judged per passage (default 8)")
      ->check(CLI::Range(3, 16));
  g->add_option("--burst-interval-ms", a.config.burst_interval_ms,
                "Camera time between burst frames (default 125)")
      ->check(CLI::Range(10.0, 1000.0));
  g->add_option("--min-face-height", a.config.presence.min_face_height,
                "Face box height / frame height to count as presenting (default 0.18)")
      ->check(CLI::Range(0.02, 1.0));
  g->add_option("--stable-frames", a.config.presence.stable_frames,
                "Frames a face must be steady before the burst (default 3)")
      ->check(CLI::Range(1, 100));
  g->add_option("--absent-frames", a.config.presence.absent_frames,
                "Frames without a face before the next person (default 5)")
      ->check(CLI::Range(1, 1000));
  g->add_option("--max-passages", a.config.max_passages, "Stop after this many decisions")
      ->check(CLI::NonNegativeNumber);
  g->add_flag("--rearm", a.rearm,
              "Benchmark: decide again at once for the same person (no need to leave)");
  g->add_option("--timeout-ms", a.link.timeout_ms, "Per request attempt (default 3000)")
      ->check(CLI::Range(100, 60'000));
  g->add_option("--retry-budget-ms", a.link.retry_budget_ms,
                "Retry a passage this long with the same event id (default 8000)")
      ->check(CLI::Range(0, 600'000));
  g->add_option("--state-dir", a.state_dir,
                "Offline operation: the sealed gallery replica and the signed passage queue live "
                "here (0700); without it an unreachable server keeps the turnstile closed");
  g->add_option("--sync-ms", a.sync_ms, "Replica follow and queue replay period (default 250)")
      ->check(CLI::Range(50, 60'000));
  g->add_option("--offline-accept-threshold", a.config.offline.accept_threshold,
                "Offline: cosine a match needs (default 0.55)")
      ->check(CLI::Range(0.3, 1.0));
  g->add_option("--offline-max-ms", a.config.offline.max_offline_ms,
                "Offline: refuse everyone once the server has not answered this long (default 4 h)")
      ->check(CLI::Range(int64_t{0}, int64_t{7} * 24 * 3600 * 1000));
  g->add_option("--offline-person-passages", a.config.offline.per_person_passages,
                "Offline: unsettled passages one person may have (default 2)")
      ->check(CLI::Range(0, 100));
  g->add_option("--offline-gate-limit-minor", a.config.offline.per_gate_limit_minor,
                "Offline: value of unsettled passages this gate may open (default 50000)")
      ->check(CLI::NonNegativeNumber);
  g->add_option("--offline-anti-passback-ms", a.config.offline.anti_passback_ms,
                "Offline: the same person again within this is refused (default 120000)")
      ->check(CLI::Range(int64_t{0}, int64_t{86'400'000}));
  g->add_option("--offline-fare-minor", a.config.offline.nominal_fare_minor,
                "Offline: what one passage counts for against the gate limit (default 250)")
      ->check(CLI::PositiveNumber);
  g->add_option("--watchdog-ms", a.watchdog_ms,
                "With --status-listen: exit (code 75) when no progress for this long (0 = off)")
      ->check(CLI::Range(0, 3'600'000));
  g->callback([&, g] { exit_code = RunGate(a, *g); });
}

}  // namespace facepay::cli
