// Retail tills, ATMs and border desks on top of the ledger.
//  - Retail: a purchase is a charge to the merchant keyed by its order id (a till retrying the
//    same order never charges twice); the merchant refunds (part of) its own purchases.
//  - Atm: withdrawals and deposits against a customer account through the ATM's cash account,
//    with a per-withdrawal maximum and a daily withdrawal limit (declines, not errors).
//  - BorderLog: crossing records with no money: a keyed hash of the document number (never the
//    number itself), gate, time, decision.
// All thread-safe; the ledger/store/clock must outlive them.
#pragma once

#include <string>

#include "facepay/payments/ledger.h"

namespace facepay::payments {

class Retail {
 public:
  Retail(Ledger& ledger, std::string merchant_account)
      : ledger_(ledger), merchant_(std::move(merchant_account)) {}
  StatusOr<ChargeResult> Purchase(const std::string& order_id, const std::string& account_id,
                                  int64_t amount_minor, const std::string& currency);
  // FailedPrecondition("not_merchants_purchase") when the transaction is another merchant's.
  StatusOr<ChargeResult> Refund(const std::string& refund_id, int64_t purchase_txn_id,
                                int64_t amount_minor);

 private:
  Ledger& ledger_;
  const std::string merchant_;
};

struct AtmLimits {
  int64_t max_withdrawal_minor = 50'000;     // per withdrawal
  int64_t daily_withdrawal_minor = 100'000;  // per account per day, all ATMs
  int64_t max_deposit_minor = 500'000;       // per deposit
};

class Atm {
 public:
  Atm(Ledger& ledger, std::string cash_account, AtmLimits limits)
      : ledger_(ledger), cash_(std::move(cash_account)), limits_(limits) {}
  StatusOr<ChargeResult> Withdraw(const std::string& key, const std::string& account_id,
                                  int64_t amount_minor, const std::string& currency);
  StatusOr<ChargeResult> Deposit(const std::string& key, const std::string& account_id,
                                 int64_t amount_minor, const std::string& currency);

 private:
  StatusOr<ChargeResult> Move(const std::string& key, const std::string& account_id,
                              int64_t amount_minor, const std::string& currency, bool withdraw);
  Ledger& ledger_;
  const std::string cash_;
  const AtmLimits limits_;
};

class BorderLog {
 public:
  // `hash_key` (>= 16 bytes) keys the document-number hash, so the stored hashes cannot be
  // reversed by enumerating document numbers without it.
  BorderLog(LedgerStore& store, Clock& clock, std::string hash_key)
      : store_(store), clock_(clock), key_(std::move(hash_key)) {}
  // decision: "admitted" | "refused" | "referred". Document numbers: 1..32 of [A-Za-z0-9<].
  StatusOr<BorderCrossing> Record(const std::string& document_number, const std::string& gate_id,
                                  const std::string& decision);
  // Hex BLAKE2b-256 of the normalised (upper-case) document number under the key.
  StatusOr<std::string> HashDocument(const std::string& document_number) const;

 private:
  LedgerStore& store_;
  Clock& clock_;
  const std::string key_;
};

}  // namespace facepay::payments
