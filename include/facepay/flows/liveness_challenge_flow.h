// The active liveness challenge of an enrolment kiosk (docs/liveness.md, "Active challenge"):
// the server draws a random order of actions (blink, turn left/right, smile), bound to the
// kiosk and to the key that asked; the kiosk draws the prompts and records the response; the
// server follows the frames with vision::ActiveChallenge. A replayed video cannot follow an
// order it did not know.
//
// A passed response keeps the face it saw (its best-quality frame's embedding, sealed with the
// template key) for the one enrolment that names the challenge: that enrolment's images must be
// the same person (1:1 at FlowOptions::verify_threshold), so nobody passes the challenge with
// their own face and then enrols a photo of someone else. One response per challenge, one
// enrolment per passed response, both within the challenge's time to live. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "facepay/flows/flow_deps.h"
#include "facepay/vision/active_challenge.h"

namespace facepay::flows {

inline constexpr int kMaxChallengeFrames = 48;  // frames of one response
inline constexpr int kChallengeSteps = 3;       // actions of one challenge

// Where a challenge's order comes from (passed in, so that a test can ask for an order its
// recorded video really performs).
class ChallengeOrderSource {
 public:
  virtual ~ChallengeOrderSource() = default;
  // `steps` actions, no action twice in a row. Thread-safe.
  virtual std::vector<vision::ChallengeAction> Draw(int steps) const = 0;
};

// vision::ActiveChallenge::Random seeded from libsodium's CSPRNG: the production source.
class RandomChallengeOrder final : public ChallengeOrderSource {
 public:
  std::vector<vision::ChallengeAction> Draw(int steps) const override;
};

// Always `order`, whatever `steps`: only for tests and demos that play a recorded video.
class FixedChallengeOrder final : public ChallengeOrderSource {
 public:
  explicit FixedChallengeOrder(std::vector<vision::ChallengeAction> order) : order_(std::move(order)) {}
  std::vector<vision::ChallengeAction> Draw(int) const override { return order_; }

 private:
  std::vector<vision::ChallengeAction> order_;
};

// "blink,turn_left": InvalidArgument("invalid_challenge_order") for an unknown or missing action.
StatusOr<std::vector<vision::ChallengeAction>> ParseChallengeOrder(const std::string& text);

struct IssuedLivenessChallenge {
  std::string id;
  std::vector<vision::ChallengeAction> actions;
  int64_t expires_at_ms = 0;
  double step_timeout_ms = 0;  // each action must be seen within this of the one before
  int baseline_frames = 0;     // the first frames with a face: the neutral pose
  int max_frames = kMaxChallengeFrames;
};

struct ChallengeResponse {
  std::string challenge_id;
  std::vector<std::string> frames;  // encoded images, in capture order
  double frame_interval_ms = 100;   // time between two frames (20..1000)
  // Kiosk challenges keep the passed face for the enrolment and confirm the kiosk's camera
  // (CameraBook::Confirmed); a camera calibration's challenges keep nothing.
  bool for_enrolment = true;
};

// ["blink", "turn_left", ...]: the actions as the API names them.
nlohmann::json ChallengeActionsJson(const std::vector<vision::ChallengeAction>& actions);

enum class ChallengeResult { kPassed, kFailed };
const char* ChallengeResultName(ChallengeResult r);  // "passed" | "failed"

struct ChallengeOutcome {
  ChallengeResult result = ChallengeResult::kFailed;
  // When failed: timeout, face_lost, wrong_action (vision::ActiveChallenge), incomplete (the
  // frames ended first), multiple_faces (another face in a frame).
  std::string failure;
  std::vector<vision::ChallengeAction> actions;
  size_t completed = 0;  // actions seen, in order
  int frames = 0, face_frames = 0;
  std::vector<float> cnn_p_live;  // the passive CNN's raw probability of each face frame
};

// What the kiosk's, the calibration's and a gate's step-up challenges share.
// `steps` actions from FlowDeps::challenge_order (else the CSPRNG).
std::vector<vision::ChallengeAction> DrawChallengeOrder(const FlowDeps& deps);
// The stored names back to actions (unknown names are dropped).
std::vector<vision::ChallengeAction> ChallengeActionsFrom(const nlohmann::json& names);
// The median logit of the passive CNN's probabilities; nullopt when there are none.
std::optional<float> MedianLogit(const std::vector<float>& p_live);
// InvalidArgument("missing_frames" | "too_many_frames" | "invalid_frame_interval_ms").
Status CheckChallengeResponse(const ChallengeResponse& r);

struct JudgedResponse {
  ChallengeOutcome outcome;
  vision::Embedding face;  // when passed and asked for: the best-quality frame's embedding
};
// Follows the response's frames (already checked) against `actions`. Decode errors of a frame.
StatusOr<JudgedResponse> JudgeChallengeResponse(const FlowDeps& deps,
                                                const std::vector<vision::ChallengeAction>& actions,
                                                const ChallengeResponse& r, bool embed);
// {result, failure, actions, completed, frames, face_frames, cnn_raw_logit}: for the audit.
nlohmann::json ChallengeOutcomeJson(const ChallengeOutcome& o);

class LivenessChallengeFlow {
 public:
  explicit LivenessChallengeFlow(const FlowDeps& deps) : deps_(deps) {}

  // A new challenge for the kiosk `who.terminal`, answerable by `who.actor` only. Audited.
  StatusOr<IssuedLivenessChallenge> Issue(const Caller& who) const;

  // Judges the response (once: a second response is challenge_used, even after a failure).
  // Errors: NotFound("challenge_not_found") for an unknown id or another kiosk's or key's
  // challenge; FailedPrecondition("challenge_used" | "challenge_expired"); InvalidArgument
  // ("missing_frames", "too_many_frames", "invalid_frame_interval_ms") before the challenge is
  // spent; decode errors of a frame (the challenge is then spent). Audited.
  StatusOr<ChallengeOutcome> Respond(const Caller& who, const ChallengeResponse& r) const;

  // For the enrolment naming `challenge_id`: takes its passed response (once) and returns the
  // face it saw. Errors: challenge_not_found (also another key's), challenge_not_passed (no
  // response, or a failed one), challenge_used, challenge_expired, template_tampered.
  StatusOr<vision::Embedding> TakePassed(const Caller& who, const std::string& challenge_id) const;

 private:
  const FlowDeps& deps_;
};

}  // namespace facepay::flows
