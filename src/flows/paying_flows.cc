// The paying flows' entry points: passage, till payment, refund.
#include "facepay/flows/passage_flow.h"
#include "facepay/flows/refund_flow.h"
#include "facepay/flows/till_payment_flow.h"

namespace facepay::flows {

StatusOr<PaidIdentification> PassageFlow::Run(const Caller& who, const PassageRequest& r) const {
  const GateConfig& g = deps_.terminals->gates.at(r.gate);
  PayingRequest pr;
  pr.flow = PayingFlow::kPassage;
  pr.terminal = r.gate;
  pr.event_id = r.event_id;
  return IdentifyAndSettle(deps_, who, pr, r.sighting, "gate:" + g.id);
}

StatusOr<PaidIdentification> TillPaymentFlow::Run(const Caller& who,
                                                  const TillPaymentRequest& r) const {
  PayingRequest pr;
  pr.flow = PayingFlow::kPayment;
  pr.terminal = r.till;
  pr.order_id = r.order_id;
  pr.amount_minor = r.amount_minor;
  pr.currency = r.currency;
  return IdentifyAndSettle(deps_, who, pr, r.sighting, "till:" + r.till);
}

StatusOr<payments::ChargeResult> RefundFlow::Run(const Caller& who, const RefundRequest& r) const {
  payments::Retail retail(*deps_.ledger, deps_.terminals->tills.at(r.till).merchant_account);
  FACEPAY_ASSIGN_OR_RETURN(auto res, retail.Refund(r.refund_id, r.txn_id, r.amount_minor));
  deps_.audit->Audit(who, deps_.clock->NowMs(), "refund", r.refund_id,
                     res.outcome == payments::Outcome::kApproved ? "approved" : "declined",
                     {{"txn_id", r.txn_id}, {"amount_minor", r.amount_minor}});
  return res;
}

}  // namespace facepay::flows
