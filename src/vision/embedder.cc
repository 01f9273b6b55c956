#include <cmath>

#include <opencv2/core.hpp>

#include "facepay/vision/stages.h"
#include "net_util.h"

namespace facepay::vision {

StatusOr<Embedder> Embedder::Create(std::shared_ptr<const ModelPack> pack) {
  FACEPAY_ASSIGN_OR_RETURN(cv::dnn::Net net, LoadNet(*pack, ModelRole::kEmbedder));
  return Embedder(std::move(pack), std::move(net));
}

std::vector<float> Embedder::Forward(const cv::Mat& face) {
  const ModelSpec& spec = pack_->spec(ModelRole::kEmbedder);
  net_.setInput(internal::MakeBlob(face, spec.input), spec.input.name);
  const cv::Mat out = net_.forward(spec.outputs[0]);
  const size_t dim = static_cast<size_t>(pack_->params().embedding_dim);
  CV_Assert(out.total() == dim);
  const float* o = out.ptr<float>();
  return std::vector<float>(o, o + dim);
}

Embedding Embedder::Embed(const cv::Mat& aligned, bool flip) {
  std::vector<float> e = Forward(aligned);
  if (flip) {
    cv::Mat mirrored;
    cv::flip(aligned, mirrored, 1);
    const std::vector<float> f = Forward(mirrored);
    for (size_t i = 0; i < e.size(); ++i) e[i] += f[i];
  }
  double norm = 0;
  for (float v : e) norm += double{v} * v;
  norm = std::sqrt(norm);
  if (norm > 0) {
    for (float& v : e) v = static_cast<float>(v / norm);
  }
  return e;
}

}  // namespace facepay::vision
