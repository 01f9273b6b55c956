#include "facepay/vision/image_decode.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include <opencv2/imgcodecs.hpp>

#include "image_header.h"

namespace facepay::vision {

const char* ImageFormatName(ImageFormat f) {
  switch (f) {
    case ImageFormat::kJpeg: return "jpeg";
    case ImageFormat::kPng: return "png";
    case ImageFormat::kBmp: return "bmp";
    case ImageFormat::kWebp: return "webp";
  }
  return "unknown";
}

namespace {

Status CheckDimensions(uint32_t w, uint32_t h, const DecodeLimits& limits) {
  if (w > static_cast<uint32_t>(limits.max_side_px) ||
      h > static_cast<uint32_t>(limits.max_side_px) ||
      int64_t{w} * int64_t{h} > limits.max_pixels) {
    std::string msg = "image is ";
    msg += std::to_string(w);
    msg += "x";
    msg += std::to_string(h);
    msg += "; the limit is ";
    msg += std::to_string(limits.max_pixels);
    msg += " pixels and ";
    msg += std::to_string(limits.max_side_px);
    msg += " px per side";
    return InvalidArgument("image_too_many_pixels", msg);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<ImageInfo> ProbeImage(std::span<const uint8_t> b, const DecodeLimits& limits) {
  if (b.empty()) return InvalidArgument("image_empty", "the image has no bytes");
  if (b.size() > limits.max_bytes) {
    return InvalidArgument("image_too_large", "image is " + std::to_string(b.size()) +
                                                  " bytes; the limit is " +
                                                  std::to_string(limits.max_bytes));
  }
  StatusOr<ImageInfo> info = InvalidArgument(
      "image_unsupported_format", "not a JPEG, PNG, BMP or WebP image (unrecognised signature)");
  static constexpr uint8_t kPngSig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
    info = internal::ParseJpegHeader(b);
  } else if (b.size() >= 8 && std::memcmp(b.data(), kPngSig, 8) == 0) {
    // IHDR sits at a fixed place: refuse oversized dimensions before anything else, so a
    // bomb's header is "too large" even when the rest of the file never arrives.
    if (b.size() >= 24 && std::memcmp(b.data() + 12, "IHDR", 4) == 0) {
      auto be32 = [&](size_t o) {
        return (uint32_t{b[o]} << 24) | (uint32_t{b[o + 1]} << 16) | (uint32_t{b[o + 2]} << 8) |
               uint32_t{b[o + 3]};
      };
      FACEPAY_RETURN_IF_ERROR(CheckDimensions(be32(16), be32(20), limits));
    }
    info = internal::ParsePngHeader(b);
  } else if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') {
    info = internal::ParseBmpHeader(b);
  } else if (b.size() >= 12 && std::memcmp(b.data(), "RIFF", 4) == 0 &&
             std::memcmp(b.data() + 8, "WEBP", 4) == 0) {
    info = internal::ParseWebpHeader(b);
  } else if (b.size() < 12) {
    // Too short to tell: a prefix of a supported signature is a truncated file.
    static constexpr const char* kPrefixes[] = {"\xFF\xD8\xFF", "\x89PNG\r\n\x1A\n", "BM", "RIFF"};
    for (const char* pre : kPrefixes) {
      const size_t n = std::min(b.size(), std::strlen(pre));
      if (std::memcmp(b.data(), pre, n) == 0) {
        return InvalidArgument("image_truncated", "image ends inside its signature");
      }
    }
  }
  if (!info.ok()) return info;
  if (info->width <= 0 || info->height <= 0) {
    return InvalidArgument("image_corrupt", "image header has zero width or height");
  }
  FACEPAY_RETURN_IF_ERROR(CheckDimensions(static_cast<uint32_t>(info->width),
                                          static_cast<uint32_t>(info->height), limits));
  return info;
}

StatusOr<cv::Mat> DecodeImage(std::span<const uint8_t> b, const DecodeLimits& limits) {
  FACEPAY_ASSIGN_OR_RETURN(ImageInfo info, ProbeImage(b, limits));
  // cv::imdecode picks its decoder by signature, not by the format probed here: bytes that
  // also carry the DICOM magic ("DICM" at offset 128) can reach OpenCV's GDCM decoder, which
  // aborts the process on a malformed file (found by fuzzing: a WebP header + "DICM"). No
  // JPEG, PNG, BMP or WebP a camera sends needs those four bytes there.
  if (b.size() >= 132 && std::memcmp(b.data() + 128, "DICM", 4) == 0) {
    return InvalidArgument("image_unsupported_format",
                           "the image also carries a DICOM signature; refused");
  }
  cv::Mat img;
  try {
    // The buffer is not modified; cv::Mat needs a non-const pointer.
    const cv::Mat buf(1, static_cast<int>(b.size()), CV_8UC1, const_cast<uint8_t*>(b.data()));
    img = cv::imdecode(buf, cv::IMREAD_COLOR);  // applies EXIF orientation
  } catch (const cv::Exception& e) {
    return InvalidArgument("image_corrupt", std::string("decoder failed: ") + e.what());
  }
  if (img.empty()) {
    return InvalidArgument("image_corrupt", std::string("the ") + ImageFormatName(info.format) +
                                                " decoder could not decode the image data");
  }
  const bool same = img.cols == info.width && img.rows == info.height;
  const bool swapped = img.cols == info.height && img.rows == info.width;
  if (!same && !swapped) {
    return InvalidArgument("image_corrupt", "decoded size differs from the header's size");
  }
  return img;
}

StatusOr<std::string> ReadFileBounded(const std::string& path, size_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return NotFound("file_not_found", "no such file: " + path);
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return InvalidArgument("file_unreadable", "cannot read " + path + ": " + ec.message());
  if (size > max_bytes) {
    return InvalidArgument("image_too_large", path + " is " + std::to_string(size) +
                                                  " bytes; the limit is " + std::to_string(max_bytes));
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) return InvalidArgument("file_unreadable", "cannot open " + path);
  std::string data(size, '\0');
  f.read(data.data(), static_cast<std::streamsize>(size));
  if (static_cast<size_t>(f.gcount()) != size) {
    return InvalidArgument("file_unreadable", "short read on " + path);
  }
  return data;
}

StatusOr<cv::Mat> ReadImageFile(const std::string& path, const DecodeLimits& limits) {
  FACEPAY_ASSIGN_OR_RETURN(std::string data, ReadFileBounded(path, limits.max_bytes));
  return DecodeImage({reinterpret_cast<const uint8_t*>(data.data()), data.size()}, limits);
}

}  // namespace facepay::vision
