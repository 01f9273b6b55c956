// Ledger: accounts and money movements over a LedgerStore.
//
// Every movement is one double-entry transaction (entries sum to zero), committed atomically
// with its idempotency record. Idempotency: the same key with the same parameters returns the
// original result (replayed = true); the same key with different parameters fails with
// FailedPrecondition("idempotency_key_reused"); concurrent duplicates yield exactly one
// transaction. Declines (insufficient funds, limits, card declined) are results, not errors.
// Thread-safe; the store, clock and provider must outlive the Ledger.
#pragma once

#include <future>
#include <string>

#include "facepay/common/status_or.h"
#include "facepay/payments/clock.h"
#include "facepay/payments/ledger_store.h"
#include "facepay/payments/payment_provider.h"

namespace facepay::payments {

struct ChargeRequest {
  std::string idempotency_key;  // gate event id, till order id...
  std::string account_id;       // the customer paying
  std::string payee_id;         // revenue or merchant account credited
  int64_t amount_minor = 0;
  std::string currency;
  TxnKind kind = TxnKind::kCharge;  // kCharge, kFare or kPurchase
  std::string memo;
};

struct RefundRequest {
  std::string idempotency_key;
  int64_t original_txn_id = 0;
  int64_t amount_minor = 0;  // 0 = whatever is left to refund
  std::string memo;
};

struct TopUpRequest {
  std::string idempotency_key;
  std::string account_id;  // stored-value account credited
  std::string source_id;   // cash or clearing account debited
  int64_t amount_minor = 0;
  std::string currency;
};

class Ledger {
 public:
  // `provider` may be null: card accounts then fail with FailedPrecondition("no_provider").
  Ledger(LedgerStore& store, Clock& clock, PaymentProvider* provider)
      : store_(store), clock_(clock), provider_(provider) {}

  // Validates and inserts `spec` (balance starts at 0). AlreadyExists("account_exists").
  StatusOr<Account> CreateAccount(Account spec);
  StatusOr<Account> GetAccount(const std::string& id) { return store_.GetAccount(id); }

  StatusOr<ChargeResult> TopUp(const TopUpRequest& req) { return TopUpAsync(req).get(); }
  std::future<StatusOr<ChargeResult>> TopUpAsync(const TopUpRequest& req);
  // Charges a stored-value account (floor, daily limit, optional auto top-up from its card
  // token) or a card account (through the provider).
  StatusOr<ChargeResult> Charge(const ChargeRequest& req);
  // Stored-value only, without waiting: lets one caller keep many charges in flight so a
  // group-committing store can batch them. Invalid input fails the future at once.
  std::future<StatusOr<ChargeResult>> ChargeAsync(const ChargeRequest& req);
  // Reverses (part of) a charge, fare or purchase: NotFound("transaction_not_found"),
  // FailedPrecondition("not_refundable" / "refund_exceeds_original").
  StatusOr<ChargeResult> Refund(const RefundRequest& req);

  StatusOr<IntegrityReport> CheckIntegrity() { return store_.CheckIntegrity(); }

  LedgerStore& store() { return store_; }
  Clock& clock() { return clock_; }

 private:
  StatusOr<ChargeResult> ChargeCard(const ChargeRequest& req, const Account& acct);
  Status MaybeAutoTopUp(const ChargeRequest& req);

  LedgerStore& store_;
  Clock& clock_;
  PaymentProvider* provider_;
};

// Canonical parameter string of a charge (what "same parameters" means for idempotency).
std::string ChargeFingerprint(const ChargeRequest& req);
Status ValidateChargeRequest(const ChargeRequest& req);

}  // namespace facepay::payments
