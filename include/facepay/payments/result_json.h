// JSON form of results, used for idempotency records (replayed verbatim) and CLI output.
#pragma once

#include <nlohmann/json.hpp>

#include "facepay/payments/ledger_store.h"
#include "facepay/payments/ledger_types.h"

namespace facepay::payments {

nlohmann::json ReceiptToJson(const Receipt& r);
nlohmann::json ChargeResultToJson(const ChargeResult& r);
StatusOr<ChargeResult> ChargeResultFromJson(const std::string& text);
StatusOr<ChargeResult> ChargeResultFromJson(const nlohmann::json& j);
nlohmann::json AccountToJson(const Account& a);
nlohmann::json IntegrityToJson(const IntegrityReport& r);
nlohmann::json TxnToJson(const TxnRecord& t);

}  // namespace facepay::payments
