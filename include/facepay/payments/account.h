// Accounts: who holds money in the ledger.
//
// Customer accounts are either stored value (a balance the customer topped up, allowed down to
// `floor_minor`, e.g. -500 for a small overdraft) or a card on file (only a provider token and
// last-4/brand are stored, never a card number; charges go through a PaymentProvider).
// System accounts (operator revenue, merchant, cash, card clearing) have no floor.
// Every account has one currency; balances are the sum of the account's ledger entries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "facepay/common/status_or.h"

namespace facepay::payments {

enum class AccountKind {
  kStoredValue,  // customer wallet
  kCard,         // customer card on file (tokenized)
  kRevenue,      // transit operator revenue
  kMerchant,     // shop / merchant settlement
  kCash,         // cash drawer, ATM cassette, top-up desk (money entering or leaving the system)
  kClearing,     // card provider clearing (money arriving from card networks)
};

std::string_view AccountKindName(AccountKind kind);
StatusOr<AccountKind> ParseAccountKind(std::string_view name);
inline bool IsCustomer(AccountKind k) {
  return k == AccountKind::kStoredValue || k == AccountKind::kCard;
}

struct Account {
  std::string id;
  AccountKind kind = AccountKind::kStoredValue;
  std::string currency;
  int64_t balance_minor = 0;
  // Lowest balance a charge may leave (stored value only); nullopt = no floor (system, card).
  std::optional<int64_t> floor_minor;
  int64_t daily_limit_minor = 0;  // 0 = no daily spend limit
  std::string concession;         // fare concession class ("" none, "senior", ...)
  std::string card_token;         // provider token (card accounts, or auto top-up source)
  std::string card_last4;
  std::string card_brand;
  int64_t auto_topup_minor = 0;            // 0 = off; amount pulled from card_token
  int64_t auto_topup_threshold_minor = 0;  // top up when a charge would go below this
  int64_t created_at_ms = 0;
};

// Checks an account about to be created: id, currency, kind-specific fields, ranges.
Status ValidateNewAccount(const Account& a);

}  // namespace facepay::payments
