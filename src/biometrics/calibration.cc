#include "facepay/biometrics/calibration.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace facepay::biometrics {

float ThresholdAllowing(std::vector<float> scores, int64_t allowed) {
  if (allowed < 0) allowed = 0;
  if (static_cast<int64_t>(scores.size()) <= allowed) return -1.0f;
  auto nth = scores.begin() + allowed;
  std::nth_element(scores.begin(), nth, scores.end(), std::greater<float>());
  return std::nextafter(*nth, 2.0f);
}

StatusOr<StoredPolicy> Calibrate(const CalibrationInput& in) {
  if (!(in.target_fpir > 0 && in.target_fpir < 1)) {
    return InvalidArgument("invalid_fpir", "target FPIR must be in (0, 1)");
  }
  if (in.gallery_size <= 0) return InvalidArgument("empty_gallery", "the gallery is empty");
  const auto probes = static_cast<int64_t>(in.nonmated_top_scores.size());
  const auto needed = static_cast<int64_t>(std::ceil(1.0 / in.target_fpir));
  if (probes < needed) {
    return InvalidArgument("too_few_impostor_probes",
                           "FPIR " + std::to_string(in.target_fpir) + " needs at least " +
                               std::to_string(needed) + " non-mated probes, got " +
                               std::to_string(probes));
  }
  std::vector<float> top, all;
  for (const auto& s : in.nonmated_top_scores) {
    if (s.empty()) continue;
    top.push_back(*std::max_element(s.begin(), s.end()));
    all.insert(all.end(), s.begin(), s.end());
  }
  StoredPolicy p;
  auto& t = p.thresholds;
  t.margin = in.margin;
  t.accept = ThresholdAllowing(top, static_cast<int64_t>(std::floor(in.target_fpir * probes)));
  const double narrowed = std::max(1.0, static_cast<double>(in.gallery_size) / 1e4);
  const double comparisons = static_cast<double>(probes) * static_cast<double>(in.gallery_size);
  const auto allowed_fm =
      static_cast<int64_t>(std::floor(in.target_fpir / narrowed * comparisons));
  t.second_factor = ThresholdAllowing(all, allowed_fm);
  const double step_up_fpir =
      in.step_up_fpir > 0 ? in.step_up_fpir : std::min(0.5, 10 * in.target_fpir);
  const float band = ThresholdAllowing(top, static_cast<int64_t>(std::floor(step_up_fpir * probes)));
  t.step_up = std::min(std::max(band, t.second_factor), t.accept);
  int64_t fp = 0;
  for (float s : top) fp += s >= t.accept;
  p.calibrated = true;
  p.target_fpir = in.target_fpir;
  p.gallery_size = in.gallery_size;
  p.impostor_probes = probes;
  p.measured_fpir = static_cast<double>(fp) / static_cast<double>(probes);
  return p;
}

StatusOr<StoredPolicy> CalibrateFromPairs(const std::vector<float>& scores, int64_t gallery_size,
                                          double target_fpir, float margin, double step_up_fpir) {
  if (!(target_fpir > 0 && target_fpir < 1)) {
    return InvalidArgument("invalid_fpir", "target FPIR must be in (0, 1)");
  }
  if (gallery_size <= 0) return InvalidArgument("empty_gallery", "the gallery is empty");
  const auto pairs = static_cast<int64_t>(scores.size());
  const double n = static_cast<double>(gallery_size);
  const auto needed = static_cast<int64_t>(std::ceil(n / target_fpir - 1e-9));
  if (pairs < needed) {
    std::string msg = "FPIR ";
    msg += std::to_string(target_fpir);
    msg += " at gallery size ";
    msg += std::to_string(gallery_size);
    msg += " needs a false-match rate of ";
    msg += std::to_string(target_fpir / n);
    msg += ", measurable only with at least ";
    msg += std::to_string(needed);
    msg += " impostor pairs, got ";
    msg += std::to_string(pairs);
    return InvalidArgument("too_few_impostor_pairs", msg);
  }
  const auto allowed = [&](double fmr) {
    return static_cast<int64_t>(std::floor(fmr * static_cast<double>(pairs) + 1e-9));
  };
  StoredPolicy p;
  auto& t = p.thresholds;
  t.margin = margin;
  t.accept = ThresholdAllowing(scores, allowed(target_fpir / n));
  const double narrowed = std::max(1.0, n / 1e4);
  t.second_factor = ThresholdAllowing(scores, allowed(target_fpir / narrowed));
  const double su = step_up_fpir > 0 ? step_up_fpir : std::min(0.5, 10 * target_fpir);
  const float band = ThresholdAllowing(scores, allowed(su / n));
  t.step_up = std::min(std::max(band, t.second_factor), t.accept);
  int64_t fm = 0;
  for (float s : scores) fm += s >= t.accept;
  p.calibrated = true;
  p.target_fpir = target_fpir;
  p.gallery_size = gallery_size;
  p.impostor_probes = pairs;
  p.measured_fpir = n * static_cast<double>(fm) / static_cast<double>(pairs);
  return p;
}

}  // namespace facepay::biometrics
