// Transit fare rules of one operator, loaded from a JSON file (format in docs/payments.md).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "facepay/common/status_or.h"

namespace facepay::payments {

struct FareConfig {
  std::string operator_id;      // "metro"
  std::string revenue_account;  // where fares are credited
  std::string currency;
  int64_t service_day_start_s = 0;  // service day begins this many seconds after UTC midnight
  bool distance_based = false;
  // Flat mode: one fare per entry.
  int64_t flat_fare_minor = 0;
  // Distance mode: charged at exit: base + per_zone * |zone(exit) - zone(entry)|, at most max.
  int64_t base_fare_minor = 0;
  int64_t per_zone_minor = 0;
  int64_t max_fare_minor = 0;
  std::map<std::string, int> station_zones;
  // Transfers (flat mode): an entry within window_s of the last paid entry costs
  // transfer_fare_minor (0 = free), at most max_transfers times per paid journey.
  int64_t transfer_window_s = 0;
  int64_t transfer_fare_minor = 0;
  int max_transfers = 0;
  // Caps (0 = none): never charge more than this per service day / Monday-based week.
  int64_t daily_cap_minor = 0;
  int64_t weekly_cap_minor = 0;
  // Concession class -> percent off (100 = rides free).
  std::map<std::string, int> concession_percent_off;
  // Same rider, same gate group, same direction within this many seconds: not charged, refused.
  int64_t anti_passback_s = 0;
};

// Parses and validates a config (bounded sizes and amounts).
// InvalidArgument("invalid_fare_config").
StatusOr<FareConfig> ParseFareConfig(const std::string& json_text);
StatusOr<FareConfig> LoadFareConfig(const std::string& path);
// Canonical JSON form (what `facepay fares show` prints).
std::string FareConfigToJson(const FareConfig& c);

}  // namespace facepay::payments
