#include "facepay/payments/fare_config.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "facepay/payments/money.h"

namespace facepay::payments {
namespace {

using nlohmann::json;
constexpr size_t kMaxConfigBytes = 1 << 20;
constexpr size_t kMaxStations = 10000;

Status Bad(const std::string& what) { return InvalidArgument("invalid_fare_config", what); }

// Reads an optional non-negative integer field bounded by `max`.
Status Int(const json& j, const char* key, int64_t max, int64_t& out) {
  if (!j.contains(key)) return Status::Ok();
  const json& v = j.at(key);
  if (!v.is_number_integer()) return Bad(std::string(key) + " must be an integer");
  int64_t x = v.get<int64_t>();
  if (x < 0 || x > max) return Bad(std::string(key) + " must be in 0.." + std::to_string(max));
  out = x;
  return Status::Ok();
}

}  // namespace

StatusOr<FareConfig> ParseFareConfig(const std::string& text) {
  if (text.size() > kMaxConfigBytes) return Bad("config larger than 1 MiB");
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Bad("config is not a JSON object");
  try {
    FareConfig c;
    c.operator_id = j.value("operator", "");
    FACEPAY_RETURN_IF_ERROR(ValidateId(c.operator_id, "operator"));
    c.revenue_account = j.value("revenue_account", c.operator_id + ":revenue");
    FACEPAY_RETURN_IF_ERROR(ValidateId(c.revenue_account, "revenue_account"));
    c.currency = j.value("currency", "");
    FACEPAY_RETURN_IF_ERROR(ValidateCurrency(c.currency));
    FACEPAY_RETURN_IF_ERROR(Int(j, "service_day_start_s", 86399, c.service_day_start_s));
    FACEPAY_RETURN_IF_ERROR(Int(j, "anti_passback_s", 86400, c.anti_passback_s));
    const bool has_flat = j.contains("flat"), has_dist = j.contains("distance");
    if (has_flat == has_dist) return Bad("exactly one of 'flat' or 'distance' is required");
    if (has_flat) {
      FACEPAY_RETURN_IF_ERROR(Int(j["flat"], "fare_minor", kMaxAmountMinor, c.flat_fare_minor));
    } else {
      const json& d = j["distance"];
      c.distance_based = true;
      FACEPAY_RETURN_IF_ERROR(Int(d, "base_minor", kMaxAmountMinor, c.base_fare_minor));
      FACEPAY_RETURN_IF_ERROR(Int(d, "per_zone_minor", kMaxAmountMinor, c.per_zone_minor));
      FACEPAY_RETURN_IF_ERROR(Int(d, "max_minor", kMaxAmountMinor, c.max_fare_minor));
      if (c.max_fare_minor < c.base_fare_minor) return Bad("distance.max_minor < base_minor");
      if (!d.contains("stations") || !d["stations"].is_object() || d["stations"].empty() ||
          d["stations"].size() > kMaxStations) {
        return Bad("distance.stations must map 1..10000 station ids to zones");
      }
      for (const auto& [station, zone] : d["stations"].items()) {
        FACEPAY_RETURN_IF_ERROR(ValidateId(station, "station id"));
        if (!zone.is_number_integer() || zone.get<int64_t>() < 0 || zone.get<int64_t>() > 1000) {
          return Bad("zone of station " + station + " must be an integer in 0..1000");
        }
        c.station_zones[station] = zone.get<int>();
      }
    }
    if (j.contains("transfer")) {
      const json& t = j["transfer"];
      FACEPAY_RETURN_IF_ERROR(Int(t, "window_s", 86400, c.transfer_window_s));
      FACEPAY_RETURN_IF_ERROR(Int(t, "fare_minor", kMaxAmountMinor, c.transfer_fare_minor));
      int64_t mt = 1;
      FACEPAY_RETURN_IF_ERROR(Int(t, "max_transfers", 100, mt));
      c.max_transfers = static_cast<int>(mt);
    }
    if (j.contains("caps")) {
      FACEPAY_RETURN_IF_ERROR(Int(j["caps"], "daily_minor", kMaxAmountMinor, c.daily_cap_minor));
      FACEPAY_RETURN_IF_ERROR(Int(j["caps"], "weekly_minor", kMaxAmountMinor, c.weekly_cap_minor));
    }
    if (j.contains("concessions")) {
      if (!j["concessions"].is_object() || j["concessions"].size() > 100) {
        return Bad("concessions must be an object of at most 100 classes");
      }
      for (const auto& [name, v] : j["concessions"].items()) {
        FACEPAY_RETURN_IF_ERROR(ValidateId(name, "concession"));
        int64_t pct = 0;
        FACEPAY_RETURN_IF_ERROR(Int(v, "percent_off", 100, pct));
        c.concession_percent_off[name] = static_cast<int>(pct);
      }
    }
    return c;
  } catch (const json::exception& e) {
    return Bad(e.what());
  }
}

StatusOr<FareConfig> LoadFareConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("fare_config_not_found", "cannot read fare config " + path);
  // Bounded read: an unbounded one never returned on /dev/zero (found by tests/fuzz/terminals).
  constexpr size_t kMaxFareConfigBytes = 1u << 20;
  std::string text(kMaxFareConfigBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxFareConfigBytes) return Bad(path + " is larger than 1 MiB");
  return ParseFareConfig(text);
}

std::string FareConfigToJson(const FareConfig& c) {
  json j{{"operator", c.operator_id},
         {"revenue_account", c.revenue_account},
         {"currency", c.currency},
         {"service_day_start_s", c.service_day_start_s},
         {"anti_passback_s", c.anti_passback_s},
         {"transfer",
          {{"window_s", c.transfer_window_s},
           {"fare_minor", c.transfer_fare_minor},
           {"max_transfers", c.max_transfers}}},
         {"caps", {{"daily_minor", c.daily_cap_minor}, {"weekly_minor", c.weekly_cap_minor}}}};
  if (c.distance_based) {
    j["distance"] = {{"base_minor", c.base_fare_minor},
                     {"per_zone_minor", c.per_zone_minor},
                     {"max_minor", c.max_fare_minor},
                     {"stations", c.station_zones}};
  } else {
    j["flat"] = {{"fare_minor", c.flat_fare_minor}};
  }
  json con = json::object();
  for (const auto& [k, v] : c.concession_percent_off) con[k] = {{"percent_off", v}};
  j["concessions"] = con;
  return j.dump(2);
}

}  // namespace facepay::payments
