// The biometric steps every flow shares: a terminal's sighting -> probe, 1:N identification
// (gallery search + decision policy), 1:1 verification against one subject's templates, and a
// second factor checked against a subject's stored hash. Thread-safe; holds no state.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "facepay/flows/flow_deps.h"
#include "facepay/flows/probe.h"

namespace facepay::flows {

// What one biometric identification concluded.
struct Identification {
  Probe probe;
  biometrics::Decision decision;
  std::vector<biometrics::Candidate> top;
  double search_ms = 0, decide_ms = 0;
};

// A step-up's second factor: exactly one of the two is set.
struct SecondFactor {
  std::string phone_last4, pin;
  const char* Name() const { return pin.empty() ? "phone_last4" : "pin"; }
};

class Identifier {
 public:
  explicit Identifier(const FlowDeps& deps) : deps_(deps) {}

  // The edge probe as given, else the frames through the pipeline with the calibration of
  // `camera` ("gate:g1", ...: FlowDeps::cameras; none there: uncalibrated). The burst is
  // counted in the camera's score histogram. Errors: missing_frames, decode errors, store errors.
  StatusOr<Probe> ProbeOf(const Sighting& s, const std::string& camera) const;
  // A probe of `camera` whose face matched an enrolled person: followed by the drift monitor.
  void ObserveMatched(const std::string& camera, const Probe& p) const;
  // 1:N search + policy; with `second_factor` the candidates are narrowed by it.
  StatusOr<Identification> Identify(
      Probe probe, const std::function<bool(const std::string&)>* second_factor = nullptr) const;
  // 1:1: best score of the probe against the subject's templates; nullopt without templates.
  StatusOr<std::optional<float>> Verify(const std::string& subject_id,
                                        const vision::Embedding& probe) const;
  // Whether `subject` (still enrolled) has this second factor.
  bool HasSecondFactor(const std::string& subject, const SecondFactor& f) const;

 private:
  const FlowDeps& deps_;
};

}  // namespace facepay::flows
