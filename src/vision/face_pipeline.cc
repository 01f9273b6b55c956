#include "facepay/vision/face_pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "facepay/vision/stages.h"

namespace facepay::vision {

struct FacePipeline::Instance {
  FaceDetector detector;
  Landmarker landmarker;
  Embedder embedder;
  PassiveLiveness liveness;
};

namespace {

class Stopwatch {
 public:
  double LapMs() {
    const auto now = std::chrono::steady_clock::now();
    const double ms = std::chrono::duration<double, std::milli>(now - last_).count();
    last_ = now;
    return ms;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

float Area(const Detection& d) { return d.box.width * d.box.height; }

float SelectionScore(const Detection& d, FaceSelection sel, const cv::Size& image) {
  if (sel == FaceSelection::kLargest) return Area(d);
  const cv::Point2f c(d.box.x + d.box.width / 2, d.box.y + d.box.height / 2);
  const cv::Point2f mid(image.width / 2.f, image.height / 2.f);
  const float r = 0.5f * std::hypot(static_cast<float>(image.width), static_cast<float>(image.height));
  const float dn = std::min(1.f, std::hypot(c.x - mid.x, c.y - mid.y) / std::max(r, 1.f));
  return Area(d) * (1.f - 0.6f * dn);
}

}  // namespace

std::optional<FaceSelection> ParseFaceSelection(std::string_view name) {
  if (name == "largest") return FaceSelection::kLargest;
  if (name == "central") return FaceSelection::kCentral;
  return std::nullopt;
}

const char* FaceStatusName(FaceStatus s) {
  switch (s) {
    case FaceStatus::kOk: return "ok";
    case FaceStatus::kNoFace: return "no_face";
    case FaceStatus::kMultipleFaces: return "multiple_faces";
  }
  return "unknown";
}

float CosineSimilarity(const Embedding& a, const Embedding& b) {
  if (a.size() != b.size()) return 0.f;
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double{a[i]} * b[i];
  return static_cast<float>(s);
}

FacePipeline::FacePipeline(std::shared_ptr<const ModelPack> pack, PipelineOptions options)
    : pack_(std::move(pack)),
      options_(std::move(options)),
      fusion_(LivenessFusion::PassiveOnly(pack_->params().liveness_live)) {
  if (options_.max_instances <= 0) {
    options_.max_instances = std::max(1u, std::thread::hardware_concurrency());
  }
}

FacePipeline::~FacePipeline() = default;

StatusOr<std::unique_ptr<FacePipeline>> FacePipeline::Create(std::shared_ptr<const ModelPack> pack,
                                                             PipelineOptions options) {
  if (pack == nullptr) return InvalidArgument("invalid_argument", "no model pack");
  std::unique_ptr<FacePipeline> p(new FacePipeline(std::move(pack), std::move(options)));
  // Build one instance now so a broken pack fails at start-up, not on the first request.
  FACEPAY_ASSIGN_OR_RETURN(std::unique_ptr<Instance> first, p->Acquire());
  p->Release(std::move(first));
  return p;
}

StatusOr<std::unique_ptr<FacePipeline::Instance>> FacePipeline::Acquire() const {
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty() || created_ < options_.max_instances; });
    if (!free_.empty()) {
      auto inst = std::move(free_.back());
      free_.pop_back();
      return inst;
    }
    ++created_;  // reserve a slot; build outside the lock
  }
  auto build = [&]() -> StatusOr<std::unique_ptr<Instance>> {
    FACEPAY_ASSIGN_OR_RETURN(FaceDetector d, FaceDetector::Create(pack_));
    FACEPAY_ASSIGN_OR_RETURN(Landmarker l, Landmarker::Create(pack_));
    FACEPAY_ASSIGN_OR_RETURN(Embedder e, Embedder::Create(pack_));
    FACEPAY_ASSIGN_OR_RETURN(PassiveLiveness v, PassiveLiveness::Create(pack_));
    return std::make_unique<Instance>(
        Instance{std::move(d), std::move(l), std::move(e), std::move(v)});
  };
  auto inst = build();
  if (!inst.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    --created_;
    cv_.notify_one();
  }
  return inst;
}

