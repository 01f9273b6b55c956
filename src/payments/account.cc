#include "facepay/payments/account.h"

#include <array>
#include <utility>

#include "facepay/payments/ledger_types.h"
#include "facepay/payments/money.h"

namespace facepay::payments {
namespace {
constexpr std::array<std::pair<AccountKind, std::string_view>, 6> kAccountKinds{{
    {AccountKind::kStoredValue, "stored_value"},
    {AccountKind::kCard, "card"},
    {AccountKind::kRevenue, "revenue"},
    {AccountKind::kMerchant, "merchant"},
    {AccountKind::kCash, "cash"},
    {AccountKind::kClearing, "clearing"},
}};
constexpr std::array<std::pair<TxnKind, std::string_view>, 7> kTxnKinds{{
    {TxnKind::kTopUp, "topup"},
    {TxnKind::kCharge, "charge"},
    {TxnKind::kFare, "fare"},
    {TxnKind::kPurchase, "purchase"},
    {TxnKind::kRefund, "refund"},
    {TxnKind::kWithdrawal, "withdrawal"},
    {TxnKind::kDeposit, "deposit"},
}};
}  // namespace

std::string_view AccountKindName(AccountKind kind) {
  for (const auto& [k, n] : kAccountKinds) {
    if (k == kind) return n;
  }
  return "unknown";
}

StatusOr<AccountKind> ParseAccountKind(std::string_view name) {
  for (const auto& [k, n] : kAccountKinds) {
    if (n == name) return k;
  }
  return InvalidArgument("invalid_account_kind",
                         "account kind must be stored_value, card, revenue, merchant, cash or "
                         "clearing");
}

std::string_view TxnKindName(TxnKind kind) {
  for (const auto& [k, n] : kTxnKinds) {
    if (k == kind) return n;
  }
  return "unknown";
}

StatusOr<TxnKind> ParseTxnKind(std::string_view name) {
  for (const auto& [k, n] : kTxnKinds) {
    if (n == name) return k;
  }
  return DataLoss("invalid_txn_kind", "unknown transaction kind '" + std::string(name) + "'");
}

Status ValidateNewAccount(const Account& a) {
  FACEPAY_RETURN_IF_ERROR(ValidateId(a.id, "account id"));
  FACEPAY_RETURN_IF_ERROR(ValidateCurrency(a.currency));
  auto in_range = [](int64_t v) { return v >= -kMaxBalanceMinor && v <= kMaxBalanceMinor; };
  if (a.floor_minor && (!in_range(*a.floor_minor) || *a.floor_minor > 0)) {
    return InvalidArgument("invalid_floor", "floor_minor must be <= 0 and within range");
  }
  if (a.floor_minor && a.kind != AccountKind::kStoredValue) {
    return InvalidArgument("invalid_floor", "only stored-value accounts have a floor");
  }
  if (a.kind == AccountKind::kStoredValue && !a.floor_minor) {
    return InvalidArgument("invalid_floor",
                           "stored-value accounts need a floor (0 = no overdraft)");
  }
  if (a.daily_limit_minor < 0 || a.daily_limit_minor > kMaxBalanceMinor || a.auto_topup_minor < 0 ||
      a.auto_topup_minor > kMaxAmountMinor || a.auto_topup_threshold_minor < 0 ||
      a.auto_topup_threshold_minor > kMaxBalanceMinor) {
    return InvalidArgument("invalid_limit",
                           "limits and auto top-up amounts must be >= 0 and in range");
  }
  FACEPAY_RETURN_IF_ERROR(ValidateText(a.concession, "concession"));
  if (a.concession.size() > 32) return InvalidArgument("invalid_text", "concession too long");
  if (a.kind == AccountKind::kCard) {
    FACEPAY_RETURN_IF_ERROR(ValidateId(a.card_token, "card token"));
    bool last4_ok = a.card_last4.size() == 4;
    for (char c : a.card_last4) last4_ok = last4_ok && c >= '0' && c <= '9';
    if (!last4_ok) return InvalidArgument("invalid_card_last4", "card_last4 must be 4 digits");
    FACEPAY_RETURN_IF_ERROR(ValidateText(a.card_brand, "card brand"));
  } else if (!a.card_last4.empty()) {
    return InvalidArgument("invalid_card_last4", "only card accounts carry card_last4");
  }
  if (a.auto_topup_minor > 0) {
    if (a.kind != AccountKind::kStoredValue) {
      return InvalidArgument("invalid_auto_topup", "auto top-up is for stored-value accounts");
    }
    FACEPAY_RETURN_IF_ERROR(ValidateId(a.card_token, "auto top-up card token"));
  }
  return Status::Ok();
}

}  // namespace facepay::payments
