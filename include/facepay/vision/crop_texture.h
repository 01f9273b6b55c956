// Colour-texture and image-distortion cues of one face crop (issue 16, item 3): what a
// re-captured face (a print, a screen) loses or gains compared with a face in front of the lens,
// measured on the detection box resized to a fixed size, so the work per frame is bounded.
//
//   lbp        uniform LBP (8 neighbours, radius 1, 59 bins) histograms of the 64x64 crop in
//              H, S, V, Y, Cb, Cr (Boulkenafet, Komulainen, Hadid 2016), each summing to 1
//   specular   share of crop pixels that are bright and unsaturated (glare on paper or glass)
//   sharpness  variance of the Laplacian over the variance of the grey crop (contrast-free blur)
//   sat_mean, sat_std, val_skew   chromatic moments in HSV (Wen, Han, Jain 2015)
//   colour_diversity  distinct colours (32 levels per channel) over the crop's pixel count
//   moire_hf   share of the 128x128 grey crop's spectral energy beyond half the Nyquist radius
//   moire_peak log of the strongest high-frequency magnitude over the band's median (a screen's
//              pixel grid or banding shows as isolated peaks)
//
// Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <opencv2/core.hpp>
#include <vector>

namespace facepay::vision {

inline constexpr int kLbpBins = 59;          // 58 uniform patterns + one for all others
inline constexpr int kTextureChannels = 6;   // H, S, V, Y, Cb, Cr
inline constexpr int kTextureCropPx = 64;    // LBP and distortion cues
inline constexpr int kSpectrumCropPx = 128;  // moire cues
inline constexpr size_t kTextureBins = size_t{kTextureChannels} * kLbpBins;  // 354

// The bin of an 8-bit LBP code: 0..57 for the 58 uniform codes (at most two 0/1 transitions,
// in increasing code order), 58 for every other code.
int UniformLbpBin(uint8_t code);

// Uniform LBP histogram of a single-channel 8-bit image over its interior pixels (radius 1),
// normalised to sum 1; all zeros when the image is smaller than 3x3 or not CV_8UC1.
std::array<float, kLbpBins> UniformLbpHistogram(const cv::Mat& gray8);

struct CropTexture {
  bool valid = false;      // false: the box held no pixels; every value below is 0
  std::vector<float> lbp;  // kTextureBins (channel-major), empty when !valid
  float specular = 0, sharpness = 0, sat_mean = 0, sat_std = 0, val_skew = 0;
  float colour_diversity = 0, moire_hf = 0, moire_peak = 0;
};

// Cues of the face box `box` (clipped to the image) of a BGR 8-bit image. Every value is finite.
CropTexture ComputeCropTexture(const cv::Mat& bgr, const cv::Rect2f& box);

}  // namespace facepay::vision
