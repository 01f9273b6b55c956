#include "facepay/payments/banking.h"

#include <sodium.h>

#include <cctype>
#include <memory>

#include "facepay/payments/money.h"
#include "facepay/payments/result_json.h"
#include "movement.h"

namespace facepay::payments {

StatusOr<ChargeResult> Retail::Purchase(const std::string& order_id, const std::string& account_id,
                                        int64_t amount_minor, const std::string& currency) {
  FACEPAY_RETURN_IF_ERROR(ValidateId(order_id, "order id"));
  ChargeRequest req{"order:" + merchant_ + ":" + order_id,
                    account_id,
                    merchant_,
                    amount_minor,
                    currency,
                    TxnKind::kPurchase,
                    order_id};
  return ledger_.Charge(req);
}

StatusOr<ChargeResult> Retail::Refund(const std::string& refund_id, int64_t purchase_txn_id,
                                      int64_t amount_minor) {
  FACEPAY_RETURN_IF_ERROR(ValidateId(refund_id, "refund id"));
  FACEPAY_ASSIGN_OR_RETURN(TxnRecord orig, ledger_.store().GetTransaction(purchase_txn_id));
  if (orig.counterparty_id != merchant_ || orig.kind != TxnKind::kPurchase) {
    return FailedPrecondition(
        "not_merchants_purchase",
        "transaction " + std::to_string(purchase_txn_id) + " is not a purchase at " + merchant_);
  }
  return ledger_.Refund({"refund:" + merchant_ + ":" + refund_id, purchase_txn_id, amount_minor,
                         "refund " + refund_id});
}

StatusOr<ChargeResult> Atm::Withdraw(const std::string& key, const std::string& account_id,
                                     int64_t amount_minor, const std::string& currency) {
  return Move(key, account_id, amount_minor, currency, true);
}

StatusOr<ChargeResult> Atm::Deposit(const std::string& key, const std::string& account_id,
                                    int64_t amount_minor, const std::string& currency) {
  return Move(key, account_id, amount_minor, currency, false);
}

StatusOr<ChargeResult> Atm::Move(const std::string& key, const std::string& account_id,
                                 int64_t amount_minor, const std::string& currency, bool withdraw) {
  FACEPAY_RETURN_IF_ERROR(ValidateIdempotencyKey(key));
  FACEPAY_RETURN_IF_ERROR(ValidateId(account_id, "account id"));
  FACEPAY_RETURN_IF_ERROR(ValidatePositiveAmount(amount_minor));
  FACEPAY_RETURN_IF_ERROR(ValidateCurrency(currency));
  Movement m;
  m.kind = withdraw ? TxnKind::kWithdrawal : TxnKind::kDeposit;
  m.idempotency_key = key;
  m.customer_id = account_id;
  m.counterparty_id = cash_;
  m.amount_minor = amount_minor;
  m.currency = currency;
  m.memo = cash_;
  m.debit_customer = withdraw;
  m.apply_daily_spend_limit = false;  // cash has its own limits
  m.counterparty_kinds = {AccountKind::kCash};
  if (withdraw) {
    m.per_txn_max_minor = limits_.max_withdrawal_minor;
    m.per_txn_reason = "atm_amount_limit";
    m.limits = {{"atm", limits_.daily_withdrawal_minor, "atm_daily_limit"}};
  }
  const int64_t now_ms = ledger_.clock().NowMs();
  const std::string fp = std::string(withdraw ? "withdraw|" : "deposit|") + account_id + "|" +
                         cash_ + "|" + std::to_string(amount_minor) + "|" + currency;
  const bool over_deposit = !withdraw && amount_minor > limits_.max_deposit_minor;
  auto out = std::make_shared<ChargeResult>();
  Status s = ledger_.store().Execute(
      [&, out](LedgerTxn& txn) -> Status {
        FACEPAY_ASSIGN_OR_RETURN(
            nlohmann::json j,
            RunIdempotent(txn, key, fp, now_ms, [&]() -> StatusOr<nlohmann::json> {
              if (over_deposit) {
                FACEPAY_ASSIGN_OR_RETURN(Account a, txn.ReadAccount(account_id));
                return ChargeResultToJson({Outcome::kDeclined, "atm_deposit_limit", false,
                                           std::nullopt, a.balance_minor});
              }
              FACEPAY_ASSIGN_OR_RETURN(ChargeResult r, ApplyMovement(txn, m, now_ms));
              return ChargeResultToJson(r);
            }));
        FACEPAY_ASSIGN_OR_RETURN(*out, ChargeResultFromJson(j));
        return Status::Ok();
      },
      account_id);
  if (!s.ok()) return s;
  return *out;
}

StatusOr<std::string> BorderLog::HashDocument(const std::string& doc) const {
  if (doc.empty() || doc.size() > 32) {
    return InvalidArgument("invalid_document_number", "document number must be 1..32 characters");
  }
  std::string norm;
  for (char c : doc) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '<') {
      return InvalidArgument("invalid_document_number", "document number must be [A-Za-z0-9<]");
    }
    norm += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (key_.size() < 16 || key_.size() > crypto_generichash_KEYBYTES_MAX) {
    return FailedPrecondition("invalid_hash_key", "border hash key must be 16..64 bytes");
  }
  if (sodium_init() < 0) return Internal("sodium_init", "libsodium failed to initialise");
  unsigned char out[32];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(norm.data()),
                     norm.size(), reinterpret_cast<const unsigned char*>(key_.data()), key_.size());
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  return std::string(hex);
}

StatusOr<BorderCrossing> BorderLog::Record(const std::string& document_number,
                                           const std::string& gate_id,
                                           const std::string& decision) {
  FACEPAY_RETURN_IF_ERROR(ValidateId(gate_id, "gate id"));
  if (decision != "admitted" && decision != "refused" && decision != "referred") {
    return InvalidArgument("invalid_decision", "decision must be admitted, refused or referred");
  }
  BorderCrossing c;
  FACEPAY_ASSIGN_OR_RETURN(c.doc_hash, HashDocument(document_number));
  c.gate_id = gate_id;
  c.at_ms = clock_.NowMs();
  c.decision = decision;
  Status s = store_.Execute(
      [&](LedgerTxn& txn) -> Status {
        FACEPAY_ASSIGN_OR_RETURN(c.id, txn.InsertBorderCrossing(c));
        return Status::Ok();
      },
      "");
  if (!s.ok()) return s;
  return c;
}

}  // namespace facepay::payments
