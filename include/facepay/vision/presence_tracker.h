// PresenceTracker: decides, frame by frame, when one person is presenting to a gate camera,
// so that a turnstile process (`facepay gate`) collects a burst only then, and once per person.
//
// Fed the detections of each frame (vision only: boxes, no identities). A face counts when its
// box is at least `min_face_height` of the frame height (close enough to be the person at the
// turnstile, not someone queueing behind). The states:
//
//   idle        no close face
//   crowded     two or more close faces: nobody is presenting (one person per passage)
//   approaching one close face, not yet stable (its box moved more than `min_iou` allows, or
//               fewer than `stable_frames` frames so far)
//   presenting  one close face, stable for `stable_frames` frames: collect the burst now
//   decided     a decision was made for this presentation (MarkDecided): nothing more is
//               collected until the face has been absent for `absent_frames` frames, so one
//               person standing in front of the gate is one passage, never a second fare
//
// Not thread-safe (one camera loop owns it).
#pragma once

#include <vector>

#include "facepay/vision/face_types.h"

namespace facepay::vision {

struct PresenceConfig {
  float min_face_height = 0.18f;  // box height / frame height
  int stable_frames = 3;          // consecutive frames of one close face
  float min_iou = 0.3f;           // box overlap between consecutive frames ("the same face")
  int absent_frames = 5;          // frames without a close face that end a decided presentation
};

enum class Presence { kIdle, kCrowded, kApproaching, kPresenting, kDecided };
const char* PresenceName(Presence p);  // "idle", "crowded", "approaching", "presenting", "decided"

class PresenceTracker {
 public:
  explicit PresenceTracker(PresenceConfig config = {}) : config_(config) {}

  // One frame's detections (every face found) and the frame's size; returns the new state.
  Presence Feed(const std::vector<Detection>& faces, int frame_width, int frame_height);
  // The passage of the current presentation is decided: wait for the person to leave.
  void MarkDecided();
  // Forget the current presentation (e.g. the burst failed): the next stable face presents.
  void Reset();

  Presence state() const { return state_; }
  const PresenceConfig& config() const { return config_; }

 private:
  PresenceConfig config_;
  Presence state_ = Presence::kIdle;
  int stable_ = 0;  // consecutive frames of the same close face
  int absent_ = 0;  // consecutive frames without a close face (while decided)
  cv::Rect2f last_{};
  bool has_last_ = false;
};

// Intersection over union of two boxes (0 when either is empty).
float BoxIou(const cv::Rect2f& a, const cv::Rect2f& b);

}  // namespace facepay::vision
