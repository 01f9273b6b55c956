#include "facepay/vision/draw.h"

#include <cstdio>

#include <opencv2/imgproc.hpp>

namespace facepay::vision {

cv::Mat DrawAnalysis(const cv::Mat& bgr, const FaceAnalysis& a) {
  cv::Mat out = bgr.clone();
  const double unit = std::max(1.0, std::min(out.cols, out.rows) / 400.0);
  const int thick = static_cast<int>(std::lround(unit));
  // Detections that were not analysed: thin grey boxes.
  for (const Detection& d : a.detections) {
    cv::rectangle(out, d.box, cv::Scalar(160, 160, 160), 1, cv::LINE_AA);
  }
  for (const FaceResult& f : a.faces) {
    const bool live = f.liveness.signals.empty() || f.liveness.live;
    const cv::Scalar color = !f.quality.ok() ? cv::Scalar(0, 200, 255)
                             : live          ? cv::Scalar(60, 200, 60)
                                             : cv::Scalar(40, 40, 230);
    cv::rectangle(out, f.detection.box, color, 2 * thick, cv::LINE_AA);
    for (const auto& p : f.landmarks) cv::circle(out, p, thick, cv::Scalar(255, 200, 0), -1, cv::LINE_AA);
    for (const auto& p : f.five) cv::circle(out, p, 2 * thick + 1, cv::Scalar(0, 0, 255), -1, cv::LINE_AA);
    char label[128];
    if (f.liveness.signals.empty()) {
      std::snprintf(label, sizeof(label), "det %.2f", f.detection.score);
    } else {
      std::snprintf(label, sizeof(label), "det %.2f live %.2f", f.detection.score, f.liveness.score);
    }
    const cv::Point org(static_cast<int>(f.detection.box.x),
                        std::max(12, static_cast<int>(f.detection.box.y) - 4 * thick));
    cv::putText(out, label, org, cv::FONT_HERSHEY_SIMPLEX, 0.4 * unit, color, thick, cv::LINE_AA);
    if (!f.quality.ok()) {
      std::string q;
      for (const auto& r : f.quality.reasons) q += (q.empty() ? "" : ",") + r;
      const cv::Point below(static_cast<int>(f.detection.box.x),
                            static_cast<int>(f.detection.box.br().y) + static_cast<int>(14 * unit));
      cv::putText(out, q, below, cv::FONT_HERSHEY_SIMPLEX, 0.4 * unit, color, thick, cv::LINE_AA);
    }
  }
  return out;
}

}  // namespace facepay::vision
