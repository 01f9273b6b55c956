// Where flows report what they did: the audit log and the decision counters. The flows own these
// small interfaces; the service implements them (its store-backed audit, its Prometheus
// metrics), a test may record into a vector. Implementations must be thread-safe and must not
// fail the flow: a sink that cannot write logs the loss itself.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace facepay::flows {

// Who asks: the key acting ("anonymous", "cli", a key id) and the terminal it acts for ("" when
// none). Audit records carry both.
struct Caller {
  std::string actor = "anonymous";
  std::string terminal;
};

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // One append-only record at `at_ms`; `detail` holds scores, reasons, timings, never images or
  // embeddings (the terminal is added to it).
  virtual void Audit(const Caller& who, int64_t at_ms, const std::string& action,
                     const std::string& target, const std::string& outcome,
                     nlohmann::json detail) = 0;
};

class DecisionCounter {
 public:
  virtual ~DecisionCounter() = default;
  virtual void CountDecision(const std::string& flow, const std::string& outcome,
                             const std::string& reason) = 0;
};

}  // namespace facepay::flows
