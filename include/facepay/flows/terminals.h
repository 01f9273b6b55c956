// The terminals a deployment has (gates, tills, ATMs, border posts) and the accounts they
// settle into: what the flows need to know of them. Read from a JSON file by the service
// (facepay/service/terminals.h). Immutable after loading; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "facepay/payments/fare_config.h"
#include "facepay/payments/fare_engine.h"
#include "facepay/vision/sequence_liveness.h"

namespace facepay::flows {

struct GateConfig {
  std::string id, station, gate_group;
  payments::TapDirection direction = payments::TapDirection::kEntry;
  // The gate camera's calibration ("camera_profile"); none: an uncalibrated camera, judged at
  // the model's conservative offset, and a liveness "unsure" burst answers step_up, never
  // accept (vision::JudgeWindow, docs/liveness.md).
  std::optional<vision::CameraProfile> camera;
  // "shows_prompts": its screen faces the person and can draw an active challenge's movements.
  // A burst whose liveness is unsure then steps up with a challenge too, not only a second
  // factor (step_up_flow.h, StepUpFlow::RunMoves).
  bool shows_prompts = false;
  // An edge gate ("edge": true) runs the vision stages itself and may send a template with its
  // own liveness verdict instead of frames; no other gate may. Its template passages are
  // limited to edge_rate_per_s ("edge_rate_per_s", default 5) whatever its key allows.
  bool edge = false;
  double edge_rate_per_s = 5;
};
// Every terminal with a camera may declare its calibration ("camera_profile"); none: judged
// uncalibrated. The server's own calibration of a camera, when it has one, wins (cameras.h).
struct TillConfig {
  std::string id, merchant_account;
  std::optional<vision::CameraProfile> camera;
  bool shows_prompts = false;  // as GateConfig's: a customer-facing screen
};
struct AtmConfig {
  std::string id, cash_account;
  std::optional<vision::CameraProfile> camera;
};
struct BorderConfig {
  std::string id;
  std::optional<vision::CameraProfile> camera;
};
// An enrolment kiosk ("kiosks": its id is the one a paired kiosk's key is bound to). A kiosk
// the config does not name still works, judged uncalibrated.
struct KioskConfig {
  std::string id;
  std::optional<vision::CameraProfile> camera;
};

struct Terminals {
  std::string currency;
  payments::FareConfig fares;
  std::map<std::string, GateConfig> gates;
  std::map<std::string, TillConfig> tills;
  std::map<std::string, AtmConfig> atms;
  std::map<std::string, BorderConfig> borders;
  std::map<std::string, KioskConfig> kiosks;
};

// "gate:g2", "till:t1", ...: the terminals whose config declares no calibration profile. The
// server may hold a calibration for some of them: CameraBook::Views() says what is judged now.
inline std::vector<std::string> UncalibratedCameras(const Terminals& t) {
  std::vector<std::string> out;
  for (const auto& [id, g] : t.gates) {
    if (!g.camera && !g.edge) out.push_back("gate:" + id);  // an edge gate judges its own camera
  }
  for (const auto& [id, c] : t.tills) if (!c.camera) out.push_back("till:" + id);
  for (const auto& [id, c] : t.atms) if (!c.camera) out.push_back("atm:" + id);
  for (const auto& [id, c] : t.borders) if (!c.camera) out.push_back("border:" + id);
  for (const auto& [id, c] : t.kiosks) if (!c.camera) out.push_back("kiosk:" + id);
  return out;
}

}  // namespace facepay::flows
