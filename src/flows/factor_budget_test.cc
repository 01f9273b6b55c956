#include "facepay/flows/factor_budget.h"

#include <gtest/gtest.h>

namespace facepay::flows {
namespace {

TEST(FactorBudget, LocksAfterTheFifthFailureAndEachLockoutLastsTwiceAsLong) {
  const BudgetPolicy p = SubjectBudgetPolicy();
  FactorBudget b;
  int64_t now = 1'000'000;
  for (int i = 0; i < 4; ++i) {
    b = AfterFailure(b, now, p);
    EXPECT_FALSE(IsLocked(b, now)) << i;
  }
  b = AfterFailure(b, now, p);
  ASSERT_TRUE(IsLocked(b, now));
  EXPECT_EQ(b.locked_until_ms, now + p.first_lockout_ms);
  EXPECT_EQ(b.lockouts, 1);
  // Failures while locked do not extend it.
  EXPECT_EQ(AfterFailure(b, now + 1, p).locked_until_ms, b.locked_until_ms);
  now = b.locked_until_ms;
  EXPECT_FALSE(IsLocked(b, now));
  for (int i = 0; i < 5; ++i) b = AfterFailure(b, now, p);
  EXPECT_EQ(b.locked_until_ms, now + 2 * p.first_lockout_ms);
  // A success forgives failures but the next lockout is still longer.
  now = b.locked_until_ms;
  b = AfterSuccess(AfterFailure(b, now, p), now);
  EXPECT_EQ(b.failures, 0);
  EXPECT_EQ(b.lockouts, 2);
}

TEST(FactorBudget, NeverLocksLongerThanTheCap) {
  BudgetPolicy p = SubjectBudgetPolicy();
  FactorBudget b;
  b.lockouts = 40;  // 2^40 x 15 min would overflow without the cap
  for (int i = 0; i < p.max_failures; ++i) b = AfterFailure(b, 0, p);
  EXPECT_EQ(b.locked_until_ms, p.max_lockout_ms);
}

TEST(FactorBudget, OldFailuresAreForgotten) {
  const BudgetPolicy p = SubjectBudgetPolicy();
  FactorBudget b;
  for (int i = 0; i < 4; ++i) b = AfterFailure(b, 1000, p);
  b = AfterFailure(b, 1000 + p.forget_after_ms + 1, p);
  EXPECT_EQ(b.failures, 1);
  EXPECT_FALSE(IsLocked(b, 1000 + p.forget_after_ms + 1));
}

TEST(FactorBudget, AKeyGetsMoreGuessesThanAPerson) {
  EXPECT_GT(KeyBudgetPolicy().max_failures, SubjectBudgetPolicy().max_failures);
}

}  // namespace
}  // namespace facepay::flows
