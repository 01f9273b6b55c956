#include "facepay/flows/liveness_challenge_flow.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "facepay/biometrics/enrollment.h"
#include "facepay/flows/cameras.h"
#include "facepay/flows/challenge.h"
#include "facepay/vision/image_decode.h"
#include "facepay/vision/liveness.h"

namespace facepay::flows {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string PassedIdOf(const std::string& id) { return id + ".passed"; }
std::string SealAd(const std::string& id) {
  std::string ad = "liveness_challenge:";
  return ad += id;
}

std::string ToHex(const std::string& bin) {
  std::string hex(bin.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(bin.data()),
                 bin.size());
  hex.pop_back();
  return hex;
}

StatusOr<std::string> FromHex(const std::string& hex) {
  std::string bin(hex.size() / 2, '\0');
  size_t len = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(bin.data()), bin.size(), hex.data(),
                     hex.size(), nullptr, &len, nullptr) != 0 ||
      len != bin.size()) {
    return DataLoss("template_tampered", "a challenge's sealed face is not hex");
  }
  return bin;
}

// The stored challenge when it belongs to this kiosk and key; challenge_not_found otherwise,
// so that another key learns nothing of it.
StatusOr<Challenge> Own(FlowStore& store, const Caller& who, const std::string& id,
                        ChallengeKind kind) {
  const Status not_found = NotFound("challenge_not_found", "no such challenge for this kiosk");
  FACEPAY_ASSIGN_OR_RETURN(auto c, store.GetChallenge(id));
  if (!c || ParseChallengeKind(c->kind) != kind) return not_found;
  const json p = json::parse(c->payload_json, nullptr, false);
  if (!p.is_object() || p.value("key", "") != who.actor) return not_found;
  if (kind == ChallengeKind::kLiveness && c->terminal != who.terminal) return not_found;
  return *c;
}

}  // namespace

std::vector<vision::ChallengeAction> RandomChallengeOrder::Draw(int steps) const {
  uint64_t seed = 0;
  randombytes_buf(&seed, sizeof seed);
  return vision::ActiveChallenge::Random(seed, steps, {}).order();
}

StatusOr<std::vector<vision::ChallengeAction>> ParseChallengeOrder(const std::string& text) {
  std::vector<vision::ChallengeAction> order;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    vision::ChallengeAction a;
    if (!vision::ParseChallengeAction(text.substr(start, end - start), &a) || order.size() >= 8) {
      return InvalidArgument("invalid_challenge_order",
                             "a challenge order is 1..8 of blink, turn_left, turn_right, smile, "
                             "comma-separated");
    }
    order.push_back(a);
    start = end + 1;
  }
  return order;
}

json ChallengeActionsJson(const std::vector<vision::ChallengeAction>& actions) {
  json a = json::array();
  for (auto x : actions) a.push_back(vision::ChallengeActionName(x));
  return a;
}

const char* ChallengeResultName(ChallengeResult r) {
  return r == ChallengeResult::kPassed ? "passed" : "failed";
}

std::vector<vision::ChallengeAction> DrawChallengeOrder(const FlowDeps& deps) {
  static const RandomChallengeOrder kRandom;
  const ChallengeOrderSource& source =
      deps.challenge_order != nullptr ? *deps.challenge_order : kRandom;
  return source.Draw(kChallengeSteps);
}

std::vector<vision::ChallengeAction> ChallengeActionsFrom(const json& names) {
  std::vector<vision::ChallengeAction> out;
  if (!names.is_array()) return out;
  for (const auto& name : names) {
    vision::ChallengeAction a;
    if (name.is_string() && vision::ParseChallengeAction(name.get<std::string>(), &a)) {
      out.push_back(a);
    }
  }
  return out;
}

std::optional<float> MedianLogit(const std::vector<float>& p_live) {
  if (p_live.empty()) return std::nullopt;
  std::vector<float> logits;
  for (float q : p_live) logits.push_back(vision::Logit(q));
  std::nth_element(logits.begin(), logits.begin() + static_cast<long>(logits.size() / 2), logits.end());
  return logits[logits.size() / 2];
}

Status CheckChallengeResponse(const ChallengeResponse& r) {
  if (r.frames.empty()) return InvalidArgument("missing_frames", "send the response's 'frames'");
  if (static_cast<int>(r.frames.size()) > kMaxChallengeFrames) {
    return InvalidArgument("too_many_frames", "a response has at most " +
                                                  std::to_string(kMaxChallengeFrames) + " frames");
  }
  if (!std::isfinite(r.frame_interval_ms) || r.frame_interval_ms < 20 ||
      r.frame_interval_ms > 1000) {
    return InvalidArgument("invalid_frame_interval_ms", "frame_interval_ms must be 20..1000");
  }
  return Status::Ok();
}

