// Fuzz target: the terminals config (include/facepay/service/terminals.h). The fuzz bytes are
// the terminals JSON; the folder it is resolved against holds a valid fare config
// (fares.json, EUR) and camera profile (cam.json) so that inputs get past the file loads
// and into the terminal lists.
#include <cstddef>
#include <cstdint>
#include <regex>
#include <string>

#include "facepay/service/terminals.h"
#include "fuzz_util.h"

namespace {

const std::string& BaseDir() {
  static const std::string dir = [] {
    const std::string d = facepay::fuzz::ScratchDir("terminals");
    facepay::fuzz::WriteFile(d + "/fares.json", R"({"operator": "metro", "revenue_account": "metro:revenue",
 "currency": "EUR", "service_day_start_s": 14400, "flat": {"fare_minor": 250},
 "transfer": {"window_s": 5400, "fare_minor": 0, "max_transfers": 2},
 "caps": {"daily_minor": 700, "weekly_minor": 2800}, "anti_passback_s": 120})");
    facepay::fuzz::WriteFile(d + "/cam.json",
                             R"({"camera": "webcam", "cnn_logit_offset": 5.1, "frames_used": 28})");
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto t = facepay::service::ParseTerminals(std::string(facepay::fuzz::AsText(data, size)),
                                            BaseDir());
  if (!t.ok()) {
    if (t.status().reason().empty()) __builtin_trap();
    return 0;
  }
  if (t->currency != t->fares.currency) __builtin_trap();
  static const std::regex kId("[A-Za-z0-9_.:-]{1,64}");
  for (const auto& [id, g] : t->gates) {
    if (id != g.id || !std::regex_match(id, kId)) __builtin_trap();
  }
  for (const auto& [id, c] : t->tills) {
    if (id != c.id || !std::regex_match(id, kId)) __builtin_trap();
  }
  return 0;
}
