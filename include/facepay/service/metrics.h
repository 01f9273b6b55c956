// Prometheus metrics of the service (text exposition format 0.0.4): request counts and latency
// histograms by route and status class, decisions by flow, outcome and reason. Gauges (gallery
// size, ledger totals...) are supplied by the caller when rendering. Thread-safe.
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "facepay/flows/sinks.h"

namespace facepay::service {

class Metrics final : public flows::DecisionCounter {
 public:
  // `route` is the route pattern (e.g. "/v1/gates/{gate}/passages"), never the raw path.
  void ObserveRequest(const std::string& method, const std::string& route, int status,
                      double seconds);
  void CountDecision(const std::string& flow, const std::string& outcome,
                     const std::string& reason) override;
  // `gauges`: name (with optional {labels}) -> value, each with a HELP line.
  struct Gauge {
    std::string name, help;
    double value = 0;
  };
  std::string Render(const std::vector<Gauge>& gauges) const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.005, 0.01, 0.02, 0.05, 0.1,  0.15,
                                                      0.25,  0.5,  1,    2.5,  5,    10};
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> le{};
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;  // guards everything below
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
  std::map<std::pair<std::string, std::string>, Histogram> latency_;
  std::map<std::tuple<std::string, std::string, std::string>, uint64_t> decisions_;
};

}  // namespace facepay::service
