// Internal: per-format header parsers used by ProbeImage. Each returns dimensions (and EXIF
// orientation for JPEG) or a Status with reason image_truncated / image_corrupt.
#pragma once

#include <cstdint>
#include <span>

#include "facepay/common/status_or.h"
#include "facepay/vision/image_decode.h"

namespace facepay::vision::internal {

StatusOr<ImageInfo> ParseJpegHeader(std::span<const uint8_t> b);
StatusOr<ImageInfo> ParsePngHeader(std::span<const uint8_t> b);
StatusOr<ImageInfo> ParseBmpHeader(std::span<const uint8_t> b);
StatusOr<ImageInfo> ParseWebpHeader(std::span<const uint8_t> b);

// Orientation tag (0x0112) from a TIFF/EXIF block (after "Exif\0\0"); 1 when absent/invalid.
int ParseExifOrientation(std::span<const uint8_t> tiff);

}  // namespace facepay::vision::internal
