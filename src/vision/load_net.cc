#include <opencv2/dnn.hpp>

#include "facepay/vision/stages.h"

namespace facepay::vision {

StatusOr<cv::dnn::Net> LoadNet(const ModelPack& pack, ModelRole role) {
  const std::string& bytes = pack.bytes(role);
  try {
    cv::dnn::Net net = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
    if (net.empty()) {
      return Internal("model_load_failed", std::string(ModelRoleName(role)) + ": empty network");
    }
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    return net;
  } catch (const cv::Exception& e) {
    return Internal("model_load_failed", pack.spec(role).file + ": " + e.what());
  }
}

}  // namespace facepay::vision
