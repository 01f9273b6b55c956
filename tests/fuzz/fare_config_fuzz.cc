// libFuzzer target: the fare config parser must reject any bytes with a Status, never crash,
// hang or accept out-of-range values. Built with -DFACEPAY_BUILD_FUZZ=ON (clang).
#include <cstddef>
#include <cstdint>
#include <string>

#include "facepay/payments/fare_config.h"
#include "facepay/payments/money.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace facepay::payments;
  auto c = ParseFareConfig(std::string(reinterpret_cast<const char*>(data), size));
  if (c.ok()) {
    // Whatever was accepted is within the documented bounds and round-trips.
    if (c->flat_fare_minor < 0 || c->flat_fare_minor > kMaxAmountMinor) __builtin_trap();
    if (c->max_fare_minor < c->base_fare_minor) __builtin_trap();
    auto again = ParseFareConfig(FareConfigToJson(*c));
    if (!again.ok()) __builtin_trap();
  }
  return 0;
}
