// Plain value types shared by the vision stages. Coordinates are pixels of the decoded
// (orientation-corrected) image.
#pragma once

#include <array>
#include <vector>

#include <opencv2/core/types.hpp>

namespace facepay::vision {

struct Detection {
  cv::Rect2f box;   // may extend beyond the image when the face is cut off
  float score = 0;  // detector face probability, 0..1
};

using Landmarks68 = std::array<cv::Point2f, 68>;  // iBUG 300-W order

// Eye in the left of the image, eye in the right, nose tip, left and right mouth corners:
// the order of the ArcFace 112x112 reference points.
using FivePoints = std::array<cv::Point2f, 5>;

using Embedding = std::vector<float>;  // L2-normalised

}  // namespace facepay::vision
