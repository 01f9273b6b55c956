// The terminals a deployment has (gates, tills, ATMs, border posts) and the accounts they
// settle into, read from a JSON file (config/terminals/demo.json is the shipped example):
//   {"currency": "EUR", "fares": "../fares/metro.json",
//    "gates":   [{"id": "g1", "station": "central", "gate_group": "central",
//                 "direction": "entry", "camera_profile": "../cameras/dev-webcam.json",
//                 "edge": false, "edge_rate_per_s": 5}],
//    "tills":   [{"id": "t1", "merchant_account": "shop:bakery"}],
//    "atms":    [{"id": "a1", "cash_account": "cash:atm-a1"}],
//    "borders": [{"id": "b1"}]}
// Relative paths are relative to the file. Immutable after loading; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "facepay/common/status_or.h"
#include "facepay/payments/fare_config.h"
#include "facepay/payments/fare_engine.h"

namespace facepay::service {

struct GateConfig {
  std::string id, station, gate_group;
  payments::TapDirection direction = payments::TapDirection::kEntry;
  float cnn_logit_offset = 0;  // from the gate's camera profile (sequence liveness)
  // An edge gate ("edge": true) runs the vision stages itself and may send a template with its
  // own liveness verdict instead of frames; no other gate may. Its template passages are
  // limited to edge_rate_per_s ("edge_rate_per_s", default 5) whatever its key allows.
  bool edge = false;
  double edge_rate_per_s = 5;
};
struct TillConfig {
  std::string id, merchant_account;
};
struct AtmConfig {
  std::string id, cash_account;
};
struct BorderConfig {
  std::string id;
};

struct Terminals {
  std::string currency;
  payments::FareConfig fares;
  std::map<std::string, GateConfig> gates;
  std::map<std::string, TillConfig> tills;
  std::map<std::string, AtmConfig> atms;
  std::map<std::string, BorderConfig> borders;
};

// InvalidArgument("invalid_terminals_config") naming the bad field; fare config errors.
StatusOr<Terminals> LoadTerminals(const std::string& path);
StatusOr<Terminals> ParseTerminals(const std::string& json_text, const std::string& base_dir);

}  // namespace facepay::service
