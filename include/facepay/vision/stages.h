// The inference stages of the face engine. Each stage object owns its own cv::dnn::Net and is
// NOT thread-safe (OpenCV nets keep per-call state); FacePipeline pools them so callers never
// share one across threads. Constructors never throw: use the Create factories. Methods may
// throw cv::Exception on internal inference failure; FacePipeline converts that to a Status.
#pragma once

#include <memory>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include "facepay/common/status_or.h"
#include "facepay/vision/face_types.h"
#include "facepay/vision/model_pack.h"

namespace facepay::vision {

// Loads one ONNX model of `pack` (reason model_load_failed on a bad graph).
StatusOr<cv::dnn::Net> LoadNet(const ModelPack& pack, ModelRole role);

class FaceDetector {
 public:
  static StatusOr<FaceDetector> Create(std::shared_ptr<const ModelPack> pack);
  // All faces above the confidence threshold after score-sorted IoU NMS, best score first.
  std::vector<Detection> Detect(const cv::Mat& bgr);

 private:
  FaceDetector(std::shared_ptr<const ModelPack> pack, cv::dnn::Net net)
      : pack_(std::move(pack)), net_(std::move(net)) {}
  std::shared_ptr<const ModelPack> pack_;
  cv::dnn::Net net_;
};

class Landmarker {
 public:
  static StatusOr<Landmarker> Create(std::shared_ptr<const ModelPack> pack);
  Landmarks68 Predict(const cv::Mat& bgr, const cv::Rect2f& box);

 private:
  Landmarker(std::shared_ptr<const ModelPack> pack, cv::dnn::Net net)
      : pack_(std::move(pack)), net_(std::move(net)) {}
  std::shared_ptr<const ModelPack> pack_;
  cv::dnn::Net net_;
};

class Embedder {
 public:
  static StatusOr<Embedder> Create(std::shared_ptr<const ModelPack> pack);
  // `aligned` is the 112x112 BGR face from AlignFace. With `flip`, the embedding of the
  // mirrored face is added before normalising. Result is L2-normalised.
  Embedding Embed(const cv::Mat& aligned, bool flip);

 private:
  Embedder(std::shared_ptr<const ModelPack> pack, cv::dnn::Net net)
      : pack_(std::move(pack)), net_(std::move(net)) {}
  std::vector<float> Forward(const cv::Mat& face);
  std::shared_ptr<const ModelPack> pack_;
  cv::dnn::Net net_;
};

class PassiveLiveness {
 public:
  static StatusOr<PassiveLiveness> Create(std::shared_ptr<const ModelPack> pack);
  // Probability that the face in `box` is a live person (softmax of the model's logits at the
  // manifest's live index), from one frame.
  float Score(const cv::Mat& bgr, const cv::Rect2f& box);

 private:
  PassiveLiveness(std::shared_ptr<const ModelPack> pack, cv::dnn::Net net)
      : pack_(std::move(pack)), net_(std::move(net)) {}
  std::shared_ptr<const ModelPack> pack_;
  cv::dnn::Net net_;
};

// Pure geometry helpers (thread-safe).
FivePoints FivePointsFrom68(const Landmarks68& lm);
// Least-squares similarity transform (rotation, uniform scale, translation; Umeyama 1991)
// mapping `from` onto `to`. Returns a 2x3 CV_64F matrix.
cv::Mat EstimateSimilarity(const std::vector<cv::Point2f>& from, const std::vector<cv::Point2f>& to);
// Warps the face to the standard ArcFace 112x112 crop.
cv::Mat AlignFace(const cv::Mat& bgr, const FivePoints& five);
// The liveness crop rectangle: `box` enlarged by min(scale, what fits), shifted to stay inside.
cv::Rect LivenessCropRect(const cv::Size& image, const cv::Rect2f& box, float scale);
// Greedy IoU non-maximum suppression; keeps indices of `dets` sorted by descending score.
std::vector<Detection> NonMaxSuppression(std::vector<Detection> dets, float iou_threshold,
                                         int max_keep);

}  // namespace facepay::vision
