#include "net_util.h"

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

namespace facepay::vision::internal {

cv::Mat MakeBlob(const cv::Mat& img, const InputSpec& spec) {
  cv::Mat src = img;
  if (spec.channel_order == "GRAY" && img.channels() == 3) {
    cv::cvtColor(img, src, cv::COLOR_BGR2GRAY);
  }
  const bool swap_rb = spec.channel_order == "RGB";
  const double m = spec.mean;
  return cv::dnn::blobFromImage(src, spec.scale, cv::Size(spec.width, spec.height),
                                cv::Scalar(m, m, m), swap_rb, /*crop=*/false, CV_32F);
}

}  // namespace facepay::vision::internal
