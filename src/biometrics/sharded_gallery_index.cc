// "Shards<N>:<factory>": N indexes of <factory>, each holding the labels that hash to it,
// searched at once (one thread each) and merged (see gallery_index.h).
#include "facepay/biometrics/graph_search_baseline.h"
#include "facepay/biometrics/gallery_index.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <system_error>
#include <unordered_set>

#include "faiss_gallery_index.h"

namespace facepay::biometrics {
namespace {

// Serialize(): the magic, the shard count, then each shard's blob with its length. Read as the
// length prefix of an unsharded blob, the magic would be an absurd 3.5e18 bytes.
constexpr char kBlobMagic[8] = {'F', 'P', 'S', 'H', 'A', 'R', 'D', '1'};
// Save(path): this manifest at `path`, each shard's snapshot at `path`.shard<i>.
constexpr char kFileMagic[8] = {'F', 'P', 'S', 'H', 'F', 'I', 'L', '1'};

constexpr int kMaxShards = 64;
constexpr std::string_view kShardsPrefix = "Shards";

bool IsSharded(const std::string& factory) { return factory.rfind(kShardsPrefix, 0) == 0; }

uint64_t Mix(uint64_t x) {  // splitmix64's finaliser: spreads sequential template ids evenly
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class ShardedGalleryIndex final : public GalleryIndex, public GraphSearchBaseline {
 public:
  ShardedGalleryIndex(std::string factory, std::vector<std::unique_ptr<GalleryIndex>> shards)
      : factory_(std::move(factory)), shards_(std::move(shards)) {}

  Status Add(int64_t label, std::span<const float> v) override { return Of(label).Add(label, v); }

  Status AddBatch(std::span<const int64_t> labels, std::span<const float> data) override {
    const size_t d = static_cast<size_t>(dim());
    if (data.size() != labels.size() * d) {
      return InvalidArgument("dimension_mismatch", "batch size does not match labels x dim");
    }
    // Every label checked before any shard changes; what a shard can still refuse after the
    // first has taken its part is a batch too small to train it (callers rebuild then).
    std::unordered_set<int64_t> seen;
    for (int64_t l : labels) {
      if (Contains(l) || !seen.insert(l).second) {
        return AlreadyExists("label_exists", "duplicate label");
      }
    }
    std::vector<std::vector<int64_t>> part_labels(shards_.size());
    std::vector<std::vector<float>> part_data(shards_.size());
    for (size_t i = 0; i < labels.size(); ++i) {
      const size_t s = ShardOf(labels[i]);
      part_labels[s].push_back(labels[i]);
      part_data[s].insert(part_data[s].end(), data.begin() + static_cast<std::ptrdiff_t>(i * d),
                          data.begin() + static_cast<std::ptrdiff_t>((i + 1) * d));
    }
    // Shard by shard: each build already uses every core (FAISS/OpenMP).
    for (size_t s = 0; s < shards_.size(); ++s) {
      if (part_labels[s].empty()) continue;
      FACEPAY_RETURN_IF_ERROR(shards_[s]->AddBatch(part_labels[s], part_data[s]));
    }
    return Status::Ok();
  }

  Status Remove(int64_t label) override { return Of(label).Remove(label); }
  Status Replace(int64_t label, std::span<const float> v) override {
    return Of(label).Replace(label, v);
  }

  StatusOr<std::vector<IndexHit>> Search(std::span<const float> q, int k) const override {
    if (k < 1 || k > kMaxSearchK) {
      return InvalidArgument("invalid_k", "k must be in 1.." + std::to_string(kMaxSearchK));
    }
    // Shard 0 on the calling thread, the others on one thread each, at the same time: a
    // query's latency is one shard's, not the sum.
    std::vector<std::future<StatusOr<std::vector<IndexHit>>>> others;
    for (size_t s = 1; s < shards_.size(); ++s) {
      try {
        others.push_back(std::async(std::launch::async,
                                    [this, s, q, k] { return shards_[s]->Search(q, k); }));
      } catch (const std::system_error&) {
        // No thread to be had (process limit): this shard runs on the calling thread after
        // shard 0, slower but the same result.
        others.push_back(std::async(std::launch::deferred,
                                    [this, s, q, k] { return shards_[s]->Search(q, k); }));
      }
    }
    auto first = shards_[0]->Search(q, k);
    std::vector<IndexHit> all;
    Status failed = Status::Ok();
    const auto take = [&](StatusOr<std::vector<IndexHit>>& r) {
      if (!r.ok()) {
        if (failed.ok()) failed = r.status();
        return;
      }
      all.insert(all.end(), r->begin(), r->end());
    };
    take(first);
    for (auto& f : others) {
      auto r = f.get();
      take(r);
    }
    FACEPAY_RETURN_IF_ERROR(failed);
    // A label stored in a shard its hash does not name (only a damaged snapshot holds one:
    // found by fuzzing) is unreachable by Contains/Remove, so it is not answered either.
    all.erase(std::remove_if(all.begin(), all.end(),
                             [this](const IndexHit& h) { return !Contains(h.label); }),
              all.end());
    const size_t keep = std::min(all.size(), static_cast<size_t>(k));
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(),
                      [](const IndexHit& a, const IndexHit& b) { return a.score > b.score; });
    all.resize(keep);
    return all;
  }

  bool Contains(int64_t label) const override { return Of(label).Contains(label); }
  bool trained() const override {
    return std::all_of(shards_.begin(), shards_.end(), [](const auto& s) { return s->trained(); });
  }
  size_t size() const override { return Sum(&GalleryIndex::size); }
  size_t tombstones() const override { return Sum(&GalleryIndex::tombstones); }
  int dim() const override { return shards_[0]->dim(); }
  const std::string& factory() const override { return factory_; }
  void set_search_effort(int ef) override {
    for (auto& s : shards_) s->set_search_effort(ef);
  }
  int search_effort() const override { return shards_[0]->search_effort(); }
  void set_prefetched_search(bool on) override {
    for (auto& s : shards_) {
      if (auto* b = GraphSearchBaselineOf(*s)) b->set_prefetched_search(on);
    }
  }
  void set_build_effort(int ef_construction) override {
    for (auto& s : shards_) s->set_build_effort(ef_construction);
  }
  Status Compact() override {
    for (auto& s : shards_) FACEPAY_RETURN_IF_ERROR(s->Compact());
    return Status::Ok();
  }

  Status Save(const std::string& path) const override {
    for (size_t s = 0; s < shards_.size(); ++s) {
      FACEPAY_RETURN_IF_ERROR(shards_[s]->Save(ShardPath(path, s)));
    }
    // The manifest last, through a rename: a reader finds either the old manifest or a new
    // one whose shards are all written.
    const std::string tmp = path + ".tmp";
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    const uint32_t n = static_cast<uint32_t>(shards_.size());
    const uint64_t fl = factory_.size();
    out.write(kFileMagic, sizeof kFileMagic);
    out.write(reinterpret_cast<const char*>(&n), sizeof n);
    out.write(reinterpret_cast<const char*>(&fl), sizeof fl);
    out.write(factory_.data(), static_cast<std::streamsize>(fl));
    out.close();
    if (!out) return Unavailable("snapshot_write_failed", "cannot write " + tmp);
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) return Unavailable("snapshot_write_failed", ec.message());
    return Status::Ok();
  }

