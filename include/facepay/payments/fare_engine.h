// Fare engine: a pure function from (rules, rider's fare state, tap) to (amount, reason, new
// state). No I/O and no clock: the transit service feeds it the stored state and the tap time,
// and commits the new state together with the charge. Thread-safe (stateless).
#pragma once

#include <cstdint>
#include <string>

#include "facepay/common/status_or.h"
#include "facepay/payments/fare_config.h"

namespace facepay::payments {

enum class TapDirection { kEntry, kExit };

struct Tap {
  std::string gate_id;
  std::string gate_group;  // gates that count as "the same place" for anti-passback
  std::string station;     // distance fares: must be in the config's station list
  TapDirection direction = TapDirection::kEntry;
  int64_t at_ms = 0;
};

// What the engine remembers about one rider on one operator (stored as JSON).
struct FareState {
  int64_t last_tap_ms = 0;  // 0 = never
  std::string last_gate_group;
  TapDirection last_direction = TapDirection::kEntry;
  int64_t journey_start_ms = 0;  // last full-fare entry (transfer window anchor)
  int transfers_used = 0;
  int64_t day = -1;  // service day of day_total
  int64_t day_total_minor = 0;
  int64_t week = -1;
  int64_t week_total_minor = 0;
  std::string open_entry_station;  // distance fares: entered, not yet exited
  int64_t open_entry_ms = 0;
};

std::string FareStateToJson(const FareState& s);
StatusOr<FareState> FareStateFromJson(const std::string& text);  // "" -> fresh state

enum class FareKind {
  kCharge,    // money moves (amount_minor > 0), or would: see reason
  kNoCharge,  // allowed through for free (transfer, cap reached, concession, entry recorded)
  kPassback,  // refused: same rider, same gate group, too soon; not charged
};

struct FareDecision {
  FareKind kind = FareKind::kCharge;
  int64_t amount_minor = 0;     // what to charge now
  int64_t full_fare_minor = 0;  // before concession and caps
  std::string reason;           // "flat_fare", "transfer", "daily_cap", "weekly_cap", "concession",
                                // "anti_passback", "distance_fare", "entry_recorded",
                                // "incomplete_journey", "exit_without_entry", "exit"
  FareState new_state;          // commit only if the charge (if any) is approved
};

// InvalidArgument("unknown_station") for a distance tap at a station not in the config.
StatusOr<FareDecision> EvaluateFare(const FareConfig& config, const std::string& concession,
                                    const FareState& state, const Tap& tap);

}  // namespace facepay::payments
