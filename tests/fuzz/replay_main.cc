// Runs a fuzz target over every file of the given corpus folders (a regular test without
// libFuzzer): each nasty input must be handled without a crash or sanitizer report.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  size_t n = 0;
  for (int i = 1; i < argc; ++i) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(argv[i])) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path(), std::ios::binary);
      std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
      // Every prefix too: truncation is the commonest real-world damage.
      for (size_t k = 0; k < bytes.size(); k += 1 + bytes.size() / 64) {
        LLVMFuzzerTestOneInput(bytes.data(), k);
      }
      ++n;
    }
  }
  std::printf("replayed %zu corpus files\n", n);
  return n > 0 ? 0 : 1;
}
