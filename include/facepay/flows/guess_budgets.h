// The second-factor and verification budgets (factor_budget.h) as the flows use them: read a
// scope's lock, count a failure (auditing and alerting on a new lockout) or a success, at the
// time the caller gives. Thread-safe (the store applies each update atomically); a failed
// update is logged, never fails the flow.
#pragma once

#include <cstdint>
#include <string>

#include "facepay/flows/factor_budget.h"
#include "facepay/flows/flow_deps.h"

namespace facepay::flows {

class GuessBudgets {
 public:
  explicit GuessBudgets(const FlowDeps& deps) : deps_(deps) {}

  StatusOr<bool> Locked(const std::string& scope, int64_t now_ms) const;
  // `per_key`: the terminal key's (larger) budget, else a subject's or an account's.
  void CountFailure(const Caller& who, const std::string& scope, bool per_key, int64_t now_ms) const;
  void CountSuccess(const std::string& scope, int64_t now_ms) const;

 private:
  const FlowDeps& deps_;
};

}  // namespace facepay::flows
