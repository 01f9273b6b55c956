#include "facepay/payments/money.h"

namespace facepay::payments {

Status ValidateCurrency(std::string_view c) {
  bool ok = c.size() == 3;
  for (char ch : c) ok = ok && ch >= 'A' && ch <= 'Z';
  if (!ok) {
    return InvalidArgument("invalid_currency",
                           "currency must be a 3-letter ISO 4217 code like EUR, got '" +
                               std::string(c.substr(0, 16)) + "'");
  }
  return Status::Ok();
}

Status ValidatePositiveAmount(int64_t amount_minor) {
  if (amount_minor <= 0 || amount_minor > kMaxAmountMinor) {
    return InvalidArgument("invalid_amount", "amount_minor must be in 1.." +
                                                 std::to_string(kMaxAmountMinor) + ", got " +
                                                 std::to_string(amount_minor));
  }
  return Status::Ok();
}

Status ValidateId(std::string_view id, std::string_view what) {
  bool ok = !id.empty() && id.size() <= kMaxIdLength;
  for (char ch : id) {
    ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                ch == '_' || ch == '-' || ch == '.' || ch == ':');
  }
  if (!ok) {
    return InvalidArgument("invalid_id", std::string(what) + " must be 1.." +
                                             std::to_string(kMaxIdLength) +
                                             " characters of [A-Za-z0-9_.:-]");
  }
  return Status::Ok();
}

Status ValidateIdempotencyKey(std::string_view key) {
  bool ok = !key.empty() && key.size() <= kMaxKeyLength;
  for (char ch : key) ok = ok && ch > ' ' && ch < 127;
  if (!ok) {
    return InvalidArgument("invalid_idempotency_key",
                           "idempotency key must be 1.." + std::to_string(kMaxKeyLength) +
                               " printable ASCII characters without spaces");
  }
  return Status::Ok();
}

Status ValidateText(std::string_view text, std::string_view what) {
  bool ok = text.size() <= kMaxMemoLength;
  for (char ch : text) ok = ok && ch >= ' ' && ch < 127;
  if (!ok) {
    return InvalidArgument("invalid_text", std::string(what) + " must be at most " +
                                               std::to_string(kMaxMemoLength) +
                                               " printable ASCII characters");
  }
  return Status::Ok();
}

int64_t DayNumber(int64_t unix_ms, int64_t offset_s) {
  int64_t s = unix_ms / 1000 + offset_s;
  return s >= 0 ? s / 86400 : (s - 86399) / 86400;
}

}  // namespace facepay::payments
