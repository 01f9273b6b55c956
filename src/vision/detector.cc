#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "facepay/vision/stages.h"
#include "net_util.h"

namespace facepay::vision {
namespace {

float Iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float inter = (a & b).area();
  const float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.f;
}

}  // namespace

std::vector<Detection> NonMaxSuppression(std::vector<Detection> dets, float iou_threshold,
                                         int max_keep) {
  std::stable_sort(dets.begin(), dets.end(),
                   [](const Detection& a, const Detection& b) { return a.score > b.score; });
  std::vector<Detection> keep;
  for (const Detection& d : dets) {
    if (static_cast<int>(keep.size()) >= max_keep) break;
    bool suppressed = false;
    for (const Detection& k : keep) {
      if (Iou(d.box, k.box) > iou_threshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) keep.push_back(d);
  }
  return keep;
}

StatusOr<FaceDetector> FaceDetector::Create(std::shared_ptr<const ModelPack> pack) {
  FACEPAY_ASSIGN_OR_RETURN(cv::dnn::Net net, LoadNet(*pack, ModelRole::kDetector));
  return FaceDetector(std::move(pack), std::move(net));
}

std::vector<Detection> FaceDetector::Detect(const cv::Mat& bgr) {
  const ModelSpec& spec = pack_->spec(ModelRole::kDetector);
  const PackParams& p = pack_->params();
  // The model sees the whole frame squeezed to its input size; its boxes are normalised.
  cv::Mat resized;
  cv::resize(bgr, resized, cv::Size(spec.input.width, spec.input.height), 0, 0, cv::INTER_LINEAR);
  net_.setInput(internal::MakeBlob(resized, spec.input), spec.input.name);
  std::vector<cv::Mat> outs;
  net_.forward(outs, spec.outputs);  // [boxes 1xNx4 corners in 0..1, scores 1xNx2 softmaxed]
  const cv::Mat& boxes = outs[0];
  const cv::Mat& scores = outs[1];
  const int n = boxes.size[1];
  CV_Assert(boxes.total() == static_cast<size_t>(n) * 4 && scores.total() == static_cast<size_t>(n) * 2);
  const float* bp = boxes.ptr<float>();
  const float* sp = scores.ptr<float>();
  const float w = static_cast<float>(bgr.cols);
  const float h = static_cast<float>(bgr.rows);
  std::vector<Detection> cand;
  for (int i = 0; i < n; ++i) {
    const float s = sp[2 * i + 1];
    if (!(s >= p.detect_confidence)) continue;
    const float x1 = bp[4 * i] * w, y1 = bp[4 * i + 1] * h;
    const float x2 = bp[4 * i + 2] * w, y2 = bp[4 * i + 3] * h;
    if (!(x2 > x1 && y2 > y1)) continue;
    cand.push_back({cv::Rect2f(x1, y1, x2 - x1, y2 - y1), s});
  }
  return NonMaxSuppression(std::move(cand), p.detect_nms_iou, p.detect_max_faces);
}

}  // namespace facepay::vision
