#include "facepay/vision/active_challenge.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "facepay/vision/stages.h"

namespace facepay::vision {
namespace {

float Median(std::vector<float> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

constexpr int kMaxLostFrames = 5;  // consecutive frames without a face before failing

}  // namespace

const char* ChallengeActionName(ChallengeAction a) {
  switch (a) {
    case ChallengeAction::kBlink: return "blink";
    case ChallengeAction::kTurnLeft: return "turn_left";
    case ChallengeAction::kTurnRight: return "turn_right";
    case ChallengeAction::kSmile: return "smile";
  }
  return "unknown";
}

bool ParseChallengeAction(const std::string& name, ChallengeAction* out) {
  for (auto a : {ChallengeAction::kBlink, ChallengeAction::kTurnLeft, ChallengeAction::kTurnRight,
                 ChallengeAction::kSmile}) {
    if (name == ChallengeActionName(a)) {
      *out = a;
      return true;
    }
  }
  return false;
}

float YawFromLandmarks(const Landmarks68& l) {
  const float dl = l[30].x - l[2].x, dr = l[14].x - l[30].x;
  if (dl + dr <= 1e-3f) return 0;
  return std::asin(std::clamp((dl - dr) / (dl + dr), -1.f, 1.f)) * 57.29578f;
}

float MouthWidthRatio(const Landmarks68& l) {
  const FivePoints p = FivePointsFrom68(l);
  const float eyes = std::hypot(p[1].x - p[0].x, p[1].y - p[0].y);
  return eyes > 1e-3f ? std::hypot(l[54].x - l[48].x, l[54].y - l[48].y) / eyes : 0;
}

ActiveChallenge::ActiveChallenge(std::vector<ChallengeAction> order, ChallengeConfig config)
    : order_(std::move(order)), config_(config) {}

ActiveChallenge ActiveChallenge::Random(uint64_t seed, int steps, ChallengeConfig config) {
  std::mt19937_64 rng(seed);
  const ChallengeAction all[] = {ChallengeAction::kBlink, ChallengeAction::kTurnLeft,
                                 ChallengeAction::kTurnRight, ChallengeAction::kSmile};
  std::vector<ChallengeAction> order;
  while (static_cast<int>(order.size()) < std::max(1, steps)) {
    const ChallengeAction a = all[rng() % 4];
    if (!order.empty() && order.back() == a) continue;
    order.push_back(a);
  }
  return ActiveChallenge(std::move(order), config);
}

ChallengeState ActiveChallenge::Observe(const FrameCue& cue) {
  if (state_ == ChallengeState::kPassed || state_ == ChallengeState::kFailed) return state_;
  if (!cue.has_face) {
    if (++lost_frames_ > kMaxLostFrames) Fail("face_lost");
    return state_;
  }
  lost_frames_ = 0;
  const float yaw = YawFromLandmarks(cue.landmarks);
  const float mouth = MouthWidthRatio(cue.landmarks);
  if (state_ == ChallengeState::kBaseline) {
    base_ear_.push_back(cue.eye_aspect);
    base_yaw_.push_back(yaw);
    base_mouth_.push_back(mouth);
    if (static_cast<int>(base_ear_.size()) >= config_.baseline_frames) {
      ear0_ = Median(base_ear_);
      yaw0_ = Median(base_yaw_);
      mouth0_ = Median(base_mouth_);
      state_ = order_.empty() ? ChallengeState::kPassed : ChallengeState::kWaiting;
      step_start_ms_ = cue.t_ms;
      yaw_step0_ = yaw0_;
    }
    return state_;
  }
  if (cue.t_ms - step_start_ms_ > config_.step_timeout_ms) {
    Fail("timeout");
    return state_;
  }
  const float dyaw = yaw - yaw0_;
  const bool turned_left = dyaw > config_.turn_deg, turned_right = dyaw < -config_.turn_deg;
  // A wrong turn is a new movement the other way, not a pose held over from the last step.
  const float moved = yaw - yaw_step0_;
  const bool moved_left = turned_left && moved > config_.turn_deg;
  const bool moved_right = turned_right && moved < -config_.turn_deg;
  bool done = false;
  switch (order_[step_]) {
    case ChallengeAction::kBlink:
      if (cue.eye_aspect < (1 - config_.blink_drop) * ear0_) eyes_closed_ = true;
      done = eyes_closed_ && cue.eye_aspect > 0.85f * ear0_;
      break;
    case ChallengeAction::kTurnLeft:
      if (moved_right) Fail("wrong_action");
      done = turned_left;
      break;
    case ChallengeAction::kTurnRight:
      if (moved_left) Fail("wrong_action");
      done = turned_right;
      break;
    case ChallengeAction::kSmile:
      done = mouth > (1 + config_.smile_widen) * mouth0_;
      break;
  }
  if (state_ == ChallengeState::kFailed) return state_;
  if (done) {
    ++step_;
    eyes_closed_ = false;
    step_start_ms_ = cue.t_ms;
    yaw_step0_ = yaw;
    if (step_ == order_.size()) state_ = ChallengeState::kPassed;
  }
  return state_;
}

}  // namespace facepay::vision
