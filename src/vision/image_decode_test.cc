#include "facepay/vision/image_decode.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace facepay::vision {
namespace {

std::vector<uint8_t> Encode(const std::string& ext, int w = 64, int h = 48) {
  cv::Mat img(h, w, CV_8UC3);
  cv::randu(img, 0, 255);
  cv::rectangle(img, cv::Rect(4, 4, 20, 10), cv::Scalar(0, 0, 255), cv::FILLED);
  std::vector<uint8_t> out;
  EXPECT_TRUE(cv::imencode(ext, img, out)) << ext;
  return out;
}

std::string ReasonOf(const std::vector<uint8_t>& b, const DecodeLimits& lim = {}) {
  auto r = DecodeImage(b, lim);
  return r.ok() ? "ok" : std::string(r.status().reason());
}

class EveryFormat : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryFormat, DecodesToBgrOfTheSameSize) {
  const auto bytes = Encode(GetParam());
  auto img = DecodeImage(bytes, {});
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->cols, 64);
  EXPECT_EQ(img->rows, 48);
  EXPECT_EQ(img->type(), CV_8UC3);
}

TEST_P(EveryFormat, EveryTruncationIsRefusedWithAReasonAndNeverCrashes) {
  const auto bytes = Encode(GetParam());
  int truncated = 0;
  for (size_t n = 1; n < bytes.size(); n += std::max<size_t>(1, bytes.size() / 97)) {
    const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(n));
    const std::string reason = ReasonOf(cut);
    EXPECT_NE(reason, "ok") << GetParam() << " cut at " << n;
    truncated += reason == "image_truncated";
  }
  EXPECT_GT(truncated, 0);
}

INSTANTIATE_TEST_SUITE_P(Formats, EveryFormat, ::testing::Values(".jpg", ".png", ".bmp", ".webp"),
                         [](const auto& p) { return p.param.substr(1); });

TEST(DecodeImage, EmptyInputIsImageEmpty) { EXPECT_EQ(ReasonOf({}), "image_empty"); }

TEST(DecodeImage, UnknownSignatureIsUnsupported) {
  const std::string gif = "GIF89a\x01\x00\x01\x00\x80\x00\x00";
  EXPECT_EQ(ReasonOf({gif.begin(), gif.end()}), "image_unsupported_format");
  const std::string text = "hello, this is not an image at all";
  EXPECT_EQ(ReasonOf({text.begin(), text.end()}), "image_unsupported_format");
}

// Found by fuzzing (CI, 2026-12-01): a WebP header with the DICOM magic at offset 128 reached
// OpenCV's GDCM decoder, which aborted the process (an assert) instead of failing.
TEST(DecodeImage, AnImageCarryingTheDicomMagicIsRefusedBeforeOpenCvSeesIt) {
  std::vector<uint8_t> b(140, 0);
  const std::string head = "RIFF\x16\x00\x00\x00WEBPVP8L";
  std::copy(head.begin(), head.end(), b.begin());
  std::copy_n("DICM", 4, b.begin() + 128);
  EXPECT_EQ(ReasonOf(b), "image_unsupported_format");
}

TEST(DecodeImage, TooManyBytesIsRefusedBeforeParsing) {
  DecodeLimits lim;
  lim.max_bytes = 100;
  EXPECT_EQ(ReasonOf(Encode(".png"), lim), "image_too_large");
}

TEST(DecodeImage, HugePngHeaderIsRefusedWithoutDecoding) {
  // A valid PNG signature + IHDR claiming 100000 x 100000 pixels, then IEND.
  std::vector<uint8_t> b = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A,
                            0, 0, 0, 13, 'I', 'H', 'D', 'R',
                            0x00, 0x01, 0x86, 0xA0, 0x00, 0x01, 0x86, 0xA0, 8, 2, 0, 0, 0,
                            0, 0, 0, 0,
                            0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
  EXPECT_EQ(ReasonOf(b), "image_too_many_pixels");
}

TEST(DecodeImage, HugePngHeaderWithoutTheRestIsTooLargeNotTruncated) {
  // What an upload of a decompression bomb's first bytes looks like: the size decides.
  std::vector<uint8_t> b = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13,
                            'I',  'H', 'D', 'R', 0x00, 0x00, 0x4E, 0x20, 0x00, 0x00, 0x4E, 0x20,
                            8,    2,   0,   0,   0};
  EXPECT_EQ(ReasonOf(b), "image_too_many_pixels");
}

TEST(DecodeImage, HugeBmpDimensionsDoNotOverflowTheSizeCheck) {
  // Found by fuzzing: 1.5e9 x 2e9 x 24 bpp overflowed stride * height (signed UB).
  std::vector<uint8_t> b = {'B', 'M', 0x46, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 0x28, 0, 0, 0,
                            0x00, 0x94, 0x35, 0x77, 0x00, 0x94, 0x35, 0x77, 1, 0, 0x18, 0};
  b.resize(70, 0);
  const std::string r = ReasonOf(b);
  EXPECT_TRUE(r == "image_too_many_pixels" || r == "image_truncated") << r;
}

TEST(DecodeImage, PixelLimitIsConfigurable) {
  DecodeLimits lim;
  lim.max_pixels = 64 * 48 - 1;
  EXPECT_EQ(ReasonOf(Encode(".jpg"), lim), "image_too_many_pixels");
  lim.max_pixels = 64 * 48;
  EXPECT_EQ(ReasonOf(Encode(".jpg"), lim), "ok");
}

TEST(DecodeImage, GarbageAfterValidJpegHeaderIsCorrupt) {
  auto b = Encode(".jpg");
  // Keep the headers, replace the entropy-coded data with noise but keep the EOI marker.
  for (size_t i = b.size() / 2; i + 2 < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 7);
  const std::string r = ReasonOf(b);
  // libjpeg may salvage noise as pixels; what matters is no crash and no truncation claim.
  EXPECT_TRUE(r == "ok" || r == "image_corrupt" || r == "image_truncated") << r;
}

TEST(DecodeImage, JpegExifOrientationIsApplied) {
  // Build a JPEG with an APP1 Exif segment saying orientation 6 (rotate 90 CW).
  auto jpg = Encode(".jpg", 64, 48);
  const std::vector<uint8_t> app1 = {
      0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0,          // APP1, length 34
      'M', 'M', 0x00, 0x2A, 0x00, 0x00, 0x00, 0x08,              // TIFF header, IFD at 8
      0x00, 0x01,                                                // 1 entry
      0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00,  // orientation=6
      0x00, 0x00, 0x00, 0x00};                                   // next IFD
  std::vector<uint8_t> with(jpg.begin(), jpg.begin() + 2);
  with.insert(with.end(), app1.begin(), app1.end());
  with.insert(with.end(), jpg.begin() + 2, jpg.end());
  auto info = ProbeImage(with, {});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->exif_orientation, 6);
  auto img = DecodeImage(with, {});
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->cols, 48);
  EXPECT_EQ(img->rows, 64);
}

TEST(ReadImageFile, MissingFileIsFileNotFound) {
  auto r = ReadImageFile("/nonexistent/face.jpg", {});
  EXPECT_EQ(r.status().reason(), "file_not_found");
}

}  // namespace
}  // namespace facepay::vision
