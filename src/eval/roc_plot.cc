#include <algorithm>
#include <cmath>
#include <cstdio>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "facepay/eval/verify_eval.h"

namespace facepay::eval {

Status WriteRocPng(const std::vector<RocPoint>& roc, const std::string& title,
                   const std::string& path) {
  const int w = 720, h = 540, l = 70, r = 20, t = 50, b = 60;
  cv::Mat img(h, w, CV_8UC3, cv::Scalar(255, 255, 255));
  const double min_log = -6, max_log = 0;  // FAR axis: 1e-6 .. 1
  // TAR axis: from a round value below the lowest measured TAR (at FAR > 0) up to 1.
  double lowest = 1;
  for (const RocPoint& p : roc) {
    if (p.far > 0) lowest = std::min(lowest, p.tar);
  }
  const double y0 = std::max(0.0, std::floor(lowest * 10 - 1e-9) / 10);
  auto px = [&](double far, double tar) {
    const double lf = std::log10(std::max(far, 1e-6));
    const double x = l + (lf - min_log) / (max_log - min_log) * (w - l - r);
    const double y = t + (1 - (tar - y0) / (1 - y0)) * (h - t - b);
    return cv::Point(static_cast<int>(x), static_cast<int>(y));
  };
  const cv::Scalar grid(220, 220, 220), ink(40, 40, 40);
  for (int e = -6; e <= 0; ++e) {
    cv::line(img, px(std::pow(10, e), y0), px(std::pow(10, e), 1), grid);
    cv::putText(img, "1e" + std::to_string(e), px(std::pow(10, e), y0) + cv::Point(-16, 20),
                cv::FONT_HERSHEY_SIMPLEX, 0.45, ink);
  }
  for (int k = 0; k <= 10; ++k) {
    const double tar = y0 + (1 - y0) * k / 10.0;
    cv::line(img, px(1e-6, tar), px(1, tar), grid);
    char lab[16];
    std::snprintf(lab, sizeof(lab), "%.2f", tar);
    cv::putText(img, lab, px(1e-6, tar) + cv::Point(-45, 5), cv::FONT_HERSHEY_SIMPLEX, 0.45, ink);
  }
  cv::rectangle(img, px(1e-6, 1), px(1, y0), ink);
  // Only measured points: no extrapolation below the smallest FAR the impostors can show.
  for (size_t i = 1; i < roc.size(); ++i) {
    if (roc[i].far <= 0 || roc[i - 1].far <= 0) continue;
    cv::line(img, px(roc[i - 1].far, roc[i - 1].tar), px(roc[i].far, roc[i].tar),
             cv::Scalar(200, 80, 20), 2, cv::LINE_AA);
  }
  cv::putText(img, title, cv::Point(l, 30), cv::FONT_HERSHEY_SIMPLEX, 0.55, ink, 1, cv::LINE_AA);
  cv::putText(img, "false accept rate (log)", cv::Point(w / 2 - 80, h - 15),
              cv::FONT_HERSHEY_SIMPLEX, 0.5, ink);
  cv::putText(img, "true accept rate", cv::Point(l + 8, t + 18), cv::FONT_HERSHEY_SIMPLEX, 0.5, ink);
  try {
    if (!cv::imwrite(path, img)) return InvalidArgument("write_failed", "cannot write " + path);
  } catch (const cv::Exception& e) {
    return InvalidArgument("write_failed", "cannot write " + path + ": " + e.what());
  }
  return Status::Ok();
}

}  // namespace facepay::eval
