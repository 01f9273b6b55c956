// Fuzz target: camera profiles (LoadCameraProfile, include/facepay/vision/sequence_liveness.h),
// which only reads a file: the bytes are written to a scratch file first.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "facepay/vision/sequence_liveness.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = facepay::fuzz::ScratchDir("camera_profile") + "/profile.json";
  if (!facepay::fuzz::WriteFile(path, facepay::fuzz::AsText(data, size))) return 0;
  auto p = facepay::vision::LoadCameraProfile(path);
  if (p.ok()) {
    if (!std::isfinite(p->cnn_logit_offset) || std::abs(p->cnn_logit_offset) > 20) __builtin_trap();
  } else if (p.status().reason().empty()) {
    __builtin_trap();
  }
  return 0;
}
