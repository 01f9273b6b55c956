// Active liveness challenge for enrollment and step-up, where a second of user effort is fine:
// the terminal prompts a random order of actions (blink, turn left, turn right, smile); each
// must be seen in the landmarks within a timeout, in order. A replayed video cannot follow an
// order it did not know. Actions are judged against a baseline taken from the first frames.
//
// Directions are the user's: "turn left" is the user turning to their own left, which moves
// the nose towards the right of a non-mirrored camera image (positive yaw in Quality).
// Not thread-safe: one ActiveChallenge per session.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "facepay/vision/sequence_liveness.h"

namespace facepay::vision {

enum class ChallengeAction { kBlink, kTurnLeft, kTurnRight, kSmile };
const char* ChallengeActionName(ChallengeAction a);  // "blink", "turn_left", "turn_right", "smile"
bool ParseChallengeAction(const std::string& name, ChallengeAction* out);

struct ChallengeConfig {
  int baseline_frames = 3;         // frames with a face used as the neutral reference
  double step_timeout_ms = 4000;   // per prompted action
  float turn_deg = 15;             // yaw change from baseline counted as a turn
  float blink_drop = 0.35f;        // EAR below (1 - drop) x baseline, then re-opened
  float smile_widen = 0.12f;       // mouth width / eye distance grows by this share
};

enum class ChallengeState { kBaseline, kWaiting, kPassed, kFailed };

class ActiveChallenge {
 public:
  ActiveChallenge(std::vector<ChallengeAction> order, ChallengeConfig config);
  // `steps` actions in random order without immediate repeats, turns never back to back in
  // the same direction. `seed` should come from a CSPRNG per session.
  static ActiveChallenge Random(uint64_t seed, int steps, ChallengeConfig config);

  // Feeds one frame (time-ordered). Returns the state after it.
  ChallengeState Observe(const FrameCue& cue);

  ChallengeState state() const { return state_; }
  const std::vector<ChallengeAction>& order() const { return order_; }
  size_t completed() const { return step_; }
  // Stable token when failed: timeout, face_lost, wrong_action; empty otherwise.
  const std::string& failure() const { return failure_; }

 private:
  void Fail(const char* why) {
    state_ = ChallengeState::kFailed;
    failure_ = why;
  }
  std::vector<ChallengeAction> order_;
  ChallengeConfig config_;
  ChallengeState state_ = ChallengeState::kBaseline;
  std::string failure_;
  size_t step_ = 0;
  double step_start_ms_ = 0;
  int lost_frames_ = 0;
  std::vector<float> base_ear_, base_yaw_, base_mouth_;
  float ear0_ = 0, yaw0_ = 0, mouth0_ = 0;
  float yaw_step0_ = 0;  // yaw when the current step began
  bool eyes_closed_ = false;
};

// Yaw estimate (degrees) and mouth width / eye distance from 68 landmarks.
float YawFromLandmarks(const Landmarks68& l);
float MouthWidthRatio(const Landmarks68& l);

}  // namespace facepay::vision