StatusOr<JudgedResponse> JudgeChallengeResponse(const FlowDeps& deps,
                                                const std::vector<vision::ChallengeAction>& actions,
                                                const ChallengeResponse& r, bool embed) {
  JudgedResponse j;
  ChallengeOutcome& out = j.outcome;
  out.actions = actions;
  vision::ActiveChallenge judge(out.actions, {});
  vision::AnalyzeOptions ao;
  ao.single_subject = true;
  ao.embed = false;  // liveness on: the CNN scores feed the camera's calibration
  float best_q = -1;
  cv::Mat best;  // the best-quality frame, kept to embed once the response has passed
  bool multiple = false;
  for (size_t i = 0; i < r.frames.size(); ++i) {
    FACEPAY_ASSIGN_OR_RETURN(cv::Mat img,
                             vision::DecodeImage(r.frames[i], deps.pipeline->options().decode));
    FACEPAY_ASSIGN_OR_RETURN(auto a, deps.pipeline->Analyze(img, ao));
    ++out.frames;
    vision::FrameCue cue;
    cue.t_ms = r.frame_interval_ms * static_cast<double>(i);
    if (a.status == vision::FaceStatus::kMultipleFaces) multiple = true;
    if (a.status == vision::FaceStatus::kOk && !a.faces.empty()) {
      ++out.face_frames;
      cue = vision::MakeFrameCue(img, a.faces[0], cue.t_ms);
      out.cnn_p_live.push_back(cue.cnn_p_live);
      const float q = biometrics::QualityScore(a.faces[0].quality);
      if (q > best_q) {
        best_q = q;
        best = img;
      }
    }
    judge.Observe(cue);
  }
  out.completed = judge.completed();
  if (multiple) {
    out.failure = "multiple_faces";
  } else if (judge.state() == vision::ChallengeState::kPassed) {
    out.result = ChallengeResult::kPassed;
  } else {
    out.failure = judge.failure().empty() ? "incomplete" : judge.failure();
  }
  if (out.result == ChallengeResult::kPassed && embed) {
    // The face that passed: the best-quality frame's, embedded now.
    vision::AnalyzeOptions eo;
    eo.single_subject = true;
    eo.liveness = false;
    FACEPAY_ASSIGN_OR_RETURN(auto a, deps.pipeline->Analyze(best, eo));
    if (a.status != vision::FaceStatus::kOk || a.faces.empty() || a.faces[0].embedding.empty()) {
      return Internal("challenge_face_lost", "the best frame of a passed response has no face");
    }
    j.face = a.faces[0].embedding;
  }
  return j;
}

json ChallengeOutcomeJson(const ChallengeOutcome& o) {
  json j = {{"result", ChallengeResultName(o.result)}, {"failure", o.failure},
            {"actions", ChallengeActionsJson(o.actions)}, {"completed", o.completed},
            {"frames", o.frames}, {"face_frames", o.face_frames}};
  if (auto m = MedianLogit(o.cnn_p_live)) j["cnn_raw_logit"] = *m;
  return j;
}

StatusOr<IssuedLivenessChallenge> LivenessChallengeFlow::Issue(const Caller& who) const {
  const int64_t now_ms = deps_.clock->NowMs();
  const vision::ChallengeConfig config;
  IssuedLivenessChallenge out;
  out.id = NewChallengeId();
  out.actions = DrawChallengeOrder(deps_);
  out.expires_at_ms = now_ms + deps_.options.challenge_ttl_ms;
  out.step_timeout_ms = config.step_timeout_ms;
  out.baseline_frames = config.baseline_frames;
  Challenge c;
  c.id = out.id;
  c.kind = ChallengeKindName(ChallengeKind::kLiveness);
  c.terminal = who.terminal;
  c.expires_at_ms = out.expires_at_ms;
  c.attempts_left = 1;
  c.payload_json = json{{"key", who.actor}, {"actions", ChallengeActionsJson(out.actions)}}.dump();
  FACEPAY_RETURN_IF_ERROR(deps_.store->PutChallenge(c));
  deps_.audit->Audit(who, now_ms, "liveness_challenge", out.id, "issued",
                     {{"actions", ChallengeActionsJson(out.actions)}});
  return out;
}

