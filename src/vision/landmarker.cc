#include <opencv2/imgproc.hpp>

#include "facepay/vision/stages.h"
#include "net_util.h"

namespace facepay::vision {

StatusOr<Landmarker> Landmarker::Create(std::shared_ptr<const ModelPack> pack) {
  FACEPAY_ASSIGN_OR_RETURN(cv::dnn::Net net, LoadNet(*pack, ModelRole::kLandmarks));
  return Landmarker(std::move(pack), std::move(net));
}

Landmarks68 Landmarker::Predict(const cv::Mat& bgr, const cv::Rect2f& box) {
  const ModelSpec& spec = pack_->spec(ModelRole::kLandmarks);
  // Square the box to its height, centred horizontally; the model's output is relative to it.
  const bool square = pack_->params().landmark_crop == "square_height";
  const float side_x = square ? box.height : box.width;
  const float side_y = box.height;
  const float x0 = box.x + box.width / 2 - side_x / 2;
  const float y0 = box.y;
  // Crop + resize in one warp; pixels outside the frame replicate the border.
  const double sx = spec.input.width / static_cast<double>(side_x);
  const double sy = spec.input.height / static_cast<double>(side_y);
  const cv::Mat m = (cv::Mat_<double>(2, 3) << sx, 0, -x0 * sx, 0, sy, -y0 * sy);
  cv::Mat gray, crop;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  cv::warpAffine(gray, crop, m, cv::Size(spec.input.width, spec.input.height), cv::INTER_LINEAR,
                 cv::BORDER_REPLICATE);
  net_.setInput(internal::MakeBlob(crop, spec.input), spec.input.name);
  const cv::Mat out = net_.forward(spec.outputs[0]);
  CV_Assert(out.total() >= 136);
  const float* o = out.ptr<float>();
  Landmarks68 lm;
  for (int i = 0; i < 68; ++i) {
    lm[i] = cv::Point2f(x0 + o[2 * i] * side_x, y0 + o[2 * i + 1] * side_y);
  }
  return lm;
}

FivePoints FivePointsFrom68(const Landmarks68& lm) {
  auto mean = [&](std::initializer_list<int> idx) {
    cv::Point2f s(0, 0);
    for (int i : idx) s += lm[i];
    return s * (1.f / static_cast<float>(idx.size()));
  };
  return {mean({37, 38, 40, 41}), mean({43, 44, 46, 47}), lm[30], mean({48, 60}), mean({54, 64})};
}

}  // namespace facepay::vision
