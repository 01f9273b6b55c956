// Fuzz target: LFW pair lists and PAD label files (text formats read from disk).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "facepay/eval/datasets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/facepay_lists_fuzz_" + std::to_string(getpid()) + ".txt";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  auto pairs = facepay::eval::ReadLfwPairs(path, "/img");
  if (!pairs.ok() && pairs.status().reason().empty()) __builtin_trap();
  auto labels = facepay::eval::ReadPadLabels(path);
  if (!labels.ok() && labels.status().reason().empty()) __builtin_trap();
  std::remove(path.c_str());
  return 0;
}
