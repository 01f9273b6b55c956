#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "facepay/vision/stages.h"
#include "net_util.h"

namespace facepay::vision {

cv::Rect LivenessCropRect(const cv::Size& image, const cv::Rect2f& box, float scale) {
  const float w = std::max(box.width, 1.f), h = std::max(box.height, 1.f);
  const float s = std::min({(image.height - 1) / h, (image.width - 1) / w, scale});
  const float nw = w * s, nh = h * s;
  const float cx = box.x + box.width / 2, cy = box.y + box.height / 2;
  float x1 = cx - nw / 2, y1 = cy - nh / 2;
  // Shift the enlarged box back inside the frame.
  x1 = std::clamp(x1, 0.f, std::max(0.f, image.width - 1 - nw));
  y1 = std::clamp(y1, 0.f, std::max(0.f, image.height - 1 - nh));
  cv::Rect r(static_cast<int>(x1), static_cast<int>(y1), std::max(1, static_cast<int>(nw)),
             std::max(1, static_cast<int>(nh)));
  return r & cv::Rect(0, 0, image.width, image.height);
}

StatusOr<PassiveLiveness> PassiveLiveness::Create(std::shared_ptr<const ModelPack> pack) {
  FACEPAY_ASSIGN_OR_RETURN(cv::dnn::Net net, LoadNet(*pack, ModelRole::kLiveness));
  return PassiveLiveness(std::move(pack), std::move(net));
}

float PassiveLiveness::Score(const cv::Mat& bgr, const cv::Rect2f& box) {
  const ModelSpec& spec = pack_->spec(ModelRole::kLiveness);
  const cv::Rect r = LivenessCropRect(bgr.size(), box, pack_->params().liveness_crop_scale);
  if (r.empty()) return 0.f;
  cv::Mat crop;
  cv::resize(bgr(r), crop, cv::Size(spec.input.width, spec.input.height), 0, 0, cv::INTER_LINEAR);
  net_.setInput(internal::MakeBlob(crop, spec.input), spec.input.name);
  const cv::Mat out = net_.forward(spec.outputs[0]);
  const float* o = out.ptr<float>();
  const int n = static_cast<int>(out.total());
  const int live = pack_->params().liveness_live_index;
  CV_Assert(n >= 2 && live < n);
  const float mx = *std::max_element(o, o + n);
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += std::exp(double{o[i]} - mx);
  return static_cast<float>(std::exp(double{o[live]} - mx) / sum);
}

}  // namespace facepay::vision
