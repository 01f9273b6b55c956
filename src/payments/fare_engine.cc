#include "facepay/payments/fare_engine.h"

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "facepay/payments/money.h"

namespace facepay::payments {

std::string FareStateToJson(const FareState& s) {
  return nlohmann::json{
      {"last_tap_ms", s.last_tap_ms},
      {"last_gate_group", s.last_gate_group},
      {"last_direction", s.last_direction == TapDirection::kEntry ? "entry" : "exit"},
      {"journey_start_ms", s.journey_start_ms},
      {"transfers_used", s.transfers_used},
      {"day", s.day},
      {"day_total_minor", s.day_total_minor},
      {"week", s.week},
      {"week_total_minor", s.week_total_minor},
      {"open_entry_station", s.open_entry_station},
      {"open_entry_ms", s.open_entry_ms}}
      .dump();
}

StatusOr<FareState> FareStateFromJson(const std::string& text) {
  FareState s;
  if (text.empty()) return s;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return DataLoss("bad_fare_state", "stored fare state is not JSON");
  try {
    s.last_tap_ms = j.at("last_tap_ms").get<int64_t>();
    s.last_gate_group = j.at("last_gate_group").get<std::string>();
    s.last_direction = j.at("last_direction").get<std::string>() == "exit" ? TapDirection::kExit
                                                                           : TapDirection::kEntry;
    s.journey_start_ms = j.at("journey_start_ms").get<int64_t>();
    s.transfers_used = j.at("transfers_used").get<int>();
    s.day = j.at("day").get<int64_t>();
    s.day_total_minor = j.at("day_total_minor").get<int64_t>();
    s.week = j.at("week").get<int64_t>();
    s.week_total_minor = j.at("week_total_minor").get<int64_t>();
    s.open_entry_station = j.at("open_entry_station").get<std::string>();
    s.open_entry_ms = j.at("open_entry_ms").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    return DataLoss("bad_fare_state", e.what());
  }
  return s;
}

namespace {

// Monday-based week number of a day number (day 0 = Thursday 1970-01-01).
int64_t WeekOf(int64_t day) {
  int64_t d = day + 3;
  return d >= 0 ? d / 7 : (d - 6) / 7;
}

}  // namespace

StatusOr<FareDecision> EvaluateFare(const FareConfig& c, const std::string& concession,
                                    const FareState& state, const Tap& tap) {
  FareDecision d;
  d.new_state = state;
  FareState& s = d.new_state;

  // Anti-passback: the same rider seen again at the same gate group, same way, too soon.
  if (c.anti_passback_s > 0 && state.last_tap_ms > 0 && tap.gate_group == state.last_gate_group &&
      tap.direction == state.last_direction && tap.at_ms >= state.last_tap_ms &&
      tap.at_ms - state.last_tap_ms < c.anti_passback_s * 1000) {
    d.kind = FareKind::kPassback;
    d.reason = "anti_passback";
    d.new_state = state;  // unchanged: the window is not extended by repeated attempts
    return d;
  }

  const int64_t day = DayNumber(tap.at_ms, -c.service_day_start_s);
  if (s.day != day) {
    s.day = day;
    s.day_total_minor = 0;
  }
  const int64_t week = WeekOf(day);
  if (s.week != week) {
    s.week = week;
    s.week_total_minor = 0;
  }

  int64_t base = 0;
  if (!c.distance_based) {
    if (tap.direction == TapDirection::kExit) {
      d.reason = "exit";
    } else if (c.transfer_window_s > 0 && s.journey_start_ms > 0 &&
               tap.at_ms - s.journey_start_ms <= c.transfer_window_s * 1000 &&
               s.transfers_used < c.max_transfers) {
      base = c.transfer_fare_minor;
      s.transfers_used++;
      d.reason = "transfer";
    } else {
      base = c.flat_fare_minor;
      s.journey_start_ms = tap.at_ms;
      s.transfers_used = 0;
      d.reason = "flat_fare";
    }
  } else {
    auto zone_of = [&](const std::string& st) -> StatusOr<int> {
      auto it = c.station_zones.find(st);
      if (it == c.station_zones.end()) {
        return InvalidArgument("unknown_station", "station '" + st + "' is not in the fare table");
      }
      return it->second;
    };
    FACEPAY_ASSIGN_OR_RETURN(int zone, zone_of(tap.station));
    if (tap.direction == TapDirection::kEntry) {
      // An earlier entry never closed by an exit is charged the maximum fare now.
      base = s.open_entry_station.empty() ? 0 : c.max_fare_minor;
      d.reason = s.open_entry_station.empty() ? "entry_recorded" : "incomplete_journey";
      s.open_entry_station = tap.station;
      s.open_entry_ms = tap.at_ms;
    } else if (s.open_entry_station.empty()) {
      base = c.max_fare_minor;
      d.reason = "exit_without_entry";
    } else {
      FACEPAY_ASSIGN_OR_RETURN(int from, zone_of(s.open_entry_station));
      base =
          std::min(c.max_fare_minor, c.base_fare_minor + c.per_zone_minor * std::abs(zone - from));
      d.reason = "distance_fare";
      s.open_entry_station.clear();
      s.open_entry_ms = 0;
    }
  }
  d.full_fare_minor = base;

  int64_t amount = base;
  auto con = c.concession_percent_off.find(concession);
  if (!concession.empty() && con != c.concession_percent_off.end() && amount > 0) {
    amount = amount * (100 - con->second) / 100;
    if (amount == 0) d.reason = "concession";
  }
  if (c.daily_cap_minor > 0 && amount > c.daily_cap_minor - s.day_total_minor) {
    amount = std::max<int64_t>(0, c.daily_cap_minor - s.day_total_minor);
    d.reason = "daily_cap";
  }
  if (c.weekly_cap_minor > 0 && amount > c.weekly_cap_minor - s.week_total_minor) {
    amount = std::max<int64_t>(0, c.weekly_cap_minor - s.week_total_minor);
    d.reason = "weekly_cap";
  }
  s.day_total_minor += amount;
  s.week_total_minor += amount;
  s.last_tap_ms = tap.at_ms;
  s.last_gate_group = tap.gate_group;
  s.last_direction = tap.direction;
  d.amount_minor = amount;
  d.kind = amount > 0 ? FareKind::kCharge : FareKind::kNoCharge;
  return d;
}

}  // namespace facepay::payments
