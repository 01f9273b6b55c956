// Internal: turning an image into a network input blob following an InputSpec.
#pragma once

#include <opencv2/core.hpp>

#include "facepay/vision/model_pack.h"

namespace facepay::vision::internal {

// `img` is BGR 8-bit (or 1-channel for GRAY specs) already at the spec's size.
// Returns a 1xCxHxW float blob with (pixel - mean) * scale in the spec's channel order.
cv::Mat MakeBlob(const cv::Mat& img, const InputSpec& spec);

}  // namespace facepay::vision::internal