  StatusOr<std::string> Serialize() const override {
    std::string out(kBlobMagic, sizeof kBlobMagic);
    const uint32_t n = static_cast<uint32_t>(shards_.size());
    out.append(reinterpret_cast<const char*>(&n), sizeof n);
    for (const auto& s : shards_) {
      FACEPAY_ASSIGN_OR_RETURN(std::string blob, s->Serialize());
      const uint64_t len = blob.size();
      out.append(reinterpret_cast<const char*>(&len), sizeof len);
      out += blob;
    }
    return out;
  }

  StatusOr<size_t> SerializedBytes() const override {
    size_t total = 0;
    for (const auto& s : shards_) {
      FACEPAY_ASSIGN_OR_RETURN(size_t b, s->SerializedBytes());
      total += b;
    }
    return total;
  }

  static std::string ShardPath(const std::string& path, size_t s) {
    return path + ".shard" + std::to_string(s);
  }

 private:
  size_t ShardOf(int64_t label) const {
    return static_cast<size_t>(Mix(static_cast<uint64_t>(label)) % shards_.size());
  }
  GalleryIndex& Of(int64_t label) const { return *shards_[ShardOf(label)]; }
  size_t Sum(size_t (GalleryIndex::*f)() const) const {
    size_t total = 0;
    for (const auto& s : shards_) total += ((*s).*f)();
    return total;
  }

