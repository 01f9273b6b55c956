// Terminal flows: gate passages, till payments (with step-up), refunds, ATM verification and
// withdrawals, border checks, watchlist enrollment.
#include <random>

#include <sodium.h>

#include "facepay/biometrics/enrollment.h"
#include "facepay/biometrics/secret_hash.h"
#include "facepay/payments/result_json.h"
#include "facepay/vision/image_decode.h"
#include "factor_budget.h"
#include "service_impl.h"

namespace facepay::service {
namespace {

using biometrics::Outcome;
using nlohmann::json;

std::string NewChallengeId() {
  unsigned char b[16];
  randombytes_buf(b, sizeof b);
  char hex[33];
  sodium_bin2hex(hex, sizeof hex, b, sizeof b);
  return std::string("ch_") + hex;
}

json CandidatesJson(const std::vector<biometrics::Candidate>& c) {
  json a = json::array();
  for (const auto& x : c) a.push_back({{"subject_id", x.subject_id}, {"score", x.score}});
  return a;
}

std::vector<biometrics::Candidate> CandidatesFrom(const json& a) {
  std::vector<biometrics::Candidate> out;
  for (const auto& x : a) out.push_back({x.at("subject_id").get<std::string>(), x.at("score").get<float>()});
  return out;
}

double Ms(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

void Service::Impl::AddTerminalRoutes() {
  // What an accepted subject's money movement is, per terminal kind.
  using Settle = std::function<StatusOr<json>(const Call&, const std::string& subject,
                                              const json& request)>;
  auto settle_gate = std::make_shared<Settle>(
      [this](const Call& c, const std::string& subject, const json& r) -> StatusOr<json> {
        FACEPAY_ASSIGN_OR_RETURN(auto account, deps.store->AccountOfSubject(subject));
        if (!account) return json{{"open_gate", false}, {"reason", "no_linked_account"}};
        const GateConfig& g = deps.terminals.gates.at(c.terminal);
        payments::TapRequest tap;
        tap.event_id = "gate:" + g.id + ":" + r.at("event_id").get<std::string>();
        tap.account_id = *account;
        tap.gate_id = g.id;
        tap.gate_group = g.gate_group;
        tap.station = g.station;
        tap.direction = g.direction;
        FACEPAY_ASSIGN_OR_RETURN(auto res, transit->Tap(tap));
        return payments::TapToJson(res);
      });
  auto settle_till = std::make_shared<Settle>(
      [this](const Call& c, const std::string& subject, const json& r) -> StatusOr<json> {
        FACEPAY_ASSIGN_OR_RETURN(auto account, deps.store->AccountOfSubject(subject));
        if (!account) return json{{"outcome", "declined"}, {"decline_reason", "no_linked_account"}};
        payments::Retail retail(*deps.ledger, deps.terminals.tills.at(c.terminal).merchant_account);
        FACEPAY_ASSIGN_OR_RETURN(
            auto res, retail.Purchase(r.at("order_id").get<std::string>(), *account,
                                      r.at("amount_minor").get<int64_t>(),
                                      r.at("currency").get<std::string>()));
        return payments::ChargeResultToJson(res);
      });

  // The shared shape of a paying identification: replay, probe, decide, settle or challenge.
  auto identify_and_settle = [this](Call& c, const Input& in, const std::string& scope,
                                    const std::string& key, json request, float cnn_offset,
                                    bool allow_template, const std::string& flow,
                                    std::shared_ptr<Settle> settle) -> StatusOr<Reply> {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string fp = Fingerprint(in.fields, in);
    FACEPAY_ASSIGN_OR_RETURN(auto replay, Replay(scope, key, fp));
    if (replay) return std::move(*replay);
    FACEPAY_ASSIGN_OR_RETURN(Probe probe, ProbeOf(in, cnn_offset, allow_template));
    FACEPAY_ASSIGN_OR_RETURN(Identification id, Identify(std::move(probe)));
    json body = {{"decision", DecisionJson(id.decision, c.SeesScores())},
                 {"probe", id.probe.ToJson(c.SeesScores())}};
    json timings = IdentificationTimings(id);
    json audit = {{"key", key},
                  {"decision", DecisionJson(id.decision)},
                  {"top", CandidatesJson(std::vector<biometrics::Candidate>(
                              id.top.begin(), id.top.begin() + std::min<size_t>(3, id.top.size())))},
                  {"probe", id.probe.ToJson()}};
    if (id.decision.outcome == Outcome::kAccept) {
      const auto ts = std::chrono::steady_clock::now();
      FACEPAY_ASSIGN_OR_RETURN(json settled, (*settle)(c, id.decision.subject_id, request));
      timings["settle"] = Ms(ts);
      body["settlement"] = settled;
      audit["settlement"] = settled;
    } else if (id.decision.outcome == Outcome::kStepUp) {
      Challenge ch;
      ch.id = NewChallengeId();
      ch.kind = "step_up:" + flow;
      ch.terminal = c.terminal;
      ch.expires_at_ms = c.now_ms + options.challenge_ttl_ms;
      ch.attempts_left = 3;
      ch.payload_json = json{{"candidates", CandidatesJson(id.top)}, {"request", request}}.dump();
      FACEPAY_RETURN_IF_ERROR(deps.store->PutChallenge(ch));
      body["challenge"] = {{"id", ch.id},
                           {"expires_at_ms", ch.expires_at_ms},
                           {"attempts", ch.attempts_left},
                           {"factors", json::array({"phone_last4", "pin"})}};
      audit["challenge"] = ch.id;
    }
    timings["total"] = Ms(t0);
    body["timings_ms"] = timings;
    metrics.CountDecision(flow, biometrics::OutcomeName(id.decision.outcome),
                          biometrics::RejectReasonName(id.decision.reason));
    Audit(c, flow, id.decision.subject_id, biometrics::OutcomeName(id.decision.outcome), audit);
    return Remember(scope, key, fp, Reply{200, body}, c.now_ms);
  };

  auto step_up = [this](Call& c, const std::string& flow,
                        std::shared_ptr<Settle> settle) -> StatusOr<Reply> {
    FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
    FACEPAY_ASSIGN_OR_RETURN(std::string phone, OptionalString(in.fields, "phone_last4", 4));
    FACEPAY_ASSIGN_OR_RETURN(std::string pin, OptionalString(in.fields, "pin", 8));
    if (phone.empty() == pin.empty()) {
      return InvalidArgument("missing_factor", "send exactly one of 'phone_last4' or 'pin'");
    }
    if (!phone.empty()) FACEPAY_RETURN_IF_ERROR(biometrics::ValidatePhoneLast4(phone));
    if (!pin.empty()) FACEPAY_RETURN_IF_ERROR(biometrics::ValidatePin(pin));
    const std::string cid = c.Param(2);
    FACEPAY_ASSIGN_OR_RETURN(auto peek, deps.store->GetChallenge(cid));
    if (!peek || peek->terminal != c.terminal || peek->kind != "step_up:" + flow) {
      return NotFound("challenge_not_found", "no such challenge at this terminal");
    }
    // A completed step-up is answered again as it was: a terminal that lost the answer to a
    // crash or a timeout learns that the payment went through, instead of "challenge_used".
    const std::string done_scope = "step_up:" + c.terminal;
    if (peek->used) {
      FACEPAY_ASSIGN_OR_RETURN(auto done, Replay(done_scope, cid, "completed"));
      if (done) return std::move(*done);
    }
    // Budgets across challenges (factor_budget.h): this key's, then each candidate's. A
    // candidate whose budget is spent cannot be reached by any code until its lockout ends.
    const std::string key_scope = KeyScope(c.Actor());
    FACEPAY_ASSIGN_OR_RETURN(bool key_locked, Locked(key_scope, c.now_ms));
    if (key_locked) {
      return ResourceExhausted("second_factor_locked",
                               "too many wrong codes at this terminal; ask staff for help");
    }
    json peek_payload = json::parse(peek->payload_json, nullptr, false);
    if (peek_payload.is_discarded()) return DataLoss("bad_challenge", "stored challenge is not JSON");
    std::vector<biometrics::Candidate> cands;
    for (const auto& x : CandidatesFrom(peek_payload.at("candidates"))) {
      FACEPAY_ASSIGN_OR_RETURN(bool locked, Locked(SubjectScope(x.subject_id), c.now_ms));
      if (!locked) cands.push_back(x);
    }
    if (cands.empty()) {
      Audit(c, flow + "_step_up", "", "locked", {{"challenge", cid}});
      return ResourceExhausted("second_factor_locked",
                               "too many wrong codes for this person; ask staff for help");
    }
    std::function<bool(const std::string&)> matches = [&](const std::string& subject) {
      auto s = deps.bio_store->GetSubject(subject);
      if (!s.ok() || !*s) return false;  // erased since
      const std::string pepper = deps.template_key->SecondFactorPepper();
      return phone.empty() ? biometrics::VerifySecret((*s)->pin_hash, pin, pepper)
                           : biometrics::VerifySecret((*s)->phone_last4_hash, phone, pepper);
    };
    const biometrics::Decision d = biometrics::DecideWithSecondFactor(
        biometrics::ProbeState::kOk, cands, deps.policy.thresholds, matches);
    // The attempt is taken once the code is checked, atomically: a guess counts, and takes
    // effect, only with an attempt of its own (parallel guesses cannot outrun the limit), and a
    // crash while checking costs the person no attempt.
    FACEPAY_ASSIGN_OR_RETURN(Challenge ch, deps.store->TakeChallengeAttempt(cid, c.now_ms, false));
    const json& request = peek_payload.at("request");
    json body = {{"decision", DecisionJson(d, c.SeesScores())}, {"challenge_id", cid}};
    json audit = {{"challenge", cid}, {"factor", phone.empty() ? "pin" : "phone_last4"},
                  {"decision", DecisionJson(d)}};
    Reply reply{200, {}};
    if (d.outcome == Outcome::kAccept) {
      CountSuccess(c, SubjectScope(d.subject_id));
      // Settle (idempotent on the request's own event id / order id), remember the answer,
      // then close the challenge: a crash anywhere in between is finished by a retry, and
      // never charges twice.
      FACEPAY_ASSIGN_OR_RETURN(json settled, (*settle)(c, d.subject_id, request));
      body["settlement"] = settled;
      audit["settlement"] = settled;
      reply = Remember(done_scope, cid, "completed", Reply{200, body}, c.now_ms);
      FACEPAY_RETURN_IF_ERROR(deps.store->MarkChallengeUsed(cid));
    } else {
      for (const auto& x : cands) CountFailure(c, SubjectScope(x.subject_id), false);
      CountFailure(c, key_scope, true);
      body["attempts_left"] = std::max(0, ch.attempts_left - 1);
      reply.body = body;
    }
    metrics.CountDecision(flow + "_step_up", biometrics::OutcomeName(d.outcome),
                          biometrics::RejectReasonName(d.reason));
    Audit(c, flow + "_step_up", d.subject_id, biometrics::OutcomeName(d.outcome), audit);
    return reply;
  };

  Register({"POST", "/v1/gates/{gate}/passages", {Role::kGate}, TerminalKind::kGate,
            "A passage: frames (or an edge template) + event_id -> decision + fare; idempotent "
            "on event_id",
            [this, identify_and_settle, settle_gate](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              FACEPAY_ASSIGN_OR_RETURN(std::string event, RequiredId(in.fields, "event_id"));
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
              return identify_and_settle(c, in, "passage:" + c.terminal, event,
                                         {{"event_id", event}}, g.cnn_logit_offset, g.edge,
                                         "passage", settle_gate);
            }});
  Register({"POST", "/v1/gates/{gate}/passages/{challenge}/step-up", {Role::kGate},
            TerminalKind::kGate, "Complete a passage's step-up with phone_last4 or pin",
            [step_up, settle_gate](Call& c) { return step_up(c, "passage", settle_gate); }});
  Register({"POST", "/v1/tills/{till}/payments", {Role::kMerchant}, TerminalKind::kTill,
            "A purchase: amount_minor + order_id + frames -> decision + charge; idempotent on "
            "order_id",
            [this, identify_and_settle, settle_till](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              FACEPAY_ASSIGN_OR_RETURN(std::string order, RequiredId(in.fields, "order_id"));
              FACEPAY_ASSIGN_OR_RETURN(int64_t amount, RequiredAmount(in.fields, "amount_minor"));
              FACEPAY_ASSIGN_OR_RETURN(std::string currency, OptionalString(in.fields, "currency", 3));
              if (currency.empty()) currency = deps.terminals.currency;
              if (currency != deps.terminals.currency) {
                return InvalidArgument("currency_mismatch", "this till settles in " +
                                                                deps.terminals.currency);
              }
              return identify_and_settle(
                  c, in, "payment:" + c.terminal, order,
                  {{"order_id", order}, {"amount_minor", amount}, {"currency", currency}}, 0,
                  false, "payment", settle_till);
            }});
  Register({"POST", "/v1/tills/{till}/payments/{challenge}/step-up", {Role::kMerchant},
            TerminalKind::kTill, "Complete a payment's step-up with phone_last4 or pin",
            [step_up, settle_till](Call& c) { return step_up(c, "payment", settle_till); }});
  Register({"POST", "/v1/tills/{till}/refunds", {Role::kMerchant}, TerminalKind::kTill,
            "Refund (part of) a purchase made at this till's merchant",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              FACEPAY_ASSIGN_OR_RETURN(std::string refund_id, RequiredId(in.fields, "refund_id"));
              if (!in.fields.contains("txn_id") || !in.fields["txn_id"].is_number_integer() ||
                  in.fields["txn_id"].get<int64_t>() <= 0) {
                return InvalidArgument("invalid_txn_id", "'txn_id' must be a positive integer");
              }
              int64_t amount = 0;
              if (in.fields.contains("amount_minor")) {
                FACEPAY_ASSIGN_OR_RETURN(amount, RequiredAmount(in.fields, "amount_minor"));
              }
              payments::Retail retail(*deps.ledger,
                                      deps.terminals.tills.at(c.terminal).merchant_account);
              FACEPAY_ASSIGN_OR_RETURN(
                  auto res, retail.Refund(refund_id, in.fields["txn_id"].get<int64_t>(), amount));
              Audit(c, "refund", refund_id,
                    res.outcome == payments::Outcome::kApproved ? "approved" : "declined",
                    {{"txn_id", in.fields["txn_id"]}, {"amount_minor", amount}});
              return Reply{200, payments::ChargeResultToJson(res)};
            }});

  Register({"POST", "/v1/atms/{atm}/verify", {Role::kAtm}, TerminalKind::kAtm,
            "1:1: the live face vs the claimed account's subject -> a verification id",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              FACEPAY_ASSIGN_OR_RETURN(std::string account, RequiredId(in.fields, "account_id"));
              FACEPAY_ASSIGN_OR_RETURN(payments::Account a, deps.ledger->GetAccount(account));
              FACEPAY_ASSIGN_OR_RETURN(auto subject, deps.store->SubjectOfAccount(a.id));
              if (!subject) {
                return NotFound("no_enrolled_subject", "no face is enrolled for this account");
              }
              // 1:1 against a named account is a guess: budgeted per account and per key.
              const std::string account_scope = AccountScope(a.id);
              const std::string key_scope = KeyScope(c.Actor());
              FACEPAY_ASSIGN_OR_RETURN(bool account_locked, Locked(account_scope, c.now_ms));
              FACEPAY_ASSIGN_OR_RETURN(bool key_locked, Locked(key_scope, c.now_ms));
              if (account_locked || key_locked) {
                return ResourceExhausted("verification_locked",
                                         "too many failed face checks; ask the bank for help");
              }
              FACEPAY_ASSIGN_OR_RETURN(Probe probe, ProbeOf(in, 0, false));
              json body = {{"account_id", a.id}, {"probe", probe.ToJson(true)}, {"verified", false}};
              if (probe.state != biometrics::ProbeState::kOk) {
                body["reason"] = biometrics::RejectReasonName(
                    biometrics::Decide(probe.state, {}, deps.policy.thresholds).reason);
              } else {
                FACEPAY_ASSIGN_OR_RETURN(auto score, Verify(*subject, probe.embedding));
                body["score"] = score ? *score : -1.0f;
                body["threshold"] = options.verify_threshold;
                if (score && *score >= options.verify_threshold) {
                  Challenge ch;
                  ch.id = NewChallengeId();
                  ch.kind = "atm_verification";
                  ch.terminal = c.terminal;
                  ch.expires_at_ms = c.now_ms + options.challenge_ttl_ms;
                  ch.attempts_left = 1;
                  ch.payload_json = json{{"account_id", a.id}, {"score", *score}}.dump();
                  FACEPAY_RETURN_IF_ERROR(deps.store->PutChallenge(ch));
                  body["verified"] = true;
                  body["verification_id"] = ch.id;
                  body["expires_at_ms"] = ch.expires_at_ms;
                } else {
                  body["reason"] = "no_match";
                }
              }
              if (body["verified"]) {
                CountSuccess(c, account_scope);
              } else if (body.value("reason", "") == "no_match") {
                CountFailure(c, account_scope, false);
                CountFailure(c, key_scope, true);
              }
              metrics.CountDecision("atm_verify", body["verified"] ? "accept" : "reject",
                                    body.value("reason", ""));
              Audit(c, "atm_verify", a.id, body["verified"] ? "accept" : "reject", body);
              if (!c.SeesScores()) {
                body.erase("score");
                body.erase("threshold");
                body["probe"] = probe.ToJson(false);
              }
              return Reply{200, body};
            }});
  Register({"POST", "/v1/atms/{atm}/withdrawals", {Role::kAtm}, TerminalKind::kAtm,
            "Withdraw after a verification (verification_id, request_id, amount_minor)",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              FACEPAY_ASSIGN_OR_RETURN(std::string vid, RequiredId(in.fields, "verification_id"));
              FACEPAY_ASSIGN_OR_RETURN(std::string rid, RequiredId(in.fields, "request_id"));
              FACEPAY_ASSIGN_OR_RETURN(int64_t amount, RequiredAmount(in.fields, "amount_minor"));
              const std::string scope = "withdrawal:" + c.terminal;
              const std::string fp = Fingerprint(in.fields, in);
              FACEPAY_ASSIGN_OR_RETURN(auto replay, Replay(scope, rid, fp));
              if (replay) return std::move(*replay);
              FACEPAY_ASSIGN_OR_RETURN(auto peek, deps.store->GetChallenge(vid));
              if (!peek || peek->terminal != c.terminal || peek->kind != "atm_verification") {
                return NotFound("verification_not_found", "no such verification at this ATM");
              }
              FACEPAY_ASSIGN_OR_RETURN(Challenge ch,
                                       deps.store->TakeChallengeAttempt(vid, c.now_ms, true));
              json payload = json::parse(ch.payload_json, nullptr, false);
              if (payload.is_discarded()) return DataLoss("bad_challenge", "stored verification is not JSON");
              const std::string account = payload.at("account_id").get<std::string>();
              FACEPAY_ASSIGN_OR_RETURN(payments::Account a, deps.ledger->GetAccount(account));
              payments::Atm atm(*deps.ledger, deps.terminals.atms.at(c.terminal).cash_account, {});
              FACEPAY_ASSIGN_OR_RETURN(
                  auto res, atm.Withdraw("atm:" + c.terminal + ":" + rid, account, amount, a.currency));
              json body = payments::ChargeResultToJson(res);
              Audit(c, "atm_withdrawal", account,
                    res.outcome == payments::Outcome::kApproved ? "approved" : "declined",
                    {{"amount_minor", amount}, {"verification_id", vid}});
              return Remember(scope, rid, fp, Reply{200, body}, c.now_ms);
            }});

