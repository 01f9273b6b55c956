#include "movement.h"

#include <algorithm>

#include "facepay/payments/money.h"

namespace facepay::payments {

StatusOr<ChargeResult> ApplyMovement(LedgerTxn& txn, const Movement& m, int64_t now_ms) {
  FACEPAY_ASSIGN_OR_RETURN(Account c, txn.LockAccount(m.customer_id));
  if (!IsCustomer(c.kind)) {
    return InvalidArgument("not_a_customer_account", "account '" + c.id + "' is a " +
                                                         std::string(AccountKindName(c.kind)) +
                                                         " account, not a customer account");
  }
  if (c.currency != m.currency) {
    return InvalidArgument("currency_mismatch", "account '" + c.id + "' holds " + c.currency +
                                                    ", request is in " + m.currency);
  }
  FACEPAY_ASSIGN_OR_RETURN(Account cp, txn.ReadAccount(m.counterparty_id));
  if (std::find(m.counterparty_kinds.begin(), m.counterparty_kinds.end(), cp.kind) ==
      m.counterparty_kinds.end()) {
    return InvalidArgument("wrong_counterparty_kind",
                           "account '" + cp.id + "' (" + std::string(AccountKindName(cp.kind)) +
                               ") cannot take part in a " + std::string(TxnKindName(m.kind)));
  }
  if (cp.currency != m.currency) {
    return InvalidArgument("currency_mismatch", "account '" + cp.id + "' holds " + cp.currency);
  }
  if (c.kind == AccountKind::kCard && m.debit_customer && !m.card_captured) {
    return FailedPrecondition("card_needs_provider",
                              "card accounts are charged through the provider (use Charge)");
  }
  ChargeResult r;
  r.balance_minor = c.balance_minor;
  auto decline = [&](const std::string& reason) {
    r.outcome = Outcome::kDeclined;
    r.decline_reason = reason;
    return r;
  };
  const int64_t day = DayNumber(now_ms);
  std::vector<CounterLimit> limits = m.limits;
  if (m.debit_customer && m.apply_daily_spend_limit) {
    limits.push_back({"spend", c.daily_limit_minor, "daily_limit_exceeded"});
  }
  if (m.debit_customer) {
    if (m.per_txn_max_minor > 0 && m.amount_minor > m.per_txn_max_minor) {
      return decline(m.per_txn_reason);
    }
    if (!m.card_captured) {
      for (const auto& l : limits) {
        if (l.limit_minor <= 0) continue;
        FACEPAY_ASSIGN_OR_RETURN(int64_t used, txn.GetCounter(c.id, l.counter, day));
        if (used + m.amount_minor > l.limit_minor) return decline(l.decline_reason);
      }
    }
    if (c.floor_minor && c.balance_minor - m.amount_minor < *c.floor_minor) {
      return decline("insufficient_funds");
    }
  } else if (c.balance_minor + m.amount_minor > kMaxBalanceMinor) {
    return InvalidArgument("balance_limit", "balance would exceed the maximum balance");
  }
  const int64_t signed_amount = m.debit_customer ? -m.amount_minor : m.amount_minor;
  TxnRecord t;
  t.kind = m.kind;
  t.idempotency_key = m.idempotency_key;
  t.ref_txn_id = m.ref_txn_id;
  t.account_id = c.id;
  t.counterparty_id = cp.id;
  t.amount_minor = m.amount_minor;
  t.currency = m.currency;
  t.memo = m.memo;
  t.created_at_ms = now_ms;
  t.entries = {{c.id, signed_amount}, {cp.id, -signed_amount}};
  FACEPAY_ASSIGN_OR_RETURN(int64_t id, txn.PostTransaction(t));
  if (m.debit_customer) {
    for (const auto& l : limits) {
      FACEPAY_RETURN_IF_ERROR(txn.AddCounter(c.id, l.counter, day, m.amount_minor));
    }
  }
  r.balance_minor = c.balance_minor + signed_amount;
  r.receipt = Receipt{id,
                      std::string(TxnKindName(m.kind)),
                      c.id,
                      cp.id,
                      m.amount_minor,
                      m.currency,
                      r.balance_minor,
                      m.ref_txn_id,
                      m.memo,
                      now_ms};
  return r;
}

StatusOr<nlohmann::json> RunIdempotent(LedgerTxn& txn, const std::string& key,
                                       const std::string& fingerprint, int64_t now_ms,
                                       const std::function<StatusOr<nlohmann::json>()>& body) {
  FACEPAY_ASSIGN_OR_RETURN(auto existing, txn.GetIdempotency(key));
  if (existing) {
    if (existing->fingerprint != fingerprint) {
      return FailedPrecondition(
          "idempotency_key_reused",
          "idempotency key '" + key + "' was already used with different parameters");
    }
    nlohmann::json j = nlohmann::json::parse(existing->result_json, nullptr, false);
    if (!j.is_object()) return DataLoss("bad_idempotency_record", "stored result is not JSON");
    j["replayed"] = true;
    return j;
  }
  FACEPAY_ASSIGN_OR_RETURN(nlohmann::json j, body());
  j["replayed"] = false;
  FACEPAY_RETURN_IF_ERROR(txn.PutIdempotency({key, fingerprint, j.dump(), now_ms}));
  return j;
}

}  // namespace facepay::payments
