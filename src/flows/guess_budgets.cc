#include "facepay/flows/guess_budgets.h"

#include <spdlog/spdlog.h>

namespace facepay::flows {

StatusOr<bool> GuessBudgets::Locked(const std::string& scope, int64_t now_ms) const {
  FACEPAY_ASSIGN_OR_RETURN(FactorBudget b, deps_.store->GetFactorBudget(scope));
  return IsLocked(b, now_ms);
}

void GuessBudgets::CountFailure(const Caller& who, const std::string& scope, bool per_key,
                                int64_t now_ms) const {
  const BudgetPolicy policy = per_key ? KeyBudgetPolicy() : SubjectBudgetPolicy();
  int lockouts_before = 0;
  auto after = deps_.store->UpdateFactorBudget(scope, [&](FactorBudget b) {
    lockouts_before = b.lockouts;
    return AfterFailure(b, now_ms, policy);
  });
  if (!after.ok()) {
    spdlog::error("cannot count a second-factor failure for {}: {}", scope, after.status().ToString());
    return;
  }
  if (after->lockouts > lockouts_before) {
    deps_.counter->CountDecision("second_factor_lockout", per_key ? "key" : "subject", "");
    spdlog::warn("ALERT second-factor lockout of {} until {} (lockout {}, by {})", scope,
                 after->locked_until_ms, after->lockouts, who.actor);
    deps_.audit->Audit(who, now_ms, "second_factor_lockout", scope, "locked",
                       {{"locked_until_ms", after->locked_until_ms}, {"lockouts", after->lockouts}});
  }
}

void GuessBudgets::CountSuccess(const std::string& scope, int64_t now_ms) const {
  auto after = deps_.store->UpdateFactorBudget(
      scope, [&](FactorBudget b) { return AfterSuccess(b, now_ms); });
  if (!after.ok()) spdlog::error("cannot reset the budget of {}: {}", scope, after.status().ToString());
}

}  // namespace facepay::flows
