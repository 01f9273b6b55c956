#include "facepay/payments/result_json.h"

namespace facepay::payments {

using nlohmann::json;

json ReceiptToJson(const Receipt& r) {
  return json{{"txn_id", r.txn_id},
              {"kind", r.kind},
              {"account_id", r.account_id},
              {"counterparty_id", r.counterparty_id},
              {"amount_minor", r.amount_minor},
              {"currency", r.currency},
              {"balance_after_minor", r.balance_after_minor},
              {"ref_txn_id", r.ref_txn_id},
              {"memo", r.memo},
              {"created_at_ms", r.created_at_ms}};
}

json ChargeResultToJson(const ChargeResult& r) {
  json j{{"outcome", r.outcome == Outcome::kApproved ? "approved" : "declined"},
         {"replayed", r.replayed},
         {"balance_minor", r.balance_minor}};
  if (!r.decline_reason.empty()) j["decline_reason"] = r.decline_reason;
  if (r.receipt) j["receipt"] = ReceiptToJson(*r.receipt);
  return j;
}

StatusOr<ChargeResult> ChargeResultFromJson(const std::string& text) {
  return ChargeResultFromJson(json::parse(text, nullptr, /*allow_exceptions=*/false));
}

StatusOr<ChargeResult> ChargeResultFromJson(const json& j) {
  if (!j.is_object()) return DataLoss("bad_idempotency_record", "stored result is not JSON");
  try {
    ChargeResult r;
    r.outcome =
        j.at("outcome").get<std::string>() == "approved" ? Outcome::kApproved : Outcome::kDeclined;
    r.balance_minor = j.at("balance_minor").get<int64_t>();
    r.decline_reason = j.value("decline_reason", "");
    r.replayed = j.value("replayed", false);
    if (j.contains("receipt")) {
      const json& k = j["receipt"];
      Receipt rc;
      rc.txn_id = k.at("txn_id").get<int64_t>();
      rc.kind = k.at("kind").get<std::string>();
      rc.account_id = k.at("account_id").get<std::string>();
      rc.counterparty_id = k.at("counterparty_id").get<std::string>();
      rc.amount_minor = k.at("amount_minor").get<int64_t>();
      rc.currency = k.at("currency").get<std::string>();
      rc.balance_after_minor = k.at("balance_after_minor").get<int64_t>();
      rc.ref_txn_id = k.at("ref_txn_id").get<int64_t>();
      rc.memo = k.at("memo").get<std::string>();
      rc.created_at_ms = k.at("created_at_ms").get<int64_t>();
      r.receipt = rc;
    }
    return r;
  } catch (const json::exception& e) {
    return DataLoss("bad_idempotency_record", e.what());
  }
}

json AccountToJson(const Account& a) {
  json j{{"id", a.id},
         {"kind", AccountKindName(a.kind)},
         {"currency", a.currency},
         {"balance_minor", a.balance_minor},
         {"daily_limit_minor", a.daily_limit_minor},
         {"created_at_ms", a.created_at_ms}};
  j["floor_minor"] = a.floor_minor ? json(*a.floor_minor) : json(nullptr);
  if (!a.concession.empty()) j["concession"] = a.concession;
  if (a.kind == AccountKind::kCard) {
    j["card"] = {{"last4", a.card_last4}, {"brand", a.card_brand}};  // never the token
  }
  if (a.auto_topup_minor > 0) {
    j["auto_topup"] = {{"amount_minor", a.auto_topup_minor},
                       {"threshold_minor", a.auto_topup_threshold_minor}};
  }
  return j;
}

json IntegrityToJson(const IntegrityReport& r) {
  return json{{"ok", r.ok()},
              {"accounts", r.accounts},
              {"transactions", r.transactions},
              {"entries", r.entries},
              {"unbalanced_txns", r.unbalanced_txns},
              {"mismatched_accounts", r.mismatched_accounts},
              {"below_floor_accounts", r.below_floor_accounts},
              {"over_refunded_txns", r.over_refunded_txns},
              {"duplicate_keys", r.duplicate_keys}};
}

json TxnToJson(const TxnRecord& t) {
  json entries = json::array();
  for (const auto& e : t.entries)
    entries.push_back({{"account_id", e.account_id}, {"amount_minor", e.amount_minor}});
  return json{{"id", t.id},
              {"kind", TxnKindName(t.kind)},
              {"idempotency_key", t.idempotency_key},
              {"ref_txn_id", t.ref_txn_id},
              {"account_id", t.account_id},
              {"counterparty_id", t.counterparty_id},
              {"amount_minor", t.amount_minor},
              {"currency", t.currency},
              {"memo", t.memo},
              {"created_at_ms", t.created_at_ms},
              {"entries", entries}};
}

}  // namespace facepay::payments
