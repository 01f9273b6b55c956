#include "facepay/payments/ledger.h"

#include <memory>

#include "facepay/payments/money.h"
#include "facepay/payments/result_json.h"
#include "movement.h"

namespace facepay::payments {
namespace {

const std::vector<AccountKind> kChargePayees = {AccountKind::kRevenue, AccountKind::kMerchant};

Movement ChargeMovement(const ChargeRequest& req) {
  Movement m;
  m.kind = req.kind;
  m.idempotency_key = req.idempotency_key;
  m.customer_id = req.account_id;
  m.counterparty_id = req.payee_id;
  m.amount_minor = req.amount_minor;
  m.currency = req.currency;
  m.memo = req.memo;
  m.counterparty_kinds = kChargePayees;
  return m;
}

// Runs an idempotent movement as one unit; returns the (possibly replayed) result.
std::future<StatusOr<ChargeResult>> RunMovementAsync(LedgerStore& store, Movement m,
                                                     std::string fingerprint, int64_t now_ms) {
  auto out = std::make_shared<ChargeResult>();
  const std::string affinity = m.customer_id;
  std::future<Status> f = store.ExecuteAsync(
      [m = std::move(m), fp = std::move(fingerprint), now_ms, out](LedgerTxn& txn) -> Status {
        FACEPAY_ASSIGN_OR_RETURN(
            nlohmann::json j,
            RunIdempotent(txn, m.idempotency_key, fp, now_ms, [&]() -> StatusOr<nlohmann::json> {
              FACEPAY_ASSIGN_OR_RETURN(ChargeResult r, ApplyMovement(txn, m, now_ms));
              return ChargeResultToJson(r);
            }));
        FACEPAY_ASSIGN_OR_RETURN(*out, ChargeResultFromJson(j));
        return Status::Ok();
      },
      affinity);
  return std::async(std::launch::deferred,
                    [f = std::move(f), out]() mutable -> StatusOr<ChargeResult> {
                      Status s = f.get();
                      if (!s.ok()) return s;
                      return *out;
                    });
}

template <typename T>
std::future<T> Ready(T v) {
  std::promise<T> p;
  p.set_value(std::move(v));
  return p.get_future();
}

}  // namespace

Status ValidateChargeRequest(const ChargeRequest& req) {
  FACEPAY_RETURN_IF_ERROR(ValidateIdempotencyKey(req.idempotency_key));
  FACEPAY_RETURN_IF_ERROR(ValidateId(req.account_id, "account id"));
  FACEPAY_RETURN_IF_ERROR(ValidateId(req.payee_id, "payee id"));
  FACEPAY_RETURN_IF_ERROR(ValidatePositiveAmount(req.amount_minor));
  FACEPAY_RETURN_IF_ERROR(ValidateCurrency(req.currency));
  FACEPAY_RETURN_IF_ERROR(ValidateText(req.memo, "memo"));
  if (req.kind != TxnKind::kCharge && req.kind != TxnKind::kFare &&
      req.kind != TxnKind::kPurchase) {
    return InvalidArgument("invalid_kind", "a charge must be a charge, fare or purchase");
  }
  return Status::Ok();
}

std::string ChargeFingerprint(const ChargeRequest& req) {
  return std::string(TxnKindName(req.kind)) + "|" + req.account_id + "|" + req.payee_id + "|" +
         std::to_string(req.amount_minor) + "|" + req.currency + "|" + req.memo;
}

StatusOr<Account> Ledger::CreateAccount(Account spec) {
  spec.balance_minor = 0;
  spec.created_at_ms = clock_.NowMs();
  FACEPAY_RETURN_IF_ERROR(ValidateNewAccount(spec));
  Status st = store_.Execute([spec](LedgerTxn& txn) { return txn.InsertAccount(spec); }, spec.id);
  if (!st.ok()) return st;
  return spec;
}

std::future<StatusOr<ChargeResult>> Ledger::TopUpAsync(const TopUpRequest& req) {
  Status v = ValidateIdempotencyKey(req.idempotency_key);
  if (v.ok()) v = ValidateId(req.account_id, "account id");
  if (v.ok()) v = ValidateId(req.source_id, "source id");
  if (v.ok()) v = ValidatePositiveAmount(req.amount_minor);
  if (v.ok()) v = ValidateCurrency(req.currency);
  if (!v.ok()) return Ready<StatusOr<ChargeResult>>(v);
  Movement m;
  m.kind = TxnKind::kTopUp;
  m.idempotency_key = req.idempotency_key;
  m.customer_id = req.account_id;
  m.counterparty_id = req.source_id;
  m.amount_minor = req.amount_minor;
  m.currency = req.currency;
  m.debit_customer = false;
  m.counterparty_kinds = {AccountKind::kCash, AccountKind::kClearing};
  std::string fp = "topup|" + req.account_id + "|" + req.source_id + "|" +
                   std::to_string(req.amount_minor) + "|" + req.currency;
  return RunMovementAsync(store_, std::move(m), std::move(fp), clock_.NowMs());
}

std::future<StatusOr<ChargeResult>> Ledger::ChargeAsync(const ChargeRequest& req) {
  Status v = ValidateChargeRequest(req);
  if (!v.ok()) return Ready<StatusOr<ChargeResult>>(v);
  return RunMovementAsync(store_, ChargeMovement(req), ChargeFingerprint(req), clock_.NowMs());
}

StatusOr<ChargeResult> Ledger::Charge(const ChargeRequest& req) {
  FACEPAY_RETURN_IF_ERROR(ValidateChargeRequest(req));
  FACEPAY_ASSIGN_OR_RETURN(Account acct, store_.GetAccount(req.account_id));
  if (acct.kind == AccountKind::kCard) return ChargeCard(req, acct);
  if (acct.kind == AccountKind::kStoredValue && acct.auto_topup_minor > 0) {
    FACEPAY_RETURN_IF_ERROR(MaybeAutoTopUp(req));
  }
  return ChargeAsync(req).get();
}

// Tops up from the account's card when this charge would leave the balance below the
// auto top-up threshold. Runs before the charge (outside its unit: the provider is remote);
// the top-up has its own idempotency key derived from the charge's, so a retry never tops
// up twice for the same charge.
Status Ledger::MaybeAutoTopUp(const ChargeRequest& req) {
  if (provider_ == nullptr) return Status::Ok();
  FACEPAY_ASSIGN_OR_RETURN(Account acct, store_.GetAccount(req.account_id));
  if (acct.balance_minor - req.amount_minor >= acct.auto_topup_threshold_minor) return Status::Ok();
  const std::string key = req.idempotency_key.substr(0, kMaxKeyLength - 10) + ":autotopup";
  FACEPAY_ASSIGN_OR_RETURN(
      ProviderResult pr,
      provider_->Capture(acct.card_token, acct.auto_topup_minor, acct.currency, key));
  if (!pr.approved) return Status::Ok();  // the charge itself will decline if funds are short
  const std::string clearing = "clearing:" + provider_->Name();
  FACEPAY_ASSIGN_OR_RETURN(ChargeResult r,
                           TopUp({key, acct.id, clearing, acct.auto_topup_minor, acct.currency}));
  (void)r;
  return Status::Ok();
}

StatusOr<ChargeResult> Ledger::ChargeCard(const ChargeRequest& req, const Account& acct) {
  if (provider_ == nullptr) {
    return FailedPrecondition("no_provider", "no payment provider configured for card accounts");
  }
  const std::string fp = ChargeFingerprint(req);
  const int64_t now_ms = clock_.NowMs();
  // 1. Replay / refuse / pre-check limits before touching the card.
  std::optional<ChargeResult> early;
  Status exec_status = store_.Execute(
      [&](LedgerTxn& txn) -> Status {
        early.reset();
        FACEPAY_ASSIGN_OR_RETURN(auto rec, txn.GetIdempotency(req.idempotency_key));
        if (rec) {
          if (rec->fingerprint != fp) {
            return FailedPrecondition("idempotency_key_reused", "idempotency key '" +
                                                                    req.idempotency_key +
                                                                    "' was already used with "
                                                                    "different parameters");
          }
          FACEPAY_ASSIGN_OR_RETURN(early, ChargeResultFromJson(rec->result_json));
          early->replayed = true;
          return Status::Ok();
        }
        if (acct.daily_limit_minor > 0) {
          FACEPAY_ASSIGN_OR_RETURN(int64_t used,
                                   txn.GetCounter(acct.id, "spend", DayNumber(now_ms)));
          if (used + req.amount_minor > acct.daily_limit_minor) {
            early = ChargeResult{Outcome::kDeclined, "daily_limit_exceeded", false, std::nullopt,
                                 acct.balance_minor};
          }
        }
        return Status::Ok();
      },
      acct.id);
  if (!exec_status.ok()) return exec_status;
  if (early && early->replayed) return *early;
  // 2. Capture (errors such as timeouts leave no record: the caller retries with the key).
  ProviderResult pr{false, early ? early->decline_reason : "", ""};
  if (!early) {
    FACEPAY_ASSIGN_OR_RETURN(pr, provider_->Capture(acct.card_token, req.amount_minor, req.currency,
                                                    req.idempotency_key));
  }
  // 3. Record the outcome with its idempotency record.
  Movement m = ChargeMovement(req);
  m.card_captured = true;
  std::string decline =
      pr.approved ? "" : (pr.decline_reason.empty() ? "card_declined" : pr.decline_reason);
  auto out = std::make_shared<ChargeResult>();
  Status exec_status2 = store_.Execute(
      [&](LedgerTxn& txn) -> Status {
        FACEPAY_ASSIGN_OR_RETURN(
            nlohmann::json j,
            RunIdempotent(txn, req.idempotency_key, fp, now_ms, [&]() -> StatusOr<nlohmann::json> {
              if (!decline.empty()) {
                return ChargeResultToJson(
                    {Outcome::kDeclined, decline, false, std::nullopt, acct.balance_minor});
              }
              FACEPAY_ASSIGN_OR_RETURN(ChargeResult r, ApplyMovement(txn, m, now_ms));
              return ChargeResultToJson(r);
            }));
        FACEPAY_ASSIGN_OR_RETURN(*out, ChargeResultFromJson(j));
        return Status::Ok();
      },
      acct.id);
  if (!exec_status2.ok()) return exec_status2;
  return *out;
}

StatusOr<ChargeResult> Ledger::Refund(const RefundRequest& req) {
  FACEPAY_RETURN_IF_ERROR(ValidateIdempotencyKey(req.idempotency_key));
  FACEPAY_RETURN_IF_ERROR(ValidateText(req.memo, "memo"));
  if (req.original_txn_id <= 0) {
    return InvalidArgument("invalid_txn_id", "original_txn_id must be positive");
  }
  if (req.amount_minor != 0) FACEPAY_RETURN_IF_ERROR(ValidatePositiveAmount(req.amount_minor));
  const int64_t now_ms = clock_.NowMs();
  const std::string fp = "refund|" + std::to_string(req.original_txn_id) + "|" +
                         std::to_string(req.amount_minor) + "|" + req.memo;
  auto out = std::make_shared<ChargeResult>();
  Status exec_status3 = store_.Execute(
      [&](LedgerTxn& txn) -> Status {
        FACEPAY_ASSIGN_OR_RETURN(
            nlohmann::json j,
            RunIdempotent(txn, req.idempotency_key, fp, now_ms, [&]() -> StatusOr<nlohmann::json> {
              FACEPAY_ASSIGN_OR_RETURN(TxnRecord orig, txn.GetTransaction(req.original_txn_id));
              if (orig.kind != TxnKind::kCharge && orig.kind != TxnKind::kFare &&
                  orig.kind != TxnKind::kPurchase) {
                return FailedPrecondition("not_refundable",
                                          "only charges, fares and purchases can "
                                          "be refunded");
              }
              // Lock the customer first so concurrent refunds of one charge are serialised.
              FACEPAY_RETURN_IF_ERROR(txn.LockAccount(orig.account_id).status());
              FACEPAY_ASSIGN_OR_RETURN(int64_t refunded, txn.SumRefunds(orig.id));
              const int64_t left = orig.amount_minor - refunded;
              const int64_t amount = req.amount_minor == 0 ? left : req.amount_minor;
              if (amount <= 0 || amount > left) {
                return FailedPrecondition("refund_exceeds_original",
                                          "refund of " + std::to_string(amount) + " exceeds the " +
                                              std::to_string(left) + " left on transaction " +
                                              std::to_string(orig.id));
              }
              Movement m;
              m.kind = TxnKind::kRefund;
              m.idempotency_key = req.idempotency_key;
              m.customer_id = orig.account_id;
              m.counterparty_id = orig.counterparty_id;
              m.amount_minor = amount;
              m.currency = orig.currency;
              m.memo = req.memo;
              m.debit_customer = false;
              m.ref_txn_id = orig.id;
              m.counterparty_kinds = kChargePayees;
              FACEPAY_ASSIGN_OR_RETURN(ChargeResult r, ApplyMovement(txn, m, now_ms));
              return ChargeResultToJson(r);
            }));
        FACEPAY_ASSIGN_OR_RETURN(*out, ChargeResultFromJson(j));
        return Status::Ok();
      },
      "");
  if (!exec_status3.ok()) return exec_status3;
  return *out;
}

}  // namespace facepay::payments
