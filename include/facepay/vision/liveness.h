// Liveness evidence and its fusion into one verdict.
//
// A verdict is built from named signals (each a number with a known direction), fused by a
// small logistic model: score = sigmoid(bias + sum_i weight_i * feature_i). Today the only
// signal is the passive CNN ("passive_cnn", fed as its logit); sequence signals (landmark
// planarity over frames, blinks, screen/paper edges, identity consistency) add entries without
// changing callers. Thread-safe: LivenessFusion is immutable after construction.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace facepay::vision {

struct LivenessSignal {
  std::string name;
  float value = 0;         // raw value of the signal (e.g. the CNN's p_live)
  float contribution = 0;  // weight * feature, filled by the fusion
};

struct LivenessVerdict {
  float score = 0;  // fused probability of a live presentation, 0..1
  bool live = false;
  // Not live, but not clearly an attack either (a camera without calibration whose window
  // would pass on a friendlier camera): answer with an active challenge, never an accept.
  bool unsure = false;
  std::vector<LivenessSignal> signals;
};

class LivenessFusion {
 public:
  // `weights` by signal name; `threshold` on the fused score.
  LivenessFusion(float bias, std::map<std::string, float> weights, float threshold);
  // The pack default: passive CNN alone, whose fused score equals its p_live.
  static LivenessFusion PassiveOnly(float threshold);

  // Signals without a weight are reported with a zero contribution.
  LivenessVerdict Fuse(std::vector<LivenessSignal> signals) const;
  float threshold() const { return threshold_; }

 private:
  float bias_;
  std::map<std::string, float> weights_;
  float threshold_;
};

// log(p / (1 - p)), clamped to avoid infinities.
float Logit(float p);

}  // namespace facepay::vision
