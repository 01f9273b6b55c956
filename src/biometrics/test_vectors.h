// Random unit vectors for index and gallery tests (deterministic per seed).
#pragma once

#include <cmath>
#include <random>
#include <vector>

namespace facepay::biometrics::testing {

inline std::vector<float> UnitVector(std::mt19937& rng, int dim = 512) {
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(dim));
  double s = 0;
  for (auto& x : v) {
    x = n(rng);
    s += static_cast<double>(x) * x;
  }
  for (auto& x : v) x = static_cast<float>(x / std::sqrt(s));
  return v;
}

// A vector at cosine ~`cos` to `v`.
inline std::vector<float> Near(const std::vector<float>& v, std::mt19937& rng, float cos = 0.8f) {
  auto noise = UnitVector(rng, static_cast<int>(v.size()));
  const float w = std::sqrt(1 - cos * cos);
  std::vector<float> out(v.size());
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    out[i] = cos * v[i] + w * noise[i];
    s += static_cast<double>(out[i]) * out[i];
  }
  for (auto& x : out) x = static_cast<float>(x / std::sqrt(s));
  return out;
}

}  // namespace facepay::biometrics::testing
