// Bounded image decoding: bytes from an untrusted source in, a BGR 8-bit cv::Mat out.
//
// The header is parsed by facepay itself first (format, dimensions, EXIF orientation,
// completeness), so oversize or truncated input is refused before any pixel is decoded.
// Supported: JPEG, PNG, BMP, WebP. EXIF orientation (JPEG) is applied to the result.
// Error reasons (stable tokens): image_empty, image_too_large (bytes), image_too_many_pixels,
// image_truncated, image_unsupported_format, image_corrupt, file_not_found, file_unreadable.
// All functions are thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include <opencv2/core.hpp>

#include "facepay/common/status_or.h"

namespace facepay::vision {

struct DecodeLimits {
  size_t max_bytes = 16u << 20;         // 16 MiB
  int64_t max_pixels = 40'000'000;      // 40 MP (a 7296x5472 photo)
  int max_side_px = 16384;
};

enum class ImageFormat { kJpeg, kPng, kBmp, kWebp };
const char* ImageFormatName(ImageFormat f);

struct ImageInfo {
  ImageFormat format;
  int width = 0;   // as stored, before EXIF orientation
  int height = 0;
  int exif_orientation = 1;  // 1..8; 1 when absent
};

// Parses the header of `bytes`. Verifies the stream is complete (JPEG end-of-image marker,
// PNG IEND chunk, BMP pixel array, WebP RIFF length) and within `limits`.
StatusOr<ImageInfo> ProbeImage(std::span<const uint8_t> bytes, const DecodeLimits& limits);

// ProbeImage, then decodes to BGR 8-bit with EXIF orientation applied.
StatusOr<cv::Mat> DecodeImage(std::span<const uint8_t> bytes, const DecodeLimits& limits);
// The same, for bytes held in a string (a request's decoded image).
inline StatusOr<cv::Mat> DecodeImage(const std::string& bytes, const DecodeLimits& limits) {
  return DecodeImage({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, limits);
}

// Reads a whole file (refusing files above limits.max_bytes without reading them) and decodes.
StatusOr<cv::Mat> ReadImageFile(const std::string& path, const DecodeLimits& limits);

// Reads a file's bytes, at most `max_bytes`. Reasons: file_not_found, file_unreadable,
// image_too_large.
StatusOr<std::string> ReadFileBounded(const std::string& path, size_t max_bytes);

}  // namespace facepay::vision
