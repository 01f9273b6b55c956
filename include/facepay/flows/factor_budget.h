// Budgets of second-factor guesses across challenges, terminals and nodes. A 4-digit PIN is
// 10,000 guesses: with 3 guesses per step-up challenge and fresh challenges for the asking, a
// stranger holding a look-alike photo broke one in 202 requests. So failures are counted per
// subject (every candidate a wrong guess was tried against), per account (ATM verifications)
// and per terminal key; past `max_failures` the scope is locked, each lockout twice as long
// as the one before. Pure functions over the stored FactorBudget: the store applies them
// atomically (FlowStore::UpdateFactorBudget), the clock is the caller's.
#pragma once

#include <cstdint>
#include <string>

#include "facepay/flows/flow_store.h"

namespace facepay::flows {

struct BudgetPolicy {
  int max_failures = 5;                       // failed guesses before a lockout
  int64_t first_lockout_ms = 15 * 60'000;     // then 30 min, 1 h, ... up to max_lockout_ms
  int64_t max_lockout_ms = 24 * 3'600'000;
  int64_t forget_after_ms = 24 * 3'600'000;   // failures older than this no longer count
};

// Per subject and per account: 5 failures. Per terminal key: 20 (a key serves many people).
BudgetPolicy SubjectBudgetPolicy();
BudgetPolicy KeyBudgetPolicy();

bool IsLocked(const FactorBudget& b, int64_t now_ms);
// One more failed guess at now_ms; locks (and counts a lockout) when the budget is spent.
FactorBudget AfterFailure(FactorBudget b, int64_t now_ms, const BudgetPolicy& p);
// A correct guess: failures are forgiven, earlier lockouts still lengthen the next one.
FactorBudget AfterSuccess(FactorBudget b, int64_t now_ms);

std::string SubjectScope(const std::string& subject_id);
std::string AccountScope(const std::string& account_id);
std::string KeyScope(const std::string& key_id);

}  // namespace facepay::flows
