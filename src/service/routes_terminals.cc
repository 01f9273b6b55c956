// Terminal routes: gate passages, till payments (with step-up), refunds, ATM verification and
// withdrawals, border checks, watchlist enrollment. Each reads the request, runs a flow
// (facepay/flows) and encodes its outcome.
#include "facepay/biometrics/enrollment.h"
#include "facepay/biometrics/secret_hash.h"
#include "facepay/flows/atm_flow.h"
#include "facepay/flows/border_flow.h"
#include "facepay/flows/passage_flow.h"
#include "facepay/flows/refund_flow.h"
#include "facepay/flows/step_up_flow.h"
#include "facepay/flows/till_payment_flow.h"
#include "facepay/payments/result_json.h"
#include "facepay/vision/image_decode.h"
#include "service_impl.h"

namespace facepay::service {
namespace {

using biometrics::Outcome;
using flows::PayingFlow;
using nlohmann::json;

// A completed step-up's answer, kept as sent under ("step_up:{terminal}", challenge id).
class StepUpAnswers final : public flows::CompletedStepUps {
 public:
  StepUpAnswers(const Service::Impl& impl, const Call& c, PayingFlow flow)
      : impl_(impl), c_(c), flow_(flow), scope_("step_up:" + c.terminal) {}
  StatusOr<bool> Kept(const std::string& challenge_id) override {
    FACEPAY_ASSIGN_OR_RETURN(reply, impl_.Replay(scope_, challenge_id, "completed"));
    return reply.has_value();
  }
  void Keep(const std::string& challenge_id, const flows::StepUpOutcome& o) override {
    // kUnsafe: the step-up cannot run twice (its challenge is used), so an answer that cannot
    // be kept is still sent; a retry of a lost answer gets challenge_used.
    reply = *impl_.Remember(scope_, challenge_id, "completed",
                            Reply{200, StepUpJson(o, flow_, challenge_id, c_.SeesScores())},
                            c_.now_ms, Service::Impl::Rerun::kUnsafe);
  }
  std::optional<Reply> reply;  // the kept answer: the one to send

