#include "facepay/payments/transit.h"

#include <memory>

#include "facepay/payments/money.h"
#include "movement.h"

namespace facepay::payments {

nlohmann::json TapToJson(const TapResult& r) {
  return {{"open_gate", r.open_gate},
          {"kind", r.kind == FareKind::kCharge     ? "charge"
                   : r.kind == FareKind::kNoCharge ? "no_charge"
                                                   : "passback"},
          {"reason", r.reason},
          {"fare_minor", r.fare_minor},
          {"full_fare_minor", r.full_fare_minor},
          {"declined", r.declined},
          {"txn_id", r.txn_id},
          {"balance_minor", r.balance_minor}};
}

namespace {

TapResult TapFromJson(const nlohmann::json& j) {
  TapResult r;
  r.open_gate = j.at("open_gate").get<bool>();
  const std::string k = j.at("kind").get<std::string>();
  r.kind = k == "charge"      ? FareKind::kCharge
           : k == "no_charge" ? FareKind::kNoCharge
                              : FareKind::kPassback;
  r.reason = j.at("reason").get<std::string>();
  r.fare_minor = j.at("fare_minor").get<int64_t>();
  r.full_fare_minor = j.at("full_fare_minor").get<int64_t>();
  r.declined = j.at("declined").get<bool>();
  r.txn_id = j.at("txn_id").get<int64_t>();
  r.balance_minor = j.at("balance_minor").get<int64_t>();
  r.replayed = j.value("replayed", false);
  return r;
}

}  // namespace

StatusOr<TapResult> TransitService::Tap(const TapRequest& req) {
  FACEPAY_RETURN_IF_ERROR(ValidateIdempotencyKey(req.event_id));
  FACEPAY_RETURN_IF_ERROR(ValidateId(req.account_id, "account id"));
  FACEPAY_RETURN_IF_ERROR(ValidateId(req.gate_id, "gate id"));
  FACEPAY_RETURN_IF_ERROR(ValidateId(req.gate_group, "gate group"));
  if (config_.distance_based || !req.station.empty()) {
    FACEPAY_RETURN_IF_ERROR(ValidateId(req.station, "station"));
  }
  const int64_t now_ms = ledger_.clock().NowMs();
  const std::string fp = "tap|" + config_.operator_id + "|" + req.account_id + "|" + req.gate_id +
                         "|" + req.gate_group + "|" + req.station + "|" +
                         (req.direction == TapDirection::kEntry ? "in" : "out");
  auto out = std::make_shared<TapResult>();
  const FareConfig& c = config_;
  Status s = ledger_.store().Execute(
      [&, out](LedgerTxn& txn) -> Status {
        FACEPAY_ASSIGN_OR_RETURN(
            nlohmann::json j,
            RunIdempotent(txn, req.event_id, fp, now_ms, [&]() -> StatusOr<nlohmann::json> {
              FACEPAY_ASSIGN_OR_RETURN(Account acct, txn.LockAccount(req.account_id));
              FACEPAY_ASSIGN_OR_RETURN(std::string raw, txn.GetFareState(acct.id, c.operator_id));
              FACEPAY_ASSIGN_OR_RETURN(FareState state, FareStateFromJson(raw));
              payments::Tap tap{req.gate_id, req.gate_group, req.station, req.direction,
                               req.at_ms > 0 ? req.at_ms : now_ms};
              FACEPAY_ASSIGN_OR_RETURN(FareDecision d,
                                       EvaluateFare(c, acct.concession, state, tap));
              TapResult r;
              r.kind = d.kind;
              r.reason = d.reason;
              r.full_fare_minor = d.full_fare_minor;
              r.balance_minor = acct.balance_minor;
              r.open_gate = d.kind != FareKind::kPassback;
              if (d.kind == FareKind::kCharge) {
                Movement m;
                m.kind = TxnKind::kFare;
                m.idempotency_key = req.event_id;
                m.customer_id = acct.id;
                m.counterparty_id = c.revenue_account;
                m.amount_minor = d.amount_minor;
                m.currency = c.currency;
                m.memo = req.gate_id + " " + d.reason;
                m.counterparty_kinds = {AccountKind::kRevenue};
                FACEPAY_ASSIGN_OR_RETURN(ChargeResult cr, ApplyMovement(txn, m, now_ms));
                r.balance_minor = cr.balance_minor;
                if (cr.outcome == Outcome::kDeclined) {
                  r.declined = true;
                  r.open_gate = false;
                  r.reason = cr.decline_reason;
                  return TapToJson(r);  // fare state unchanged: the rider did not travel
                }
                r.fare_minor = d.amount_minor;
                r.txn_id = cr.receipt->txn_id;
              }
              if (d.kind != FareKind::kPassback) {
                FACEPAY_RETURN_IF_ERROR(
                    txn.PutFareState(acct.id, c.operator_id, FareStateToJson(d.new_state)));
              }
              return TapToJson(r);
            }));
        try {
          *out = TapFromJson(j);
        } catch (const nlohmann::json::exception& e) {
          return DataLoss("bad_idempotency_record", e.what());
        }
        return Status::Ok();
      },
      req.account_id);
  if (!s.ok()) return s;
  return *out;
}

}  // namespace facepay::payments