  std::string factory_;
  std::vector<std::unique_ptr<GalleryIndex>> shards_;
};

// The shards of one index, in order; DataLoss when they do not fit together.
StatusOr<std::unique_ptr<GalleryIndex>> Assemble(std::vector<std::unique_ptr<GalleryIndex>> parts) {
  for (const auto& p : parts) {
    if (p->dim() != parts[0]->dim() || p->factory() != parts[0]->factory() ||
        IsSharded(p->factory())) {
      return DataLoss("snapshot_corrupt", "the shards of a sharded index do not match");
    }
  }
  const std::string factory =
      std::string(kShardsPrefix) + std::to_string(parts.size()) + ":" + parts[0]->factory();
  return std::unique_ptr<GalleryIndex>(
      std::make_unique<ShardedGalleryIndex>(factory, std::move(parts)));
}

}  // namespace

StatusOr<std::unique_ptr<GalleryIndex>> MakeGalleryIndex(const std::string& factory, int dim) {
  if (!IsSharded(factory)) return MakeFaissGalleryIndex(factory, dim);
  const size_t colon = factory.find(':');
  int n = 0;
  const char* b = factory.data() + kShardsPrefix.size();
  const char* e = factory.data() + (colon == std::string::npos ? factory.size() : colon);
  auto [p, ec] = std::from_chars(b, e, n);
  const std::string inner = colon == std::string::npos ? "" : factory.substr(colon + 1);
  if (colon == std::string::npos || ec != std::errc() || p != e || n < 2 || n > kMaxShards ||
      inner.empty() || IsSharded(inner)) {
    return InvalidArgument("invalid_index_factory",
                           "'" + factory + "': Shards<N>:<factory> needs 2 <= N <= " +
                               std::to_string(kMaxShards) + " and an unsharded factory");
  }
  std::vector<std::unique_ptr<GalleryIndex>> parts;
  for (int s = 0; s < n; ++s) {
    FACEPAY_ASSIGN_OR_RETURN(auto part, MakeFaissGalleryIndex(inner, dim));
    parts.push_back(std::move(part));
  }
  return std::unique_ptr<GalleryIndex>(
      std::make_unique<ShardedGalleryIndex>(factory, std::move(parts)));
}

StatusOr<std::unique_ptr<GalleryIndex>> DeserializeGalleryIndex(std::string_view blob) {
  if (blob.size() < sizeof kBlobMagic ||
      std::memcmp(blob.data(), kBlobMagic, sizeof kBlobMagic) != 0) {
    return DeserializeFaissGalleryIndex(blob);
  }
  const auto corrupt = DataLoss("snapshot_corrupt", "sharded index blob is malformed");
  size_t pos = sizeof kBlobMagic;
  uint32_t n = 0;
  if (blob.size() - pos < sizeof n) return corrupt;
  std::memcpy(&n, blob.data() + pos, sizeof n);
  pos += sizeof n;
  if (n < 2 || n > static_cast<uint32_t>(kMaxShards)) return corrupt;
  std::vector<std::unique_ptr<GalleryIndex>> parts;
  for (uint32_t s = 0; s < n; ++s) {
    uint64_t len = 0;
    if (blob.size() - pos < sizeof len) return corrupt;
    std::memcpy(&len, blob.data() + pos, sizeof len);
    pos += sizeof len;
    if (blob.size() - pos < len) return corrupt;
    FACEPAY_ASSIGN_OR_RETURN(auto part, DeserializeFaissGalleryIndex(blob.substr(pos, len)));
    pos += len;
    parts.push_back(std::move(part));
  }
  if (pos != blob.size()) return corrupt;
  return Assemble(std::move(parts));
}

StatusOr<std::unique_ptr<GalleryIndex>> LoadGalleryIndex(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[sizeof kFileMagic] = {};
  in.read(magic, sizeof magic);
  if (!in || std::memcmp(magic, kFileMagic, sizeof magic) != 0) {
    return LoadFaissGalleryIndex(path);
  }
  uint32_t n = 0;
  uint64_t fl = 0;
  in.read(reinterpret_cast<char*>(&n), sizeof n);
  in.read(reinterpret_cast<char*>(&fl), sizeof fl);
  if (!in || n < 2 || n > static_cast<uint32_t>(kMaxShards) || fl > 256) {
    return DataLoss("snapshot_corrupt", "bad sharded index manifest " + path);
  }
  std::vector<std::unique_ptr<GalleryIndex>> parts;
  for (uint32_t s = 0; s < n; ++s) {
    FACEPAY_ASSIGN_OR_RETURN(auto part,
                             LoadFaissGalleryIndex(ShardedGalleryIndex::ShardPath(path, s)));
    parts.push_back(std::move(part));
  }
  return Assemble(std::move(parts));
}

}  // namespace facepay::biometrics