 private:
  const Service::Impl& impl_;
  const Call& c_;
  const PayingFlow flow_;
  const std::string scope_;
};

}  // namespace

void Service::Impl::AddTerminalRoutes() {
  auto step_up = [this](Call& c, PayingFlow flow) -> StatusOr<Reply> {
    FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
    flows::StepUpRequest r{flow, c.terminal, c.Param(2), {}};
    FACEPAY_ASSIGN_OR_RETURN(r.factor.phone_last4, OptionalString(in.fields, "phone_last4", 4));
    FACEPAY_ASSIGN_OR_RETURN(r.factor.pin, OptionalString(in.fields, "pin", 8));
    if (r.factor.phone_last4.empty() == r.factor.pin.empty()) {
      return InvalidArgument("missing_factor", "send exactly one of 'phone_last4' or 'pin'");
    }
    if (!r.factor.phone_last4.empty()) {
      FACEPAY_RETURN_IF_ERROR(biometrics::ValidatePhoneLast4(r.factor.phone_last4));
    }
    if (!r.factor.pin.empty()) FACEPAY_RETURN_IF_ERROR(biometrics::ValidatePin(r.factor.pin));
    StepUpAnswers answers(*this, c, flow);
    FACEPAY_ASSIGN_OR_RETURN(auto out, flows::StepUpFlow(flow_deps).Run(c.Who(), r, answers));
    if (answers.reply) return std::move(*answers.reply);
    return Reply{200, StepUpJson(*out, flow, r.challenge_id, c.SeesScores())};
  };

  // The movements a step-up offered (liveness unsure at a terminal that shows prompts), as the
  // terminal recorded them. A retry with the same frames gets the same answer.
  auto moves = [this](Call& c, PayingFlow flow) -> StatusOr<Reply> {
    flows::StepUpMovesRequest r{flow, c.terminal, c.Param(2), {}};
    if (r.challenge_id.size() > 64) return NotFound("challenge_not_found", "no such challenge at this terminal");
    FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req, flows::kMaxChallengeFrames));
    if (auto it = in.images.find("frames"); it != in.images.end()) r.response.frames = it->second;
    if (in.images.size() > (in.images.contains("frames") ? 1u : 0u)) {
      return InvalidArgument("unexpected_images", "a response sends 'frames' only");
    }
    if (in.fields.contains("frame_interval_ms")) {
      if (!in.fields["frame_interval_ms"].is_number()) {
        return InvalidArgument("invalid_frame_interval_ms", "frame_interval_ms is a number");
      }
      r.response.frame_interval_ms = in.fields["frame_interval_ms"].get<double>();
    }
    r.response.for_enrolment = false;
    auto reply = Idempotent(c, "moves:" + c.terminal, r.challenge_id, in, Rerun::kUnsafe,
                            [&]() -> StatusOr<Reply> {
      StepUpAnswers answers(*this, c, flow);
      FACEPAY_ASSIGN_OR_RETURN(auto out, flows::StepUpFlow(flow_deps).RunMoves(c.Who(), r, answers));
      if (answers.reply) return std::move(*answers.reply);
      return Reply{200, StepUpJson(*out, flow, r.challenge_id, c.SeesScores())};
    });
    // Other frames for movements already answered: one answer per step-up, said as such.
    if (!reply.ok() && reply.status().reason() == "idempotency_key_reused") {
      return FailedPrecondition("challenge_used",
                                "this step-up's movements were already answered; the code still works");
    }
    return reply;
  };

  Register({"POST", "/v1/gates/{gate}/passages", {Role::kGate}, TerminalKind::kGate,
            "A passage: frames (or an edge template) + event_id -> decision + fare; idempotent "
            "on event_id",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              flows::PassageRequest r;
              r.gate = c.terminal;
              FACEPAY_ASSIGN_OR_RETURN(r.event_id, RequiredId(in.fields, "event_id"));
              const GateConfig& g = deps.terminals.gates.at(c.terminal);
              if (in.fields.contains("template")) {
                // A template comes with the gate's own liveness verdict: only gates the
                // operator declared as edge gates may send one, at their own rate.
                if (!g.edge) {
                  return PermissionDenied("not_an_edge_gate",
                                          "gate " + g.id + " is not an edge gate: send camera frames");
                }
                if (!edge_limiter->Allow("edge:" + g.id, g.edge_rate_per_s)) {
                  return ResourceExhausted("rate_limited", "too many template passages at this gate");
                }
              }
              return Idempotent(c, "passage:" + c.terminal, r.event_id, in, Rerun::kSafe,
                                [&]() -> StatusOr<Reply> {
                FACEPAY_ASSIGN_OR_RETURN(r.sighting, SightingOf(in, g.edge));
                FACEPAY_ASSIGN_OR_RETURN(auto out, flows::PassageFlow(flow_deps).Run(c.Who(), r));
                return Reply{200, PaidIdentificationJson(out, PayingFlow::kPassage, c.SeesScores())};
              });
            }});
  Register({"POST", "/v1/gates/{gate}/passages/{challenge}/step-up", {Role::kGate},
            TerminalKind::kGate, "Complete a passage's step-up with phone_last4 or pin",
            [step_up](Call& c) { return step_up(c, PayingFlow::kPassage); }});
  Register({"POST", "/v1/gates/{gate}/passages/{challenge}/movements", {Role::kGate},
            TerminalKind::kGate,
            "Complete a passage's step-up with the movements it offered: `frames` recorded "
            "while the prompts were shown (up to 48) and `frame_interval_ms`; one response",
            [moves](Call& c) { return moves(c, PayingFlow::kPassage); }});
  Register({"POST", "/v1/tills/{till}/payments", {Role::kMerchant}, TerminalKind::kTill,
            "A purchase: amount_minor + order_id + frames -> decision + charge; idempotent on "
            "order_id",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              flows::TillPaymentRequest r;
              r.till = c.terminal;
              FACEPAY_ASSIGN_OR_RETURN(r.order_id, RequiredId(in.fields, "order_id"));
              FACEPAY_ASSIGN_OR_RETURN(r.amount_minor, RequiredAmount(in.fields, "amount_minor"));
              FACEPAY_ASSIGN_OR_RETURN(r.currency, OptionalString(in.fields, "currency", 3));
              if (r.currency.empty()) r.currency = deps.terminals.currency;
              if (r.currency != deps.terminals.currency) {
                return InvalidArgument("currency_mismatch", "this till settles in " +
                                                                deps.terminals.currency);
              }
              return Idempotent(c, "payment:" + c.terminal, r.order_id, in, Rerun::kSafe,
                                [&]() -> StatusOr<Reply> {
                FACEPAY_ASSIGN_OR_RETURN(r.sighting, SightingOf(in, false));
                FACEPAY_ASSIGN_OR_RETURN(auto out, flows::TillPaymentFlow(flow_deps).Run(c.Who(), r));
                return Reply{200, PaidIdentificationJson(out, PayingFlow::kPayment, c.SeesScores())};
              });
            }});
  Register({"POST", "/v1/tills/{till}/payments/{challenge}/step-up", {Role::kMerchant},
            TerminalKind::kTill, "Complete a payment's step-up with phone_last4 or pin",
            [step_up](Call& c) { return step_up(c, PayingFlow::kPayment); }});
  Register({"POST", "/v1/tills/{till}/payments/{challenge}/movements", {Role::kMerchant},
            TerminalKind::kTill,
            "Complete a payment's step-up with the movements it offered (as for a passage)",
            [moves](Call& c) { return moves(c, PayingFlow::kPayment); }});
  Register({"POST", "/v1/tills/{till}/refunds", {Role::kMerchant}, TerminalKind::kTill,
            "Refund (part of) a purchase made at this till's merchant",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              flows::RefundRequest r;
              r.till = c.terminal;
              FACEPAY_ASSIGN_OR_RETURN(r.refund_id, RequiredId(in.fields, "refund_id"));
              if (!in.fields.contains("txn_id") || !in.fields["txn_id"].is_number_integer() ||
                  in.fields["txn_id"].get<int64_t>() <= 0) {
                return InvalidArgument("invalid_txn_id", "'txn_id' must be a positive integer");
              }
              r.txn_id = in.fields["txn_id"].get<int64_t>();
              if (in.fields.contains("amount_minor")) {
                FACEPAY_ASSIGN_OR_RETURN(r.amount_minor, RequiredAmount(in.fields, "amount_minor"));
              }
              FACEPAY_ASSIGN_OR_RETURN(auto res, flows::RefundFlow(flow_deps).Run(c.Who(), r));
              return Reply{200, payments::ChargeResultToJson(res)};
            }});

  Register({"POST", "/v1/atms/{atm}/verify", {Role::kAtm}, TerminalKind::kAtm,
            "1:1: the live face vs the subject of the account the ATM card names -> a "
            "verification id",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              // The card names the account, never the ATM: a terminal key alone cannot ask
              // "is this face account X?" for an X of its choosing.
              FACEPAY_ASSIGN_OR_RETURN(std::string token, OptionalString(in.fields, "atm_card", 128));
              if (token.empty()) {
                return InvalidArgument("card_required",
                                       "send 'atm_card': the token read from the customer's card");
              }
              flows::AtmVerifyRequest r;
              r.atm = c.terminal;
              if (LooksLikeAtmCard(token)) r.card_token_hash = HashKeySecret(token);
              if (in.fields.contains("account_id")) {
                const json& named = in.fields["account_id"];
                r.account_id = named.is_string() ? named.get<std::string>() : "";  // "": no card's
              }
              r.sighting = SightingOf(in, false);
              FACEPAY_ASSIGN_OR_RETURN(auto v, flows::AtmFlow(flow_deps).Verify(c.Who(), r));
              return Reply{200, flows::AtmVerificationJson(v, c.SeesScores())};
            }});
  Register({"POST", "/v1/atms/{atm}/withdrawals", {Role::kAtm}, TerminalKind::kAtm,
            "Withdraw after a verification (verification_id, request_id, amount_minor)",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              flows::WithdrawalRequest r;
              r.atm = c.terminal;
              FACEPAY_ASSIGN_OR_RETURN(r.verification_id, RequiredId(in.fields, "verification_id"));
              FACEPAY_ASSIGN_OR_RETURN(r.request_id, RequiredId(in.fields, "request_id"));
              FACEPAY_ASSIGN_OR_RETURN(r.amount_minor, RequiredAmount(in.fields, "amount_minor"));
              return Idempotent(c, "withdrawal:" + c.terminal, r.request_id, in, Rerun::kUnsafe,
                                [&]() -> StatusOr<Reply> {
                FACEPAY_ASSIGN_OR_RETURN(auto res, flows::AtmFlow(flow_deps).Withdraw(c.Who(), r));
                return Reply{200, payments::ChargeResultToJson(res)};
              });
            }});

  Register({"POST", "/v1/borders/{post}/checks", {Role::kBorder}, TerminalKind::kBorder,
            "Live frames vs the document photo (1:1) + watchlist (1:N) -> crossing record",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              flows::BorderCheckRequest r;
              r.post = c.terminal;
              FACEPAY_ASSIGN_OR_RETURN(r.document_number,
                                       RequiredString(in.fields, "document_number", 32));
              auto photo = in.images.find("document_photo");
              if (photo == in.images.end() || photo->second.size() != 1) {
                return InvalidArgument("missing_document_photo", "send one 'document_photo'");
              }
              r.document_photo = photo->second[0];
              FACEPAY_ASSIGN_OR_RETURN(r.sighting, SightingOf(in, false));
              FACEPAY_ASSIGN_OR_RETURN(auto b, flows::BorderFlow(flow_deps).Check(c.Who(), r));
              return Reply{200, flows::BorderCheckJson(b, c.SeesScores())};
            }});
  Register({"POST", "/v1/watchlist", {Role::kAdmin}, TerminalKind::kNone,
            "Add a person to the border watchlist (id + images)",
            [this](Call& c) -> StatusOr<Reply> {
              if (flow_deps.watchlist == nullptr) {
                return Unavailable("watchlist_disabled", "this server has no watchlist");
              }
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              flows::WatchlistAddRequest r;
              FACEPAY_ASSIGN_OR_RETURN(r.id, RequiredString(in.fields, "id", 64));
              FACEPAY_RETURN_IF_ERROR(biometrics::ValidateSubjectId(r.id));
              FACEPAY_ASSIGN_OR_RETURN(r.display_name, OptionalString(in.fields, "display_name", 128));
              auto it = in.images.find("images");
              if (it != in.images.end()) {
                for (size_t i = 0; i < it->second.size(); ++i) {
                  r.images.push_back({"images[" + std::to_string(i) + "]", it->second[i]});
                }
              }
              if (r.images.empty()) return InvalidArgument("missing_images", "send 1..8 'images'");
              FACEPAY_ASSIGN_OR_RETURN(auto res, flows::BorderFlow(flow_deps).AddToWatchlist(c.Who(), r));
              return Reply{res.status == biometrics::EnrollStatus::kEnrolled ? 201 : 422,
                           biometrics::EnrollResultToJson(res)};
            }});
}

}  // namespace facepay::service
