#include "facepay/flows/factor_budget.h"

#include <algorithm>

namespace facepay::flows {

BudgetPolicy SubjectBudgetPolicy() { return BudgetPolicy{}; }

BudgetPolicy KeyBudgetPolicy() {
  BudgetPolicy p;
  p.max_failures = 20;
  return p;
}

bool IsLocked(const FactorBudget& b, int64_t now_ms) { return now_ms < b.locked_until_ms; }

FactorBudget AfterFailure(FactorBudget b, int64_t now_ms, const BudgetPolicy& p) {
  if (b.updated_at_ms != 0 && now_ms - b.updated_at_ms > p.forget_after_ms) b.failures = 0;
  b.updated_at_ms = now_ms;
  if (IsLocked(b, now_ms)) return b;  // already locked: the lockout is not extended
  if (++b.failures < p.max_failures) return b;
  int64_t lock_ms = p.first_lockout_ms;
  for (int i = 0; i < b.lockouts && lock_ms < p.max_lockout_ms; ++i) lock_ms *= 2;
  b.locked_until_ms = now_ms + std::min(lock_ms, p.max_lockout_ms);
  b.failures = 0;
  ++b.lockouts;
  return b;
}

FactorBudget AfterSuccess(FactorBudget b, int64_t now_ms) {
  b.failures = 0;
  b.updated_at_ms = now_ms;
  return b;
}

std::string SubjectScope(const std::string& subject_id) { return "subject:" + subject_id; }
std::string AccountScope(const std::string& account_id) { return "account:" + account_id; }
std::string KeyScope(const std::string& key_id) { return "key:" + key_id; }

}  // namespace facepay::flows
