// Fuzz target: untrusted image bytes through the header parsers and the decoder.
#include <cstddef>
#include <cstdint>

#include "facepay/vision/image_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  facepay::vision::DecodeLimits lim;
  lim.max_bytes = 1 << 20;
  lim.max_pixels = 4'000'000;  // keep each decode cheap; larger inputs are refused by the header
  auto img = facepay::vision::DecodeImage({data, size}, lim);
  if (img.ok() && (img->empty() || img->type() != CV_8UC3)) __builtin_trap();
  if (!img.ok() && img.status().reason().empty()) __builtin_trap();
  return 0;
}
