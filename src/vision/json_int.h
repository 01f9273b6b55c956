// Integers read from JSON files (manifest, camera profiles). nlohmann's get<int>() of a JSON
// number outside int's range is a float-to-int cast with undefined behaviour (1e300 in a
// camera profile, found by tests/fuzz/camera_profile); JsonInt refuses such numbers with a
// json::type_error instead, which the readers already turn into their *_invalid reason.
#pragma once

#include <cstdint>
#include <limits>

#include <nlohmann/json.hpp>

namespace facepay::vision {

inline int JsonInt(const nlohmann::json& j) {
  constexpr int64_t kMin = std::numeric_limits<int>::min(), kMax = std::numeric_limits<int>::max();
  bool in_range = true;
  if (j.is_number_unsigned()) {
    in_range = j.get<uint64_t>() <= static_cast<uint64_t>(kMax);
  } else if (j.is_number_integer()) {
    in_range = j.get<int64_t>() >= kMin && j.get<int64_t>() <= kMax;
  } else if (j.is_number_float()) {
    const double v = j.get<double>();
    in_range = v >= static_cast<double>(kMin) && v <= static_cast<double>(kMax);  // false for NaN
  }
  if (!in_range) throw nlohmann::json::type_error::create(302, "number out of range for int", &j);
  return j.get<int>();
}

}  // namespace facepay::vision
