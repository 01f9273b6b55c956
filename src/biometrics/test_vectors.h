// Random unit vectors for index and gallery tests (deterministic per seed).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
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

// Vectors with their labels, both as GalleryIndex::AddBatch takes them (labels, data) and one
// by one (vecs).
struct LabelledBatch {
  std::vector<int64_t> labels;
  std::vector<float> data;
  std::vector<std::vector<float>> vecs;

  void Push(int64_t label, std::vector<float> v) {
    labels.push_back(label);
    data.insert(data.end(), v.begin(), v.end());
    vecs.push_back(std::move(v));
  }
};

}  // namespace facepay::biometrics::testing
