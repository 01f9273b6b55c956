#include "facepay/vision/presence_tracker.h"

namespace facepay::vision {

const char* PresenceName(Presence p) {
  switch (p) {
    case Presence::kIdle: return "idle";
    case Presence::kCrowded: return "crowded";
    case Presence::kApproaching: return "approaching";
    case Presence::kPresenting: return "presenting";
    case Presence::kDecided: return "decided";
  }
  return "idle";
}

float BoxIou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float inter = (a & b).area();
  const float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.f;
}

Presence PresenceTracker::Feed(const std::vector<Detection>& faces, int frame_width,
                               int frame_height) {
  (void)frame_width;
  const float min_h = config_.min_face_height * static_cast<float>(frame_height);
  const Detection* close = nullptr;
  int n_close = 0;
  for (const auto& d : faces) {
    if (d.box.height >= min_h && d.box.width > 0) {
      ++n_close;
      if (close == nullptr || d.box.area() > close->box.area()) close = &d;
    }
  }
  if (state_ == Presence::kDecided) {
    // The decided person leaves (no close face for a while) before anyone presents again. A
    // crowd in front of the gate does not end it: the person may still be among them.
    absent_ = n_close == 0 ? absent_ + 1 : 0;
    if (absent_ >= config_.absent_frames) Reset();
    return state_;
  }
  if (n_close == 0) {
    Reset();
    return state_;
  }
  if (n_close > 1) {
    stable_ = 0;
    has_last_ = false;
    state_ = Presence::kCrowded;
    return state_;
  }
  const bool same = has_last_ && BoxIou(last_, close->box) >= config_.min_iou;
  stable_ = same ? stable_ + 1 : 1;
  last_ = close->box;
  has_last_ = true;
  state_ = stable_ >= config_.stable_frames ? Presence::kPresenting : Presence::kApproaching;
  return state_;
}

void PresenceTracker::MarkDecided() {
  state_ = Presence::kDecided;
  absent_ = 0;
  stable_ = 0;
  has_last_ = false;
}

void PresenceTracker::Reset() {
  state_ = Presence::kIdle;
  stable_ = 0;
  absent_ = 0;
  has_last_ = false;
}

}  // namespace facepay::vision