void FacePipeline::Release(std::unique_ptr<Instance> inst) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(std::move(inst));
  }
  cv_.notify_one();
}

StatusOr<FaceAnalysis> FacePipeline::Analyze(const cv::Mat& bgr,
                                             const AnalyzeOptions& opt) const {
  if (bgr.empty() || bgr.type() != CV_8UC3) {
    return InvalidArgument("image_corrupt", "expected a non-empty 8-bit BGR image");
  }
  FACEPAY_ASSIGN_OR_RETURN(std::unique_ptr<Instance> inst, Acquire());
  FaceAnalysis a;
  a.image_width = bgr.cols;
  a.image_height = bgr.rows;
  Stopwatch total, sw;
  try {
    a.detections = inst->detector.Detect(bgr);
    a.timings.detect_ms = sw.LapMs();
    if (!a.detections.empty()) {
      std::vector<Detection> by_size = a.detections;
      const cv::Size size = bgr.size();
      std::stable_sort(by_size.begin(), by_size.end(), [&](const Detection& x, const Detection& y) {
        return SelectionScore(x, opt.selection, size) > SelectionScore(y, opt.selection, size);
      });
      a.status = FaceStatus::kOk;
      if (opt.single_subject && by_size.size() > 1 &&
          Area(by_size[1]) >= options_.multiple_face_area_ratio * Area(by_size[0])) {
        a.status = FaceStatus::kMultipleFaces;
      }
      const size_t n = opt.all_faces ? by_size.size() : 1;
      for (size_t i = 0; i < n; ++i) {
        FaceResult f;
        f.detection = by_size[i];
        sw.LapMs();
        f.landmarks = inst->landmarker.Predict(bgr, f.detection.box);
        f.five = FivePointsFrom68(f.landmarks);
        a.timings.landmarks_ms += sw.LapMs();
        const cv::Mat aligned = AlignFace(bgr, f.five);
        a.timings.align_ms += sw.LapMs();
        f.quality = AssessQuality(bgr, f.detection, f.landmarks, aligned, options_.quality);
        a.timings.quality_ms += sw.LapMs();
        if (opt.liveness) {
          const float p = inst->liveness.Score(bgr, f.detection.box);
          f.liveness = fusion_.Fuse({LivenessSignal{"passive_cnn", p, 0.f}});
          a.timings.liveness_ms += sw.LapMs();
        }
        if (opt.embed) {
          f.embedding = inst->embedder.Embed(aligned, options_.flip_embedding);
          a.timings.embed_ms += sw.LapMs();
        }
        a.faces.push_back(std::move(f));
      }
    }
  } catch (const cv::Exception& e) {
    Release(std::move(inst));
    return Internal("inference_failed", std::string("inference failed: ") + e.what());
  }
  Release(std::move(inst));
  a.timings.total_ms = total.LapMs();
  return a;
}

StatusOr<FaceAnalysis> FacePipeline::AnalyzeBytes(std::span<const uint8_t> bytes,
                                                  const AnalyzeOptions& opt) const {
  Stopwatch sw;
  FACEPAY_ASSIGN_OR_RETURN(cv::Mat img, DecodeImage(bytes, options_.decode));
  const double decode_ms = sw.LapMs();
  FACEPAY_ASSIGN_OR_RETURN(FaceAnalysis a, Analyze(img, opt));
  a.timings.decode_ms = decode_ms;
  a.timings.total_ms += decode_ms;
  return a;
}

StatusOr<FaceAnalysis> FacePipeline::AnalyzeFile(const std::string& path,
                                                 const AnalyzeOptions& opt) const {
  FACEPAY_ASSIGN_OR_RETURN(std::string data, ReadFileBounded(path, options_.decode.max_bytes));
  return AnalyzeBytes({reinterpret_cast<const uint8_t*>(data.data()), data.size()}, opt);
}

}  // namespace facepay::vision
