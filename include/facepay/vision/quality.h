// Face quality assessment: is this face good enough to enroll or to match?
// Pure function of the image, detection and landmarks; thread-safe.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "facepay/vision/face_types.h"

namespace facepay::vision {

struct QualityConfig {
  float min_face_px = 40;           // shorter side of the detection box
  float min_sharpness = 15;         // variance of the Laplacian of the aligned 112x112 face
  float min_brightness = 45;        // mean grey level of the aligned face centre
  float max_brightness = 215;
  float max_clipped_fraction = 0.3f;  // share of face-centre pixels at 0..7 or 248..255
  float max_abs_yaw_deg = 35;
  float max_abs_pitch_deg = 30;
  float frontal_nose_ratio = 0.55f;   // nose height between eye line and mouth line, frontal
};

struct Quality {
  float face_px = 0;
  float sharpness = 0;
  float brightness = 0;
  float clipped_fraction = 0;
  float yaw_deg = 0;    // estimate from landmarks; + = face turned to the image's right
  float pitch_deg = 0;  // estimate from landmarks; + = face tilted down
  bool inside_frame = true;
  // Failed checks, stable tokens: face_too_small, blurry, too_dark, too_bright,
  // badly_exposed, pose_yaw, pose_pitch, face_cut_off. Empty = acceptable.
  std::vector<std::string> reasons;
  bool ok() const { return reasons.empty(); }
};

Quality AssessQuality(const cv::Mat& bgr, const Detection& det, const Landmarks68& lm,
                      const cv::Mat& aligned112, const QualityConfig& config);

}  // namespace facepay::vision
