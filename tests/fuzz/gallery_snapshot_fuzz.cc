// Fuzz target: gallery snapshots (include/facepay/biometrics/gallery_index.h) and the sealed
// blob reader in front of them (template_crypto.h). The first byte picks the reader:
//   0: DeserializeGalleryIndex(rest): the index blob a sealed snapshot holds (FAISS bytes +
//      factory + labels, or the sharded form); an accepted index is searched and re-serialised
//   1: LoadGalleryIndex(path): the next two bytes (little endian) give the length of the index
//      file `path`, the remainder is `path`.labels
//   2: TemplateKey::Open / OpenEmbedding / VerifyKeyCheck on the rest, with a fixed key
// Snapshots are authenticated before they are deserialised (Gallery::TryLoadSnapshot), so
// mode 0 is defence in depth: a damaged file written by a key holder must still not crash.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "facepay/biometrics/gallery_index.h"
#include "facepay/biometrics/template_crypto.h"
#include "fuzz_util.h"

namespace {

using facepay::biometrics::GalleryIndex;

// Searching an index deserialised from arbitrary bytes read out of bounds: HNSW neighbour ids,
// rows past the end, labels in the wrong shard, and (CI's run) an IVF whose flat quantizer
// holds fewer centroids than it has lists. Fixed by CheckFaissStructure
// (src/biometrics/faiss_structure.h), which refuses every shape a gallery does not build and
// checks that the parts of the others agree; corpus/gallery_snapshot/search-* keep the cases.
void Exercise(const GalleryIndex& index) {
  const int dim = index.dim();
  if (dim <= 0 || dim > 4096) return;
  for (int k : {1, 5}) {
    std::vector<float> q(static_cast<size_t>(dim), 0.f);
    q[0] = 1.f;
    auto hits = index.Search(q, k);
    if (hits.ok() && hits->size() > static_cast<size_t>(k)) __builtin_trap();
    if (hits.ok()) {
      for (const auto& h : *hits) {
        if (!index.Contains(h.label)) __builtin_trap();
      }
    }
  }
  auto blob = index.Serialize();
  if (blob.ok()) {
    auto again = facepay::biometrics::DeserializeGalleryIndex(*blob);
    if (!again.ok() || (*again)->size() != index.size() || (*again)->dim() != dim) __builtin_trap();
  }
}

const facepay::biometrics::TemplateKey& Key() {
  static const auto key = facepay::biometrics::TemplateKey::FromHex(
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  return *key;
}

}  // namespace

// faiss::read_index leaks the partly read index when it throws on a damaged blob (a raw `new`
// in FAISS's index_read.cpp, not facepay code): leak checking is off for this target only.
extern "C" int __lsan_is_turned_off() { return 1; }
// FAISS sizes its vectors from the bytes (up to 2^40 elements) before reading them, and
// facepay catches the std::bad_alloc of an absurd size (snapshot_corrupt). Under ASan, though,
// a failed `operator new` aborts the process (its runtime cannot throw), so every such input
// was an out-of-memory report that restarted a fork job: ~18 inputs/s. This binary's own
// operator new (over malloc, which ASan still checks) throws past 16 MiB instead (inputs are a few KiB: no sound part of one is larger), as a real
// allocator would once memory runs out.
namespace {
constexpr std::size_t kMaxAlloc = std::size_t{1} << 24;
// Only while an input runs: libFuzzer's own start-up allocations are larger.
bool g_in_input = false;
bool TooBig(std::size_t n) { return g_in_input && n > kMaxAlloc; }
void* Allocate(std::size_t n) {
  void* p = !TooBig(n) ? std::malloc(n == 0 ? 1 : n) : nullptr;
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* AllocateAligned(std::size_t n, std::align_val_t a) {
  const auto al = static_cast<std::size_t>(a);
  void* p = nullptr;
  if (TooBig(n) || posix_memalign(&p, al < sizeof(void*) ? sizeof(void*) : al, n == 0 ? 1 : n) != 0) {
    throw std::bad_alloc();
  }
  return p;
}
}  // namespace
void* operator new(std::size_t n) { return Allocate(n); }
void* operator new[](std::size_t n) { return Allocate(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return !TooBig(n) ? std::malloc(n == 0 ? 1 : n) : nullptr;
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return !TooBig(n) ? std::malloc(n == 0 ? 1 : n) : nullptr;
}
void* operator new(std::size_t n, std::align_val_t a) { return AllocateAligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return AllocateAligned(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace {
int RunOne(const uint8_t* data, size_t size);
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  g_in_input = true;
  const int rc = RunOne(data, size);
  g_in_input = false;
  return rc;
}

namespace {
int RunOne(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest = facepay::fuzz::AsText(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto index = facepay::biometrics::DeserializeGalleryIndex(rest);
      if (index.ok()) {
        Exercise(**index);
      } else if (index.status().reason().empty()) {
        __builtin_trap();
      }
      break;
    }
    case 1: {
      if (rest.size() < 2) return 0;
      const size_t n = std::min<size_t>(rest.size() - 2, static_cast<uint8_t>(rest[0]) |
                                                            static_cast<uint8_t>(rest[1]) << 8);
      static const std::string path = facepay::fuzz::ScratchDir("gallery") + "/index.faiss";
      if (!facepay::fuzz::WriteFile(path, rest.substr(2, n)) ||
          !facepay::fuzz::WriteFile(path + ".labels", rest.substr(2 + n))) {
        return 0;
      }
      auto index = facepay::biometrics::LoadGalleryIndex(path);
      if (index.ok()) {
        Exercise(**index);
      } else if (index.status().reason().empty()) {
        __builtin_trap();
      }
      break;
    }
    default: {
      const auto& key = Key();
      auto opened = key.Open(rest, "facepay-gallery-snapshot-v1|m|Flat");
      if (!opened.ok() && opened.status().reason().empty()) __builtin_trap();
      auto e = facepay::biometrics::OpenEmbedding(key, rest, "ad");
      if (!e.ok() && e.status().reason().empty()) __builtin_trap();
      (void)facepay::biometrics::VerifyKeyCheck(key, rest);
      // What is sealed opens again to the same bytes (the snapshot writer's side).
      auto round = key.Open(key.Seal(rest, "ad"), "ad");
      if (!round.ok() || *round != rest) __builtin_trap();
      break;
    }
  }
  return 0;
}

}  // namespace
