// A till payment (1:N): the customer's face -> decision -> charge to the till's merchant
// (accept) or a step-up challenge. The charge is idempotent on the order id. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "facepay/flows/paying.h"

namespace facepay::flows {

struct TillPaymentRequest {
  std::string till;  // a configured till
  std::string order_id;
  int64_t amount_minor = 0;
  std::string currency;  // the deployment's currency (checked by the caller)
  Sighting sighting;     // camera frames
};

class TillPaymentFlow {
 public:
  explicit TillPaymentFlow(const FlowDeps& deps) : deps_(deps) {}
  StatusOr<PaidIdentification> Run(const Caller& who, const TillPaymentRequest& r) const;

 private:
  const FlowDeps& deps_;
};

}  // namespace facepay::flows
