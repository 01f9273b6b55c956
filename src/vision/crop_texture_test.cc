#include "facepay/vision/crop_texture.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "facepay/vision/sequence_liveness.h"

namespace facepay::vision {
namespace {

float Sum(const std::array<float, kLbpBins>& h) { return std::accumulate(h.begin(), h.end(), 0.f); }

void ExpectAllFinite(const CropTexture& t) {
  for (float v : {t.specular, t.sharpness, t.sat_mean, t.sat_std, t.val_skew, t.colour_diversity,
                  t.moire_hf, t.moire_peak}) {
    EXPECT_TRUE(std::isfinite(v));
  }
  for (float v : t.lbp) EXPECT_TRUE(std::isfinite(v));
}

// A smooth, textured colour image (sums of random low-frequency blobs).
cv::Mat SmoothTexture(int size, unsigned seed) {
  cv::RNG rng(seed);
  cv::Mat noise(size / 8, size / 8, CV_8UC3);
  rng.fill(noise, cv::RNG::UNIFORM, cv::Scalar::all(40), cv::Scalar::all(220));
  cv::Mat up;
  cv::resize(noise, up, cv::Size(size, size), 0, 0, cv::INTER_CUBIC);
  return up;
}

TEST(UniformLbp, MapsTheFiftyEightUniformCodesToTheirOwnBinsAndTheRestToTheLast) {
  std::set<int> bins;
  int other = 0;
  for (int c = 0; c < 256; ++c) {
    const int b = UniformLbpBin(static_cast<uint8_t>(c));
    ASSERT_GE(b, 0);
    ASSERT_LT(b, kLbpBins);
    if (b == kLbpBins - 1) {
      ++other;
    } else {
      EXPECT_TRUE(bins.insert(b).second) << "code " << c << " shares bin " << b;
    }
  }
  EXPECT_EQ(bins.size(), 58u);
  EXPECT_EQ(other, 256 - 58);
  EXPECT_EQ(UniformLbpBin(0), 0);
  EXPECT_NE(UniformLbpBin(0b00001111), kLbpBins - 1);  // one run of ones: uniform
  EXPECT_EQ(UniformLbpBin(0b01010101), kLbpBins - 1);  // eight transitions
}

TEST(UniformLbp, AConstantImageIsAllInTheBinOfCode255) {
  const cv::Mat flat(20, 30, CV_8UC1, cv::Scalar(77));
  const auto h = UniformLbpHistogram(flat);
  EXPECT_FLOAT_EQ(h[static_cast<size_t>(UniformLbpBin(255))], 1.f);
  EXPECT_FLOAT_EQ(Sum(h), 1.f);
}

TEST(UniformLbp, VerticalStripesSplitBetweenCode255AndTheNonUniformBin) {
  // Columns alternate 0 / 255. A dark centre sees every neighbour >= itself (code 255); a
  // bright centre sees only the pixels above and below (code 0b00100010: four transitions).
  cv::Mat stripes(10, 10, CV_8UC1);
  for (int x = 0; x < 10; ++x) stripes.col(x).setTo(x % 2 == 0 ? 0 : 255);
  const auto h = UniformLbpHistogram(stripes);
  EXPECT_FLOAT_EQ(h[static_cast<size_t>(UniformLbpBin(255))], 0.5f);
  EXPECT_FLOAT_EQ(h[kLbpBins - 1], 0.5f);
}

TEST(UniformLbp, ImagesTooSmallOrOfTheWrongTypeGiveAnEmptyHistogram) {
  EXPECT_FLOAT_EQ(Sum(UniformLbpHistogram(cv::Mat(2, 50, CV_8UC1, cv::Scalar(1)))), 0.f);
  EXPECT_FLOAT_EQ(Sum(UniformLbpHistogram(cv::Mat(9, 9, CV_8UC3, cv::Scalar::all(1)))), 0.f);
  EXPECT_FLOAT_EQ(Sum(UniformLbpHistogram(cv::Mat())), 0.f);
}

TEST(CropTexture, HoldsSixNormalisedHistograms) {
  const cv::Mat img = SmoothTexture(256, 1);
  const CropTexture t = ComputeCropTexture(img, cv::Rect2f(40, 40, 150, 150));
  ASSERT_TRUE(t.valid);
  ASSERT_EQ(t.lbp.size(), kTextureBins);
  for (int c = 0; c < kTextureChannels; ++c) {
    float s = 0;
    for (int b = 0; b < kLbpBins; ++b) s += t.lbp[static_cast<size_t>(c * kLbpBins + b)];
    EXPECT_NEAR(s, 1.f, 1e-4) << "channel " << c;
  }
  ExpectAllFinite(t);
}

TEST(CropTexture, SharpnessOrdersASharpAndABlurredCrop) {
  cv::Mat sharp = SmoothTexture(256, 2), noise(256, 256, CV_8UC3), blurred;
  cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(25));
  sharp += noise;
  cv::GaussianBlur(sharp, blurred, cv::Size(0, 0), 3);
  const cv::Rect2f box(30, 30, kTextureCropPx, kTextureCropPx);  // no resize
  const float s = ComputeCropTexture(sharp, box).sharpness;
  const float b = ComputeCropTexture(blurred, box).sharpness;
  EXPECT_GT(s, 3 * b) << "sharp " << s << " blurred " << b;
}

TEST(CropTexture, SharpnessOrdersARealFaceAndItsBlurredCopy) {
  const char* dir = std::getenv("FACEPAY_DATA_DIR");
  const std::filesystem::path path =
      std::filesystem::path(dir != nullptr ? dir : "../shared/data") / "pad-samples/image_T1.jpg";
  const cv::Mat img = cv::imread(path.string());
  if (img.empty()) GTEST_SKIP() << "no development data at " << path << " (set FACEPAY_DATA_DIR)";
  cv::Mat blurred;
  cv::GaussianBlur(img, blurred, cv::Size(0, 0), 2.5);
  const cv::Rect2f box(img.cols * 0.3f, img.rows * 0.25f, img.cols * 0.4f, img.rows * 0.4f);
  EXPECT_GT(ComputeCropTexture(img, box).sharpness, ComputeCropTexture(blurred, box).sharpness);
}

TEST(CropTexture, AFineGratingRaisesTheHighFrequencyShareAndPeak) {
  const cv::Mat face = SmoothTexture(kSpectrumCropPx, 3);
  cv::Mat grating = face.clone();
  for (int y = 0; y < grating.rows; ++y) {
    for (int x = 0; x < grating.cols; ++x) {
      const double d = 50 * std::sin(2 * CV_PI * 0.4 * x);  // 0.4 cycles/px: a screen's grid
      for (int c = 0; c < 3; ++c) {
        auto& p = grating.at<cv::Vec3b>(y, x)[c];
        p = cv::saturate_cast<uint8_t>(p + d);
      }
    }
  }
  const cv::Rect2f box(0, 0, kSpectrumCropPx, kSpectrumCropPx);  // no resize
  const CropTexture a = ComputeCropTexture(face, box), b = ComputeCropTexture(grating, box);
  EXPECT_GT(b.moire_hf, a.moire_hf + 0.1f);
  EXPECT_GT(b.moire_peak, a.moire_peak);
}

TEST(CropTexture, ColourDiversityAndSpecularShareOfKnownCrops) {
  const cv::Rect2f box(0, 0, 64, 64);
  const CropTexture white = ComputeCropTexture(cv::Mat(64, 64, CV_8UC3, cv::Scalar::all(255)), box);
  EXPECT_FLOAT_EQ(white.specular, 1.f);
  EXPECT_FLOAT_EQ(white.colour_diversity, 1.f / 4096);
  EXPECT_FLOAT_EQ(white.sat_mean, 0.f);
  const CropTexture grey = ComputeCropTexture(cv::Mat(64, 64, CV_8UC3, cv::Scalar::all(128)), box);
  EXPECT_FLOAT_EQ(grey.specular, 0.f);
  cv::Mat noise(64, 64, CV_8UC3);
  cv::randu(noise, cv::Scalar::all(0), cv::Scalar::all(256));
  EXPECT_GT(ComputeCropTexture(noise, box).colour_diversity, 0.8f);
  cv::Mat red(64, 64, CV_8UC3, cv::Scalar(0, 0, 255));
  EXPECT_FLOAT_EQ(ComputeCropTexture(red, box).sat_mean, 1.f);
}

TEST(CropTexture, FiniteOnABlackFrameAndAOnePixelBoxAtTheImageEdge) {
  const cv::Mat black(480, 640, CV_8UC3, cv::Scalar::all(0));
  const CropTexture t = ComputeCropTexture(black, cv::Rect2f(100, 100, 80, 80));
  ASSERT_TRUE(t.valid);
  ExpectAllFinite(t);
  EXPECT_FLOAT_EQ(t.moire_hf, 0.f);
  EXPECT_FLOAT_EQ(t.lbp[static_cast<size_t>(UniformLbpBin(255))], 1.f);  // H channel
  const CropTexture corner = ComputeCropTexture(SmoothTexture(256, 4), cv::Rect2f(255, 255, 1, 1));
  EXPECT_TRUE(corner.valid);
  ExpectAllFinite(corner);
  // Boxes that hold no pixel: outside, past the edge, inverted, not a number.
  for (const cv::Rect2f& box :
       {cv::Rect2f(700, 500, 10, 10), cv::Rect2f(640, 480, 5, 5), cv::Rect2f(50, 50, -10, 10),
        cv::Rect2f(-30, -30, 10, 10), cv::Rect2f(std::nanf(""), 0, 10, 10)}) {
    const CropTexture e = ComputeCropTexture(black, box);
    EXPECT_FALSE(e.valid) << box;
    EXPECT_TRUE(e.lbp.empty());
    ExpectAllFinite(e);
  }
  EXPECT_FALSE(ComputeCropTexture(cv::Mat(), cv::Rect2f(0, 0, 10, 10)).valid);
  // A huge box is clipped to the frame.
  EXPECT_TRUE(ComputeCropTexture(black, cv::Rect2f(-1e6f, -1e6f, 3e6f, 3e6f)).valid);
}

// The window signals from the crops, and the LBP likelihood ratio under fitted class means.
FrameCue CueWithTexture(const cv::Mat& img) {
  FrameCue c;
  c.has_face = true;
  c.cnn_p_live = 0.5f;
  c.texture = ComputeCropTexture(
      img, cv::Rect2f(0, 0, static_cast<float>(img.cols), static_cast<float>(img.rows)));
  return c;
}

TEST(WindowTexture, LikelihoodRatioFavoursTheClassAWindowLooksLike) {
  cv::Mat stripes(64, 64, CV_8UC3);
  for (int x = 0; x < 64; ++x) stripes.col(x).setTo(cv::Scalar::all(x % 2 == 0 ? 20 : 230));
  const cv::Mat smooth = SmoothTexture(64, 5);
  std::vector<WindowSignals> windows;
  std::vector<bool> live;
  for (int i = 0; i < 6; ++i) {
    windows.push_back(ComputeWindowSignals({CueWithTexture(smooth), CueWithTexture(smooth)}, 0));
    live.push_back(true);
    windows.push_back(ComputeWindowSignals({CueWithTexture(stripes), CueWithTexture(stripes)}, 0));
    live.push_back(false);
  }
  ASSERT_EQ(windows[0].texture.size(), kTextureBins);
  SequenceModel m = FitSequenceModel(windows, live, {"lbp_llr"}, 0.01f);
  ASSERT_EQ(m.texture_live_mean.size(), kTextureBins);
  WindowSignals a = windows[0], b = windows[1];
  ApplyTextureModel(m, a);
  ApplyTextureModel(m, b);
  EXPECT_GT(a.values.at("lbp_llr"), 0.f);
  EXPECT_LT(b.values.at("lbp_llr"), 0.f);
  EXPECT_LT(a.values.at("lbp_chi2"), 0.01f);
  EXPECT_GT(b.values.at("lbp_chi2"), a.values.at("lbp_chi2"));
  EXPECT_TRUE(FuseWindow(m, windows[0]).live);
  EXPECT_FALSE(FuseWindow(m, windows[1]).live);
  // The texture means travel with the model; a texture signal without them is refused.
  auto back = SequenceModelFromJson(SequenceModelToJson(m));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_FLOAT_EQ(FuseWindow(*back, windows[1]).score, FuseWindow(m, windows[1]).score);
  nlohmann::json bad = SequenceModelToJson(m);
  bad.erase("texture");
  EXPECT_EQ(SequenceModelFromJson(bad).status().reason(), "sequence_model_invalid");
  bad = SequenceModelToJson(m);
  bad["texture"]["live_mean"] = std::vector<float>(10, 0.1f);
  EXPECT_EQ(SequenceModelFromJson(bad).status().reason(), "sequence_model_invalid");
}

TEST(WindowTexture, AModelThatDoesNotNameTheNewSignalsIgnoresThem) {
  // The first seven names are those of manifests written before the texture signals.
  const std::vector<std::string> old = {"cnn",      "planarity", "blink", "mouth",
                                        "identity", "bezel",     "jitter"};
  ASSERT_GE(SignalNames().size(), old.size());
  EXPECT_TRUE(std::equal(old.begin(), old.end(), SignalNames().begin()));
  SequenceModel m;
  m.weight["cnn"] = 1.5f;
  m.mean["cnn"] = 0;
  m.stddev["cnn"] = 1;
  FrameCue plain;
  plain.has_face = true;
  plain.cnn_p_live = 0.7f;
  FrameCue textured = CueWithTexture(SmoothTexture(64, 6));
  textured.cnn_p_live = 0.7f;
  const WindowSignals a = ComputeWindowSignals({plain, plain}, 0);
  const WindowSignals b = ComputeWindowSignals({textured, textured}, 0);
  EXPECT_NE(a.values.at("colour_diversity"), b.values.at("colour_diversity"));
  EXPECT_FLOAT_EQ(FuseWindow(m, a).score, FuseWindow(m, b).score);
}

TEST(WindowTexture, DistortionSignalsAreTheMedianOverFrames) {
  std::vector<FrameCue> cues;
  for (int v : {0, 128, 255})
    cues.push_back(CueWithTexture(cv::Mat(64, 64, CV_8UC3, cv::Scalar::all(v))));
  cues.push_back(FrameCue{});  // no face: not counted
  const WindowSignals w = ComputeWindowSignals(cues, 0);
  EXPECT_FLOAT_EQ(w.values.at("specular"), 0.f);  // median of 0, 0, 1
  EXPECT_EQ(w.face_frames, 3);
}

}  // namespace
}  // namespace facepay::vision
