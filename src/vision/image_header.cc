#include "image_header.h"

#include <algorithm>
#include <cstring>

namespace facepay::vision::internal {
namespace {

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

Status Truncated(const char* what) { return InvalidArgument("image_truncated", what); }
Status Corrupt(const char* what) { return InvalidArgument("image_corrupt", what); }

bool IsSofMarker(uint8_t m) {
  return (m >= 0xC0 && m <= 0xCF) && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

}  // namespace

int ParseExifOrientation(std::span<const uint8_t> t) {
  if (t.size() < 8) return 1;
  bool le;
  if (t[0] == 'I' && t[1] == 'I') {
    le = true;
  } else if (t[0] == 'M' && t[1] == 'M') {
    le = false;
  } else {
    return 1;
  }
  auto u16 = [&](size_t o) { return le ? Le16(&t[o]) : Be16(&t[o]); };
  auto u32 = [&](size_t o) { return le ? Le32(&t[o]) : Be32(&t[o]); };
  const size_t ifd = u32(4);
  if (ifd + 2 > t.size()) return 1;
  const size_t n = u16(ifd);
  for (size_t i = 0; i < n; ++i) {
    const size_t e = ifd + 2 + i * 12;
    if (e + 12 > t.size()) return 1;
    if (u16(e) == 0x0112) {
      const int v = u16(e + 8);
      return (v >= 1 && v <= 8) ? v : 1;
    }
  }
  return 1;
}

StatusOr<ImageInfo> ParseJpegHeader(std::span<const uint8_t> b) {
  ImageInfo info{ImageFormat::kJpeg};
  size_t p = 2;  // after SOI
  bool have_sof = false;
  while (true) {
    // Skip to the next marker (0xFF followed by a non-0xFF byte).
    if (p >= b.size()) return Truncated("JPEG ends inside its header");
    if (b[p] != 0xFF) return Corrupt("JPEG header: expected a marker");
    while (p < b.size() && b[p] == 0xFF) ++p;
    if (p >= b.size()) return Truncated("JPEG ends inside its header");
    const uint8_t m = b[p++];
    if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // no length
    if (m == 0xD9) return Corrupt("JPEG has no image data before its end marker");
    if (p + 2 > b.size()) return Truncated("JPEG ends inside a segment length");
    const size_t len = Be16(&b[p]);
    if (len < 2) return Corrupt("JPEG segment length below 2");
    if (p + len > b.size()) return Truncated("JPEG ends inside a header segment");
    const uint8_t* seg = &b[p + 2];
    const size_t seg_len = len - 2;
    if (IsSofMarker(m)) {
      if (seg_len < 6) return Corrupt("JPEG frame header too short");
      info.height = Be16(seg + 1);
      info.width = Be16(seg + 3);
      have_sof = true;
    } else if (m == 0xE1 && seg_len >= 6 && std::memcmp(seg, "Exif\0\0", 6) == 0) {
      info.exif_orientation = ParseExifOrientation({seg + 6, seg_len - 6});
    } else if (m == 0xDA) {
      if (!have_sof) return Corrupt("JPEG scan before frame header");
      // Entropy-coded data never contains an unescaped FF D9, so the end-of-image marker
      // must appear after the first scan in a complete file (progressive files included).
      for (size_t q = p + len; q + 1 < b.size(); ++q) {
        if (b[q] == 0xFF && b[q + 1] == 0xD9) return info;
      }
      return Truncated("JPEG ends before its end-of-image marker");
    }
    p += len;
  }
}

StatusOr<ImageInfo> ParsePngHeader(std::span<const uint8_t> b) {
  ImageInfo info{ImageFormat::kPng};
  size_t p = 8;
  bool first = true;
  while (true) {
    if (p + 8 > b.size()) return Truncated("PNG ends before its IEND chunk");
    const size_t len = Be32(&b[p]);
    const uint8_t* type = &b[p + 4];
    if (len > 0x7FFFFFFFu) return Corrupt("PNG chunk length out of range");
    if (first) {
      if (std::memcmp(type, "IHDR", 4) != 0 || len != 13) return Corrupt("PNG: first chunk is not IHDR");
      if (p + 8 + 13 > b.size()) return Truncated("PNG ends inside IHDR");
      const uint32_t w = Be32(&b[p + 8]);
      const uint32_t h = Be32(&b[p + 12]);
      if (w == 0 || h == 0 || w > 0x7FFFFFFFu || h > 0x7FFFFFFFu) return Corrupt("PNG: bad dimensions");
      info.width = static_cast<int>(std::min<uint32_t>(w, 0x7FFFFFFF));
      info.height = static_cast<int>(std::min<uint32_t>(h, 0x7FFFFFFF));
      first = false;
    }
    if (len + 12 > b.size() - p) return Truncated("PNG ends inside a chunk");
    if (std::memcmp(type, "IEND", 4) == 0) return info;
    p += len + 12;
  }
}

StatusOr<ImageInfo> ParseBmpHeader(std::span<const uint8_t> b) {
  ImageInfo info{ImageFormat::kBmp};
  if (b.size() < 30) return Truncated("BMP ends inside its header");
  const uint32_t data_offset = Le32(&b[10]);
  const uint32_t dib = Le32(&b[14]);
  if (dib < 12) return Corrupt("BMP: bad DIB header size");
  int64_t w, h;
  uint32_t bpp, compression = 0;
  if (dib == 12) {
    w = Le16(&b[18]);
    h = static_cast<int16_t>(Le16(&b[20]));
    bpp = Le16(&b[24]);
  } else {
    if (b.size() < 34) return Truncated("BMP ends inside its header");
    w = static_cast<int32_t>(Le32(&b[18]));
    h = static_cast<int32_t>(Le32(&b[22]));
    bpp = Le16(&b[28]);
    compression = Le32(&b[30]);
  }
  if (h < 0) h = -h;
  if (w <= 0 || h <= 0 || w > 0x7FFFFFFF || h > 0x7FFFFFFF) return Corrupt("BMP: bad dimensions");
  if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32) {
    return Corrupt("BMP: unsupported bit depth");
  }
  info.width = static_cast<int>(w);
  info.height = static_cast<int>(h);
  if (data_offset > b.size()) return Truncated("BMP ends before its pixel data");
  if (compression == 0 || compression == 3) {  // uncompressed (RGB / BITFIELDS)
    // w, h < 2^31 and bpp <= 32: stride fits in int64; compare by division, since
    // stride * h can overflow (found by fuzzing).
    const int64_t stride = ((w * bpp + 31) / 32) * 4;
    const int64_t avail = static_cast<int64_t>(b.size() - data_offset);
    if (h > avail / stride) {
      return Truncated("BMP ends inside its pixel data");
    }
  }
  return info;
}

StatusOr<ImageInfo> ParseWebpHeader(std::span<const uint8_t> b) {
  ImageInfo info{ImageFormat::kWebp};
  if (b.size() < 30) return Truncated("WebP ends inside its header");
  const uint64_t riff = uint64_t{Le32(&b[4])} + 8;
  if (riff > b.size()) return Truncated("WebP ends before its RIFF length");
  const uint8_t* c = &b[12];
  const uint8_t* d = c + 8;
  if (std::memcmp(c, "VP8 ", 4) == 0) {
    if (d[3] != 0x9D || d[4] != 0x01 || d[5] != 0x2A) return Corrupt("WebP VP8: bad start code");
    info.width = Le16(d + 6) & 0x3FFF;
    info.height = Le16(d + 8) & 0x3FFF;
  } else if (std::memcmp(c, "VP8L", 4) == 0) {
    if (d[0] != 0x2F) return Corrupt("WebP VP8L: bad signature");
    const uint32_t bits = Le32(d + 1);
    info.width = static_cast<int>((bits & 0x3FFF) + 1);
    info.height = static_cast<int>(((bits >> 14) & 0x3FFF) + 1);
  } else if (std::memcmp(c, "VP8X", 4) == 0) {
    info.width = static_cast<int>((d[4] | (d[5] << 8) | (d[6] << 16)) + 1);
    info.height = static_cast<int>((d[7] | (d[8] << 8) | (d[9] << 16)) + 1);
  } else {
    return Corrupt("WebP: unknown first chunk");
  }
  if (info.width <= 0 || info.height <= 0) return Corrupt("WebP: bad dimensions");
  return info;
}

}  // namespace facepay::vision::internal
