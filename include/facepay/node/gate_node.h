// GateNode: one edge gate put together in one place (the gate's composition root, as
// node::Node is the server's): the model pack and the camera's calibration, the camera, the
// server link, the turnstile outputs, the sealed replica and its sync thread (offline
// operation, with a state folder), and the status endpoint with its watchdog. `facepay gate`
// and the edge tests open it the same way.
#pragma once

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "facepay/common/status_or.h"
#include "facepay/node/gate.h"
#include "facepay/node/gate_offline.h"
#include "facepay/payments/clock.h"

namespace facepay::node {

struct GateNodeConfig {
  GateConfig gate;  // gate_id, burst, presence, offline policy
  LinkConfig link;
  std::string camera;  // OpenVideoSource spec
  double from_ms = 0;
  bool realtime = false, loop = false;
  std::string camera_profile;  // "" = never calibrated: conservative, with a warning on stderr
  std::string models;          // "" = ModelsDir()
  std::vector<std::string> outputs = {"json"};  // MakeTurnstile specs
  std::ostream* json_out = &std::cout;          // where the "json" output writes
  std::string state_dir;  // "" = no offline operation
  int sync_ms = 250;      // replica follow and queue replay period
  std::string status_host;  // "" = no status endpoint
  int status_port = 0;      // 0 = any free port
  int watchdog_ms = 20'000;
  // Optional, for tests that share one loaded model pack: used instead of loading `models`.
  const vision::FacePipeline* pipeline = nullptr;
  const vision::SequenceModel* sequence = nullptr;
  payments::Clock* clock = nullptr;  // the replica's wall clock; null = the system clock
};

class GateNode {
 public:
  // Errors: model, camera-profile, output, state-folder and camera errors. With a state
  // folder, one sync round runs before Open returns (the replica is current when the camera
  // starts; an unreachable server is not an error).
  static StatusOr<std::unique_ptr<GateNode>> Open(GateNodeConfig config);
  ~GateNode();  // stops the sync thread, then one last sync round (a final replay)

  Status Run();        // Gate::Run on the camera
  void RequestStop();  // thread-safe (SIGTERM): the passage in flight finishes
  Gate& gate();
  GateReplica* replica();  // null without a state folder
  int status_port() const;  // 0 without a status endpoint
  std::string Summary() const;  // one line for the log
  struct Parts;

 private:
  explicit GateNode(std::unique_ptr<Parts> p);
  std::unique_ptr<Parts> p_;
};

// `facepay gate --replay-only`: settles a state folder's queue with the server, without a
// camera or models. Returns the queue afterwards and whether the server answered.
struct ReplayReport {
  bool reachable = false;
  int replayed = 0;
  QueueCounts queue;
};
StatusOr<ReplayReport> ReplayQueue(const std::string& state_dir, const std::string& gate_id,
                                   const LinkConfig& link);

}  // namespace facepay::node
