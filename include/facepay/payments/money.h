// Money and input validation shared by every payments entry point.
// Money is an int64 count of minor units (cents) plus an ISO 4217 code; never floating point.
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "facepay/common/status.h"

namespace facepay::payments {

// Largest single movement accepted anywhere (10 million major units at 2 decimals).
inline constexpr int64_t kMaxAmountMinor = 1'000'000'000;
// Largest absolute balance or limit accepted on an account.
inline constexpr int64_t kMaxBalanceMinor = 1'000'000'000'000;
inline constexpr size_t kMaxIdLength = 64;
inline constexpr size_t kMaxKeyLength = 128;
inline constexpr size_t kMaxMemoLength = 256;

struct Money {
  int64_t amount_minor = 0;
  std::string currency;  // "EUR"
};

// "[A-Z]{3}" or InvalidArgument("invalid_currency").
Status ValidateCurrency(std::string_view currency);
// 1..kMaxAmountMinor or InvalidArgument("invalid_amount").
Status ValidatePositiveAmount(int64_t amount_minor);
// Account/merchant/gate ids: 1..64 of [A-Za-z0-9_.:-] or InvalidArgument("invalid_id").
Status ValidateId(std::string_view id, std::string_view what);
// Idempotency keys: 1..128 printable ASCII without spaces, or
// InvalidArgument("invalid_idempotency_key").
Status ValidateIdempotencyKey(std::string_view key);
// Free text (memo, order id): at most kMaxMemoLength printable chars, or
// InvalidArgument("invalid_text").
Status ValidateText(std::string_view text, std::string_view what);

// UTC day number (days since 1970-01-01) of `unix_ms`, after shifting by `offset_s`.
int64_t DayNumber(int64_t unix_ms, int64_t offset_s = 0);

}  // namespace facepay::payments
