// Helpers shared by the fuzz targets: a per-process scratch folder for parsers that only read
// files, and a cheap nesting-depth scan for harnesses that hand bytes to nlohmann::json.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace facepay::fuzz {

// A folder under the temp dir, unique to this process, created on first use.
inline const std::string& ScratchDir(const char* name) {
  static const std::string dir = [name] {
    auto d = std::filesystem::temp_directory_path() /
             ("facepay_fuzz_" + std::string(name) + "_" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  return dir;
}

// Writes `bytes` to `path` (truncating); false when the file cannot be written.
inline bool WriteFile(const std::string& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  // fwrite's buffer must not be null, even for 0 bytes (an empty input's data() may be).
  const bool ok =
      bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

// Largest [ / { nesting outside strings (approximate: enough to refuse inputs whose depth
// would only exercise nlohmann's recursive copy/compare/dump, not our code).
inline int JsonDepth(std::string_view s) {
  int depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) max_depth = depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace facepay::fuzz
