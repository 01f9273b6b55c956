// Colour-texture (uniform LBP in HSV and YCbCr) and distortion cues of a face crop.
#include "facepay/vision/crop_texture.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <unordered_set>

namespace facepay::vision {
namespace {

std::array<uint8_t, 256> MakeUniformTable() {
  std::array<uint8_t, 256> t{};
  int next = 0;
  for (int c = 0; c < 256; ++c) {
    int transitions = 0;
    for (int k = 0; k < 8; ++k) transitions += ((c >> k) & 1) != ((c >> ((k + 1) % 8)) & 1);
    t[static_cast<size_t>(c)] = static_cast<uint8_t>(transitions <= 2 ? next++ : kLbpBins - 1);
  }
  return t;
}

const std::array<uint8_t, 256>& UniformTable() {
  static const std::array<uint8_t, 256> t = MakeUniformTable();
  return t;
}

// Bright, unsaturated pixels: glare, as Wen et al. separate specular components.
constexpr int kSpecularMinValue = 230;
constexpr int kSpecularMaxSaturation = 40;

cv::Mat ResizeTo(const cv::Mat& src, int px) {
  cv::Mat out;
  const int interp = src.cols >= px && src.rows >= px ? cv::INTER_AREA : cv::INTER_LINEAR;
  cv::resize(src, out, cv::Size(px, px), 0, 0, interp);
  return out;
}

float Finite(double v) { return std::isfinite(v) ? static_cast<float>(v) : 0.f; }

void Moments(const cv::Mat& bgr, CropTexture& t) {
  cv::Mat hsv;
  cv::cvtColor(bgr, hsv, cv::COLOR_BGR2HSV);
  const double n = static_cast<double>(hsv.total());
  double s_sum = 0, s_sq = 0, v_sum = 0;
  size_t specular = 0;
  for (int y = 0; y < hsv.rows; ++y) {
    const cv::Vec3b* row = hsv.ptr<cv::Vec3b>(y);
    for (int x = 0; x < hsv.cols; ++x) {
      const double s = row[x][1] / 255.0, v = row[x][2] / 255.0;
      s_sum += s;
      s_sq += s * s;
      v_sum += v;
      specular += row[x][2] >= kSpecularMinValue && row[x][1] <= kSpecularMaxSaturation;
    }
  }
  const double s_mean = s_sum / n, v_mean = v_sum / n;
  double v2 = 0, v3 = 0;
  for (int y = 0; y < hsv.rows; ++y) {
    const cv::Vec3b* row = hsv.ptr<cv::Vec3b>(y);
    for (int x = 0; x < hsv.cols; ++x) {
      const double d = row[x][2] / 255.0 - v_mean;
      v2 += d * d;
      v3 += d * d * d;
    }
  }
  v2 /= n;
  v3 /= n;
  t.sat_mean = Finite(s_mean);
  t.sat_std = Finite(std::sqrt(std::max(0.0, s_sq / n - s_mean * s_mean)));
  t.val_skew = v2 > 1e-8 ? Finite(v3 / std::pow(v2, 1.5)) : 0.f;
  t.specular = Finite(static_cast<double>(specular) / n);
}

void Lbp(const cv::Mat& bgr, CropTexture& t) {
  cv::Mat hsv, ycc;
  cv::cvtColor(bgr, hsv, cv::COLOR_BGR2HSV);
  cv::cvtColor(bgr, ycc, cv::COLOR_BGR2YCrCb);
  std::vector<cv::Mat> ch(3), ch2(3);
  cv::split(hsv, ch);
  cv::split(ycc, ch2);
  // OpenCV orders Y, Cr, Cb; the descriptor is H, S, V, Y, Cb, Cr.
  const cv::Mat planes[kTextureChannels] = {ch[0], ch[1], ch[2], ch2[0], ch2[2], ch2[1]};
  t.lbp.assign(kTextureBins, 0.f);
  for (int c = 0; c < kTextureChannels; ++c) {
    const auto h = UniformLbpHistogram(planes[c]);
    std::copy(h.begin(), h.end(), t.lbp.begin() + c * kLbpBins);
  }
}

void Sharpness(const cv::Mat& gray, CropTexture& t) {
  cv::Mat f, lap;
  gray.convertTo(f, CV_32F);
  cv::Laplacian(f, lap, CV_32F, 1, 1, 0, cv::BORDER_REFLECT);
  cv::Scalar m, sd, lm, lsd;
  cv::meanStdDev(f, m, sd);
  cv::meanStdDev(lap, lm, lsd);
  t.sharpness = Finite(lsd[0] * lsd[0] / (sd[0] * sd[0] + 1.0));
}

void ColourDiversity(const cv::Mat& bgr, CropTexture& t) {
  std::unordered_set<int> colours;
  for (int y = 0; y < bgr.rows; ++y) {
    const cv::Vec3b* row = bgr.ptr<cv::Vec3b>(y);
    for (int x = 0; x < bgr.cols; ++x)
      colours.insert((row[x][0] >> 3) << 10 | (row[x][1] >> 3) << 5 | (row[x][2] >> 3));
  }
  t.colour_diversity =
      Finite(static_cast<double>(colours.size()) / static_cast<double>(bgr.total()));
}

void Moire(const cv::Mat& gray, CropTexture& t) {
  cv::Mat f, window, spec;
  gray.convertTo(f, CV_32F);
  f -= cv::mean(f)[0];
  cv::createHanningWindow(window, f.size(), CV_32F);
  cv::multiply(f, window, f);
  cv::dft(f, spec, cv::DFT_COMPLEX_OUTPUT);
  const int n = f.rows;
  double total = 0, high = 0;
  std::vector<float> band;
  band.reserve(static_cast<size_t>(n * n));
  for (int v = 0; v < n; ++v) {
    const cv::Vec2f* row = spec.ptr<cv::Vec2f>(v);
    const double fy = std::min(v, n - v) / static_cast<double>(n);
    for (int u = 0; u < n; ++u) {
      if (u == 0 && v == 0) continue;
      const double fx = std::min(u, n - u) / static_cast<double>(n);
      const double e =
          static_cast<double>(row[u][0]) * row[u][0] + static_cast<double>(row[u][1]) * row[u][1];
      total += e;
      if (std::hypot(fx, fy) > 0.25) {  // beyond half the Nyquist radius (0.5 cycles/px)
        high += e;
        band.push_back(static_cast<float>(std::sqrt(e)));
      }
    }
  }
  if (total <= 1e-9 || band.empty()) return;
  t.moire_hf = Finite(high / total);
  const float peak = *std::max_element(band.begin(), band.end());
  std::nth_element(band.begin(), band.begin() + static_cast<long>(band.size() / 2), band.end());
  t.moire_peak = Finite(std::log((peak + 1e-6) / (band[band.size() / 2] + 1e-6)));
}

}  // namespace

int UniformLbpBin(uint8_t code) { return UniformTable()[code]; }

std::array<float, kLbpBins> UniformLbpHistogram(const cv::Mat& gray8) {
  std::array<float, kLbpBins> h{};
  if (gray8.type() != CV_8UC1 || gray8.rows < 3 || gray8.cols < 3) return h;
  const auto& table = UniformTable();
  std::array<size_t, kLbpBins> count{};
  for (int y = 1; y + 1 < gray8.rows; ++y) {
    const uint8_t* up = gray8.ptr<uint8_t>(y - 1);
    const uint8_t* mid = gray8.ptr<uint8_t>(y);
    const uint8_t* down = gray8.ptr<uint8_t>(y + 1);
    for (int x = 1; x + 1 < gray8.cols; ++x) {
      const uint8_t c = mid[x];
      // Neighbours in circular order starting at the top-left.
      const uint8_t n[8] = {up[x - 1],   up[x],   up[x + 1],   mid[x + 1],
                            down[x + 1], down[x], down[x - 1], mid[x - 1]};
      int code = 0;
      for (int k = 0; k < 8; ++k) code |= (n[k] >= c) << k;
      ++count[table[static_cast<size_t>(code)]];
    }
  }
  const double total = static_cast<double>(gray8.rows - 2) * (gray8.cols - 2);
  for (int b = 0; b < kLbpBins; ++b) h[b] = static_cast<float>(count[b] / total);
  return h;
}

CropTexture ComputeCropTexture(const cv::Mat& image, const cv::Rect2f& box) {
  CropTexture t;
  if (image.empty() || image.depth() != CV_8U || (image.channels() != 3 && image.channels() != 1))
    return t;
  if (!std::isfinite(box.x) || !std::isfinite(box.y) || !std::isfinite(box.width) ||
      !std::isfinite(box.height))
    return t;
  const cv::Rect frame(0, 0, image.cols, image.rows);
  const auto clampi = [](float v, int lo, int hi) {
    return static_cast<int>(
        std::clamp(std::floor(v), static_cast<float>(lo), static_cast<float>(hi)));
  };
  const int x1 = clampi(box.x, 0, image.cols), y1 = clampi(box.y, 0, image.rows);
  const int x2 = clampi(box.x + box.width, 0, image.cols),
            y2 = clampi(box.y + box.height, 0, image.rows);
  const cv::Rect r = cv::Rect(x1, y1, x2 - x1, y2 - y1) & frame;
  if (r.width < 1 || r.height < 1) return t;
  cv::Mat bgr;
  if (image.channels() == 1) {
    cv::cvtColor(image(r), bgr, cv::COLOR_GRAY2BGR);
  } else {
    bgr = image(r);
  }
  t.valid = true;
  const cv::Mat small = ResizeTo(bgr, kTextureCropPx);
  cv::Mat gray, gray_big;
  cv::cvtColor(small, gray, cv::COLOR_BGR2GRAY);
  Lbp(small, t);
  Moments(small, t);
  Sharpness(gray, t);
  ColourDiversity(small, t);
  cv::cvtColor(ResizeTo(bgr, kSpectrumCropPx), gray_big, cv::COLOR_BGR2GRAY);
  Moire(gray_big, t);
  return t;
}

}  // namespace facepay::vision