  Register({"POST", "/v1/borders/{post}/checks", {Role::kBorder}, TerminalKind::kBorder,
            "Live frames vs the document photo (1:1) + watchlist (1:N) -> crossing record",
            [this](Call& c) -> StatusOr<Reply> {
              const auto t0 = std::chrono::steady_clock::now();
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              FACEPAY_ASSIGN_OR_RETURN(std::string doc, RequiredString(in.fields, "document_number", 32));
              auto photo = in.images.find("document_photo");
              if (photo == in.images.end() || photo->second.size() != 1) {
                return InvalidArgument("missing_document_photo", "send one 'document_photo'");
              }
              FACEPAY_ASSIGN_OR_RETURN(Probe probe, ProbeOf(in, 0, false));
              vision::AnalyzeOptions ao;
              ao.liveness = false;
              // A scanned document may show a ghost image or a background face: the
              // holder's portrait is the central, largest one.
              ao.selection = vision::FaceSelection::kCentral;
              const auto& bytes = photo->second[0];
              FACEPAY_ASSIGN_OR_RETURN(
                  auto da, deps.pipeline->AnalyzeBytes(
                               std::span<const uint8_t>(
                                   reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
                               ao));
              json body = {{"probe", probe.ToJson(true)}};
              std::string decision = "referred";
              std::string reason;
              if (probe.state != biometrics::ProbeState::kOk) {
                reason = biometrics::RejectReasonName(
                    biometrics::Decide(probe.state, {}, deps.policy.thresholds).reason);
                if (probe.state == biometrics::ProbeState::kSpoof) decision = "refused";
              } else if (da.status != vision::FaceStatus::kOk || da.faces.empty()) {
                reason = std::string("document_") + vision::FaceStatusName(da.status);
              } else {
                const float score = vision::CosineSimilarity(probe.embedding, da.faces[0].embedding);
                const bool match = score >= options.verify_threshold;
                body["face_match"] = {{"score", score}, {"threshold", options.verify_threshold},
                                      {"match", match}};
                json hits = json::array();
                if (deps.watchlist != nullptr) {
                  FACEPAY_ASSIGN_OR_RETURN(auto top, deps.watchlist->Search(probe.embedding, 3));
                  for (const auto& h : top) {
                    if (h.score >= options.watchlist_threshold) {
                      hits.push_back({{"subject_id", h.subject_id}, {"score", h.score}});
                    }
                  }
                }
                body["watchlist"] = {{"hits", hits}, {"threshold", options.watchlist_threshold}};
                if (!hits.empty()) {
                  reason = "watchlist_hit";
                } else if (!match) {
                  reason = "face_mismatch";
                } else {
                  decision = "admitted";
                }
              }
              FACEPAY_ASSIGN_OR_RETURN(auto crossing, border_log->Record(doc, c.terminal, decision));
              body["decision"] = decision;
              if (!reason.empty()) body["reason"] = reason;
              body["crossing_id"] = crossing.id;
              body["timings_ms"] = {{"total", Ms(t0)}, {"analyze", probe.analyze_ms}};
              metrics.CountDecision("border", decision, reason);
              json audit = body;
              audit["doc_hash"] = crossing.doc_hash;
              Audit(c, "border_check", crossing.doc_hash, decision, audit);
              if (!c.SeesScores()) {
                body["probe"] = probe.ToJson(false);
                if (body.contains("face_match")) body["face_match"] = {{"match", body["face_match"]["match"]}};
                if (body.contains("watchlist")) {
                  json hits = json::array();
                  for (const auto& h : body["watchlist"]["hits"]) hits.push_back({{"subject_id", h["subject_id"]}});
                  body["watchlist"] = {{"hits", hits}};
                }
              }
              return Reply{200, body};
            }});
  Register({"POST", "/v1/watchlist", {Role::kAdmin}, TerminalKind::kNone,
            "Add a person to the border watchlist (id + images)",
            [this](Call& c) -> StatusOr<Reply> {
              if (deps.watchlist == nullptr) {
                return Unavailable("watchlist_disabled", "this server has no watchlist");
              }
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              biometrics::Subject s;
              FACEPAY_ASSIGN_OR_RETURN(s.id, RequiredString(in.fields, "id", 64));
              FACEPAY_RETURN_IF_ERROR(biometrics::ValidateSubjectId(s.id));
              FACEPAY_ASSIGN_OR_RETURN(s.display_name, OptionalString(in.fields, "display_name", 128));
              s.consent = {"watchlist", c.now_ms, "authority"};
              s.created_at_ms = c.now_ms;
              std::vector<biometrics::NamedImage> images;
              auto it = in.images.find("images");
              if (it != in.images.end()) {
                for (size_t i = 0; i < it->second.size(); ++i) {
                  images.push_back({"images[" + std::to_string(i) + "]", it->second[i]});
                }
              }
              if (images.empty()) return InvalidArgument("missing_images", "send 1..8 'images'");
              biometrics::EnrollOptions eo;
              eo.allow_duplicate = true;
              FACEPAY_ASSIGN_OR_RETURN(auto r, biometrics::EnrollFromBytes(
                                                   *deps.pipeline, *deps.watchlist, s, images, eo,
                                                   c.now_ms));
              json body = biometrics::EnrollResultToJson(r);
              Audit(c, "watchlist_add", s.id, body["status"], {{"templates", r.template_ids.size()}});
              return Reply{r.status == biometrics::EnrollStatus::kEnrolled ? 201 : 422, body};
            }});
}

}  // namespace facepay::service
