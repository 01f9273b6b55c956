#include <algorithm>
#include <cmath>

#include "facepay/vision/liveness.h"

namespace facepay::vision {

float Logit(float p) {
  const double q = std::clamp(double{p}, 1e-6, 1 - 1e-6);
  return static_cast<float>(std::log(q / (1 - q)));
}

LivenessFusion::LivenessFusion(float bias, std::map<std::string, float> weights, float threshold)
    : bias_(bias), weights_(std::move(weights)), threshold_(threshold) {}

LivenessFusion LivenessFusion::PassiveOnly(float threshold) {
  return LivenessFusion(0.f, {{"passive_cnn", 1.f}}, threshold);
}

LivenessVerdict LivenessFusion::Fuse(std::vector<LivenessSignal> signals) const {
  double z = bias_;
  for (LivenessSignal& s : signals) {
    auto it = weights_.find(s.name);
    // Probabilities enter through their logit so a weight of 1 reproduces the signal itself.
    s.contribution = it == weights_.end() ? 0.f : it->second * Logit(s.value);
    z += s.contribution;
  }
  LivenessVerdict v;
  v.score = static_cast<float>(1.0 / (1.0 + std::exp(-z)));
  v.live = v.score >= threshold_;
  v.signals = std::move(signals);
  return v;
}

}  // namespace facepay::vision