StatusOr<ChallengeOutcome> LivenessChallengeFlow::Respond(const Caller& who,
                                                          const ChallengeResponse& r) const {
  FACEPAY_RETURN_IF_ERROR(CheckChallengeResponse(r));
  const int64_t now_ms = deps_.clock->NowMs();
  // Checked before the challenge is spent: another key cannot burn it.
  FACEPAY_RETURN_IF_ERROR(Own(*deps_.store, who, r.challenge_id, ChallengeKind::kLiveness).status());
  FACEPAY_ASSIGN_OR_RETURN(Challenge c, deps_.store->TakeChallengeAttempt(r.challenge_id, now_ms, true));
  const json p = json::parse(c.payload_json, nullptr, false);
  FACEPAY_ASSIGN_OR_RETURN(
      JudgedResponse j,
      JudgeChallengeResponse(deps_, ChallengeActionsFrom(p.value("actions", json::array())), r,
                             r.for_enrolment));
  const ChallengeOutcome& out = j.outcome;
  json detail = {{"actions", ChallengeActionsJson(out.actions)}, {"completed", out.completed},
                 {"frames", out.frames},               {"face_frames", out.face_frames},
                 {"failure", out.failure}};
  if (out.result == ChallengeResult::kPassed && r.for_enrolment) {
    // The face to hold the enrolment to.
    const vision::Embedding& e = j.face;
    const std::string raw(reinterpret_cast<const char*>(e.data()), e.size() * sizeof(float));
    Challenge passed;
    passed.id = PassedIdOf(c.id);
    passed.kind = ChallengeKindName(ChallengeKind::kLivenessPassed);
    passed.terminal = c.terminal;
    passed.expires_at_ms = c.expires_at_ms;
    passed.attempts_left = 1;
    passed.payload_json =
        json{{"key", who.actor}, {"face", ToHex(deps_.template_key->Seal(raw, SealAd(c.id)))}}.dump();
    FACEPAY_RETURN_IF_ERROR(deps_.store->PutChallenge(passed));
  }
  deps_.audit->Audit(who, now_ms, "liveness_challenge", c.id, ChallengeResultName(out.result),
                     std::move(detail));
  if (out.result == ChallengeResult::kPassed && r.for_enrolment && deps_.cameras != nullptr) {
    if (auto m = MedianLogit(out.cnn_p_live)) {
      FACEPAY_RETURN_IF_ERROR(deps_.cameras->Confirmed(who, "kiosk:" + c.terminal, *m));
    }
  }
  return std::move(j.outcome);
}

StatusOr<vision::Embedding> LivenessChallengeFlow::TakePassed(const Caller& who,
                                                              const std::string& id) const {
  const int64_t now_ms = deps_.clock->NowMs();
  // Any kiosk of the key: the enrolment route names no kiosk, and the key is the kiosk's own.
  auto issued = Own(*deps_.store, {who.actor, ""}, PassedIdOf(id), ChallengeKind::kLivenessPassed);
  if (!issued.ok()) {
    // Not passed: say why when the challenge itself is this key's.
    auto own = deps_.store->GetChallenge(id);
    if (own.ok() && *own && ParseChallengeKind((*own)->kind) == ChallengeKind::kLiveness &&
        json::parse((*own)->payload_json, nullptr, false).value("key", "") == who.actor) {
      if ((*own)->expires_at_ms <= now_ms) {
        return FailedPrecondition("challenge_expired", "the movement check expired: do it again");
      }
      return FailedPrecondition("challenge_not_passed", "the movement check was not passed");
    }
    return issued.status();
  }
  FACEPAY_ASSIGN_OR_RETURN(Challenge c, deps_.store->TakeChallengeAttempt(PassedIdOf(id), now_ms, true));
  const json p = json::parse(c.payload_json, nullptr, false);
  FACEPAY_ASSIGN_OR_RETURN(std::string sealed, FromHex(p.value("face", "")));
  FACEPAY_ASSIGN_OR_RETURN(std::string raw, deps_.template_key->Open(sealed, SealAd(id)));
  if (raw.empty() || raw.size() % sizeof(float) != 0) {
    return DataLoss("template_tampered", "a challenge's sealed face has the wrong size");
  }
  vision::Embedding e(raw.size() / sizeof(float));
  std::memcpy(e.data(), raw.data(), raw.size());
  return e;
}

}  // namespace facepay::flows
