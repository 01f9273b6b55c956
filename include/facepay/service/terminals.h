// The terminals a deployment has (gates, tills, ATMs, border posts) and the accounts they
// settle into, read from a JSON file (config/terminals/demo.json is the shipped example):
//   {"currency": "EUR", "fares": "../fares/metro.json",
//    "gates":   [{"id": "g1", "station": "central", "gate_group": "central",
//                 "direction": "entry", "camera_profile": "../cameras/dev-webcam.json",
//                 "edge": false, "edge_rate_per_s": 5}],
//    "tills":   [{"id": "t1", "merchant_account": "shop:bakery"}],
//    "atms":    [{"id": "a1", "cash_account": "cash:atm-a1"}],
//    "borders": [{"id": "b1"}],
//    "kiosks":  [{"id": "k1"}]}
// Every terminal may name a "camera_profile" (flows/terminals.h).
// Relative paths are relative to the file. Immutable after loading; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "facepay/common/status_or.h"
#include "facepay/flows/terminals.h"

namespace facepay::service {

using flows::AtmConfig;
using flows::BorderConfig;
using flows::GateConfig;
using flows::KioskConfig;
using flows::Terminals;
using flows::TillConfig;

// InvalidArgument("invalid_terminals_config") naming the bad field; fare config errors.
StatusOr<Terminals> LoadTerminals(const std::string& path);
StatusOr<Terminals> ParseTerminals(const std::string& json_text, const std::string& base_dir);

}  // namespace facepay::service
