// A refund of (part of) a purchase made at a till's merchant, idempotent on the refund id;
// audited. A refund the ledger declines is an outcome, not an error. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "facepay/flows/flow_deps.h"

namespace facepay::flows {

struct RefundRequest {
  std::string till;  // a configured till: refunds come from its merchant account
  std::string refund_id;
  int64_t txn_id = 0;        // the purchase
  int64_t amount_minor = 0;  // 0 = what is left of the purchase
};

class RefundFlow {
 public:
  explicit RefundFlow(const FlowDeps& deps) : deps_(deps) {}
  // FailedPrecondition("not_merchants_purchase") and the ledger's errors.
  StatusOr<payments::ChargeResult> Run(const Caller& who, const RefundRequest& r) const;

 private:
  const FlowDeps& deps_;
};

}  // namespace facepay::flows
