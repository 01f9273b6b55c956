// Draws an analysis onto a copy of the image: boxes, scores, the 5 points and the 68 landmarks,
// quality and liveness labels. For eyeballing results (facepay detect --draw). Thread-safe.
#pragma once

#include <opencv2/core.hpp>

#include "facepay/vision/face_pipeline.h"

namespace facepay::vision {

cv::Mat DrawAnalysis(const cv::Mat& bgr, const FaceAnalysis& analysis);

}  // namespace facepay::vision
