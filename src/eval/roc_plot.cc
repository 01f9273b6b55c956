#include <cmath>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "facepay/eval/verify_eval.h"

namespace facepay::eval {

Status WriteRocPng(const std::vector<RocPoint>& roc, const std::string& title,
                   const std::string& path) {
  const int w = 720, h = 540, l = 70, r = 20, t = 50, b = 60;
  cv::Mat img(h, w, CV_8UC3, cv::Scalar(255, 255, 255));
  const double min_log = -6, max_log = 0;  // FAR axis: 1e-6 .. 1
  auto px = [&](double far, double tar) {
    const double lf = std::log10(std::max(far, 1e-6));
    const double x = l + (lf - min_log) / (max_log - min_log) * (w - l - r);
    const double y = t + (1 - tar) * (h - t - b);
    return cv::Point(static_cast<int>(x), static_cast<int>(y));
  };
  const cv::Scalar grid(220, 220, 220), ink(40, 40, 40);
  for (int e = -6; e <= 0; ++e) {
    cv::line(img, px(std::pow(10, e), 0), px(std::pow(10, e), 1), grid);
    cv::putText(img, "1e" + std::to_string(e), px(std::pow(10, e), 0) + cv::Point(-16, 20),
                cv::FONT_HERSHEY_SIMPLEX, 0.45, ink);
  }
  for (int k = 0; k <= 10; ++k) {
    const double tar = k / 10.0;
    cv::line(img, px(1e-6, tar), px(1, tar), grid);
    char lab[8];
    std::snprintf(lab, sizeof(lab), "%.1f", tar);
    cv::putText(img, lab, px(1e-6, tar) + cv::Point(-40, 5), cv::FONT_HERSHEY_SIMPLEX, 0.45, ink);
  }
  cv::rectangle(img, px(1e-6, 1), px(1, 0), ink);
  for (size_t i = 1; i < roc.size(); ++i) {
    if (roc[i].far <= 0) continue;
    const RocPoint& a = roc[i - 1].far > 0 ? roc[i - 1] : RocPoint{1e-6, roc[i - 1].tar, 0};
    cv::line(img, px(a.far, a.tar), px(roc[i].far, roc[i].tar), cv::Scalar(200, 80, 20), 2,
             cv::LINE_AA);
  }
  cv::putText(img, title, cv::Point(l, 30), cv::FONT_HERSHEY_SIMPLEX, 0.6, ink, 1, cv::LINE_AA);
  cv::putText(img, "false accept rate (log)", cv::Point(w / 2 - 80, h - 15),
              cv::FONT_HERSHEY_SIMPLEX, 0.5, ink);
  cv::putText(img, "TAR", cv::Point(10, t + 10), cv::FONT_HERSHEY_SIMPLEX, 0.5, ink);
  try {
    if (!cv::imwrite(path, img)) return InvalidArgument("write_failed", "cannot write " + path);
  } catch (const cv::Exception& e) {
    return InvalidArgument("write_failed", "cannot write " + path + ": " + e.what());
  }
  return Status::Ok();
}

}  // namespace facepay::eval
