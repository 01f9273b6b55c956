// GalleryIndex on FAISS with an own label map and tombstones (see gallery_index.h).
#include <faiss/IndexHNSW.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexRefine.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <faiss/utils/distances.h>

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <unordered_map>

#include "facepay/biometrics/graph_search_baseline.h"
#include "faiss_gallery_index.h"
#include "faiss_structure.h"

#include "hnsw_search.h"

namespace facepay::biometrics {
namespace {

constexpr uint32_t kLabelsMagic = 0x46504C31;  // "FPL1"

class FaissGalleryIndex final : public GalleryIndex, public GraphSearchBaseline {
 public:
  FaissGalleryIndex(std::string factory, int dim, std::unique_ptr<faiss::Index> index)
      : factory_(std::move(factory)), dim_(dim), index_(std::move(index)) {
    ApplySearchEffort();
  }

  Status Add(int64_t label, std::span<const float> v) override {
    if (static_cast<int>(v.size()) != dim_) {
      return InvalidArgument("dimension_mismatch", "embedding has " + std::to_string(v.size()) +
                                                       " values, the index " +
                                                       std::to_string(dim_));
    }
    if (rows_.count(label)) return AlreadyExists("label_exists", "label already in the index");
    try {
      if (!index_->is_trained) return FailedPrecondition("index_untrained", factory_);
      index_->add(1, v.data());
    } catch (const std::exception& e) {
      return Internal("index_error", e.what());
    }
    rows_[label] = static_cast<int64_t>(row_label_.size());
    row_label_.push_back(label);
    return Status::Ok();
  }

  Status AddBatch(std::span<const int64_t> labels, std::span<const float> data) override {
    if (data.size() != labels.size() * static_cast<size_t>(dim_)) {
      return InvalidArgument("dimension_mismatch", "batch size does not match labels x dim");
    }
    std::unordered_map<int64_t, int> seen;
    for (int64_t l : labels) {
      if (rows_.count(l) || seen[l]++) return AlreadyExists("label_exists", "duplicate label");
    }
    try {
      if (!index_->is_trained) FACEPAY_RETURN_IF_ERROR(TrainOn(index_.get(), data));
      index_->add(static_cast<faiss::Index::idx_t>(labels.size()), data.data());
    } catch (const std::exception& e) {
      return Internal("index_error", e.what());
    }
    for (int64_t l : labels) {
      rows_[l] = static_cast<int64_t>(row_label_.size());
      row_label_.push_back(l);
    }
    return Status::Ok();
  }

  Status Remove(int64_t label) override {
    auto it = rows_.find(label);
    if (it == rows_.end()) return NotFound("label_not_found", "label not in the index");
    row_label_[static_cast<size_t>(it->second)] = kDead;
    rows_.erase(it);
    ++tombstones_;
    if (tombstones_ > std::max(kMinTombstonesForCompaction, rows_.size() / 4)) return Compact();
    return Status::Ok();
  }

  Status Replace(int64_t label, std::span<const float> v) override {
    if (rows_.count(label)) FACEPAY_RETURN_IF_ERROR(Remove(label));
    return Add(label, v);
  }

  StatusOr<std::vector<IndexHit>> Search(std::span<const float> q, int k) const override {
    if (k < 1 || k > kMaxSearchK) {
      return InvalidArgument("invalid_k", "k must be in 1.." + std::to_string(kMaxSearchK));
    }
    if (static_cast<int>(q.size()) != dim_) {
      return InvalidArgument("dimension_mismatch", "query dimension differs from the index");
    }
    std::vector<IndexHit> out;
    const auto total = static_cast<int64_t>(row_label_.size());
    // Tombstoned rows come back from FAISS too, so more than k rows are fetched: first k plus
    // a margin for the few tombstones near a query (an erased subject's <= 4 templates), then
    // 4x more each time too few live rows came back. Fetching k + every tombstone at once
    // would make each search in a large gallery ask for thousands of rows after many erasures.
    int64_t fetch = std::min<int64_t>(
        total, k + std::min<int64_t>(static_cast<int64_t>(tombstones_), 2 * k + 16));
    if (fetch <= 0) return out;
    // One query per call: FAISS would open an OpenMP team per call whose idle members only
    // add barrier waits (and long stalls when the cores are busy). Parallelism comes from
    // concurrent callers instead; the caller's OpenMP setting is restored afterwards.
    const int omp_before = omp_get_max_threads();
    omp_set_num_threads(1);
    struct Restore {
      int n;
      ~Restore() { omp_set_num_threads(n); }
    } restore{omp_before};
    // An L2 index (see MetricFor) ranks unit vectors as inner product does:
    // |q - x|^2 = 2 - 2 <q, x>, so its distances convert back to cosine scores. (Refined
    // searches already return inner products.)
    const auto* refine = dynamic_cast<const faiss::IndexRefine*>(index_.get());
    const bool l2 = index_->metric_type == faiss::METRIC_L2 && refine == nullptr;
    for (;;) {
      std::vector<float> d(static_cast<size_t>(fetch));
      std::vector<faiss::Index::idx_t> ids(static_cast<size_t>(fetch));
      try {
        // efSearch lives on the index (set_search_effort, under the caller's exclusive lock):
        // FAISS 1.7.3 does not take it from SearchParametersHNSW. HNSW widens the beam to k
        // itself when k > efSearch.
        if (refine != nullptr) {
          SearchRefined(*refine, q, fetch, d, ids);
        } else {
          SearchBase(*index_, q.data(), fetch, d.data(), ids.data());
        }
      } catch (const std::exception& e) {
        return Internal("index_error", e.what());
      }
      out.clear();
      for (int64_t i = 0; i < fetch && static_cast<int>(out.size()) < k; ++i) {
        if (ids[i] < 0 || static_cast<size_t>(ids[i]) >= row_label_.size()) continue;
        int64_t label = row_label_[static_cast<size_t>(ids[i])];
        if (label == kDead) continue;
        const float dist = d[static_cast<size_t>(i)];
        out.push_back({label, l2 ? 1.0f - dist / 2.0f : dist});
      }
      if (static_cast<int>(out.size()) == k || fetch >= total ||
          fetch >= k + static_cast<int64_t>(tombstones_)) {
        return out;
      }
      fetch = std::min<int64_t>(
          {total, fetch * 4, k + static_cast<int64_t>(tombstones_)});
    }
  }

  void set_search_effort(int ef) override {
    ef_search_ = std::clamp(ef, 1, 4096);
    ApplySearchEffort();
  }
  int search_effort() const override { return ef_search_; }
  void set_prefetched_search(bool on) override { prefetched_search_ = on; }
  void set_build_effort(int ef_construction) override {
    ef_construction_ = std::clamp(ef_construction, 1, 4096);
    ApplySearchEffort();
  }
  bool Contains(int64_t label) const override { return rows_.count(label) != 0; }
  bool trained() const override { return index_->is_trained; }
  size_t size() const override { return rows_.size(); }
  size_t tombstones() const override { return tombstones_; }
  int dim() const override { return dim_; }
  const std::string& factory() const override { return factory_; }

  Status Compact() override {
    try {
      // An empty copy that keeps what training learnt (IVF centroids, a PCA): the live rows
      // may be too few to train on again, and they are what the training described anyway.
      std::unique_ptr<faiss::Index> fresh;
      {
        faiss::VectorIOWriter w;
        faiss::write_index(index_.get(), &w);
        faiss::VectorIOReader r;
        r.data = std::move(w.data);
        fresh.reset(faiss::read_index(&r));
        fresh->reset();
      }
      std::vector<float> live;
      std::vector<int64_t> labels;
      live.reserve(rows_.size() * static_cast<size_t>(dim_));
      std::vector<float> v(static_cast<size_t>(dim_));
      // IVF reconstructs a row only through its row -> list direct map.
      if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(Inner(index_.get()))) ivf->make_direct_map(true);
      for (size_t r = 0; r < row_label_.size(); ++r) {
        if (row_label_[r] == kDead) continue;
        index_->reconstruct(static_cast<faiss::Index::idx_t>(r), v.data());
        live.insert(live.end(), v.begin(), v.end());
        labels.push_back(row_label_[r]);
      }
      ApplyEffort(fresh.get());
      if (!fresh->is_trained && !labels.empty()) FACEPAY_RETURN_IF_ERROR(TrainOn(fresh.get(), live));
      if (!labels.empty()) fresh->add(static_cast<faiss::Index::idx_t>(labels.size()), live.data());
      index_ = std::move(fresh);
      ApplySearchEffort();
      row_label_ = std::move(labels);
      rows_.clear();
      for (size_t r = 0; r < row_label_.size(); ++r) rows_[row_label_[r]] = static_cast<int64_t>(r);
      tombstones_ = 0;
    } catch (const std::exception& e) {
      return Internal("index_error", std::string("compaction failed: ") + e.what());
    }
    return Status::Ok();
  }

  Status Save(const std::string& path) const override {
    const std::string tmp = path + ".tmp", ltmp = path + ".labels.tmp";
    try {
      faiss::write_index(index_.get(), tmp.c_str());
    } catch (const std::exception& e) {
      return Unavailable("snapshot_write_failed", e.what());
    }
    std::ofstream out(ltmp, std::ios::binary | std::ios::trunc);
    uint32_t magic = kLabelsMagic;
    uint64_t n = row_label_.size(), fl = factory_.size();
    out.write(reinterpret_cast<const char*>(&magic), sizeof magic);
    out.write(reinterpret_cast<const char*>(&fl), sizeof fl);
    out.write(factory_.data(), static_cast<std::streamsize>(fl));
    out.write(reinterpret_cast<const char*>(&n), sizeof n);
    out.write(reinterpret_cast<const char*>(row_label_.data()),
              static_cast<std::streamsize>(n * sizeof(int64_t)));
    out.close();
    if (!out) return Unavailable("snapshot_write_failed", "cannot write " + ltmp);
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (!ec) std::filesystem::rename(ltmp, path + ".labels", ec);
    if (ec) return Unavailable("snapshot_write_failed", ec.message());
    return Status::Ok();
  }

  StatusOr<std::string> Serialize() const override {
    faiss::VectorIOWriter w;
    try {
      faiss::write_index(index_.get(), &w);
    } catch (const std::exception& e) {
      return Internal("index_error", e.what());
    }
    // [u64 faiss bytes][faiss][u64 factory len][factory][u64 rows][rows * i64 labels]
    std::string out;
    auto put = [&out](const void* p, size_t n) {
      if (n > 0) out.append(static_cast<const char*>(p), n);  // an empty vector's data() may be null
    };
    uint64_t n = w.data.size(), fl = factory_.size(), rows = row_label_.size();
    put(&n, 8);
    put(w.data.data(), w.data.size());
    put(&fl, 8);
    put(factory_.data(), fl);
    put(&rows, 8);
    put(row_label_.data(), rows * 8);
    return out;
  }

  static StatusOr<std::unique_ptr<GalleryIndex>> Deserialize(std::string_view blob) {
    size_t pos = 0;
    auto get = [&](void* p, size_t n) {
      if (blob.size() - pos < n) return false;
      if (n == 0) return true;  // memcpy with a null pointer is undefined even for 0 bytes
      std::memcpy(p, blob.data() + pos, n);
      pos += n;
      return true;
    };
    const auto corrupt = DataLoss("snapshot_corrupt", "index snapshot blob is malformed");
    uint64_t n = 0, fl = 0, rows = 0;
    if (!get(&n, 8) || blob.size() - pos < n) return corrupt;
    faiss::VectorIOReader r;
    r.data.assign(blob.data() + pos, blob.data() + pos + n);
    pos += n;
    std::unique_ptr<faiss::Index> index;
    try {
      index.reset(faiss::read_index(&r));
    } catch (const std::exception& e) {
      return DataLoss("snapshot_corrupt", e.what());
    }
    if (!get(&fl, 8) || fl > 256) return corrupt;
    std::string factory(fl, '\0');
    if (!get(factory.data(), fl) || !get(&rows, 8)) return corrupt;
    if (rows != static_cast<uint64_t>(index->ntotal) || blob.size() - pos != rows * 8) return corrupt;
    FACEPAY_RETURN_IF_ERROR(CheckStructure(*index));
    std::vector<int64_t> labels(rows);
    get(labels.data(), rows * 8);
    auto g = std::make_unique<FaissGalleryIndex>(factory, index->d, std::move(index));
    for (size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] == kDead) {
        ++g->tombstones_;
      } else {
        g->rows_[labels[i]] = static_cast<int64_t>(i);
      }
    }
    g->row_label_ = std::move(labels);
    return std::unique_ptr<GalleryIndex>(std::move(g));
  }

  StatusOr<size_t> SerializedBytes() const override {
    try {
      faiss::VectorIOWriter w;
      faiss::write_index(index_.get(), &w);
      return w.data.size();
    } catch (const std::exception& e) {
      return Internal("index_error", e.what());
    }
  }

  static StatusOr<std::unique_ptr<GalleryIndex>> Load(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) || !std::filesystem::exists(path + ".labels", ec)) {
      return NotFound("snapshot_missing", "no index snapshot at " + path);
    }
    std::unique_ptr<faiss::Index> index;
    try {
      index.reset(faiss::read_index(path.c_str()));
    } catch (const std::exception& e) {
      return DataLoss("snapshot_corrupt", e.what());
    }
    std::ifstream in(path + ".labels", std::ios::binary);
    uint32_t magic = 0;
    uint64_t fl = 0, n = 0;
    in.read(reinterpret_cast<char*>(&magic), sizeof magic);
    in.read(reinterpret_cast<char*>(&fl), sizeof fl);
    if (!in || magic != kLabelsMagic || fl > 256) {
      return DataLoss("snapshot_corrupt", "bad labels file header");
    }
    std::string factory(fl, '\0');
    in.read(factory.data(), static_cast<std::streamsize>(fl));
    in.read(reinterpret_cast<char*>(&n), sizeof n);
    if (!in || n != static_cast<uint64_t>(index->ntotal)) {
      return DataLoss("snapshot_corrupt", "labels do not match the index");
    }
    FACEPAY_RETURN_IF_ERROR(CheckStructure(*index));
    std::vector<int64_t> labels(n);
    in.read(reinterpret_cast<char*>(labels.data()), static_cast<std::streamsize>(n * 8));
    if (!in) return DataLoss("snapshot_corrupt", "labels file is truncated");
    auto g = std::make_unique<FaissGalleryIndex>(factory, index->d, std::move(index));
    for (size_t r = 0; r < labels.size(); ++r) {
      if (labels[r] == kDead) {
        ++g->tombstones_;
      } else {
        g->rows_[labels[r]] = static_cast<int64_t>(r);
      }
    }
    g->row_label_ = std::move(labels);
    return std::unique_ptr<GalleryIndex>(std::move(g));
  }

 private:
  static Status CheckStructure(const faiss::Index& index) { return CheckFaissStructure(index); }

  void ApplySearchEffort() { ApplyEffort(index_.get()); }
  // "...,RFlat": the searching index's best max(kRefineFactor x fetch, kMinRerank) candidates
  // (the beam is efSearch wide either way) are re-ranked by the exact inner product with the
  // full vectors the refine index keeps. Not the whole beam: each re-ranked row is a random
  // 2 KiB read, and at 1M rows re-ranking a 384-wide beam cost more than a millisecond while
  // the rows past the 64th of a PCA-space beam almost never win (docs/benchmarks.md). Done here
  // rather than by IndexRefine::search, whose candidate count is a field of the shared index
  // (k_factor), not of the call.
  void SearchRefined(const faiss::IndexRefine& refine, std::span<const float> q, int64_t fetch,
                     std::vector<float>& d, std::vector<faiss::Index::idx_t>& ids) const {
    const auto* flat = dynamic_cast<const faiss::IndexFlat*>(refine.refine_index);
    if (flat == nullptr) throw std::runtime_error("refine index is not flat: " + factory_);
    const int64_t want = std::min<int64_t>(
        refine.ntotal,
        std::max<int64_t>(std::min<int64_t>(ef_search_, kMinRerank),
                          static_cast<int64_t>(kRefineFactor) * fetch));
    std::vector<float> bd(static_cast<size_t>(want));
    std::vector<faiss::Index::idx_t> bl(static_cast<size_t>(want));
    SearchBase(*refine.base_index, q.data(), want, bd.data(), bl.data());
    std::vector<std::pair<float, faiss::Index::idx_t>> scored;
    scored.reserve(bl.size());
    const float* xb = flat->get_xb();
    // Each candidate's full row is a random read: ask for all of them before using the first.
    for (faiss::Index::idx_t row : bl) {
      if (row >= 0) PrefetchBytes(xb + row * dim_, sizeof(float) * static_cast<size_t>(dim_));
    }
    for (faiss::Index::idx_t row : bl) {
      if (row < 0) continue;
      scored.emplace_back(faiss::fvec_inner_product(q.data(), xb + row * dim_,
                                                    static_cast<size_t>(dim_)),
                          row);
    }
    const size_t keep = std::min(scored.size(), static_cast<size_t>(fetch));
    std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(keep),
                      scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t i = 0; i < static_cast<size_t>(fetch); ++i) {
      d[i] = i < keep ? scored[i].first : 0.0f;
      ids[i] = i < keep ? scored[i].second : -1;
    }
  }

  // One query against the searching index (`index` without the re-ranking wrapper): an HNSW
  // graph, alone or behind a projection, is walked by SearchHnswPrefetched unless the FAISS
  // search was asked for; everything else is FAISS's own search.
  void SearchBase(const faiss::Index& index, const float* q, int64_t k, float* d,
                  faiss::Index::idx_t* ids) const {
    if (prefetched_search_) {
      const auto* pre = dynamic_cast<const faiss::IndexPreTransform*>(&index);
      const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(pre ? pre->index : &index);
      if (hnsw != nullptr) {
        const float* x = pre ? pre->apply_chain(1, q) : q;
        // apply_chain allocates the projected query (new[]) unless the chain is empty.
        const std::unique_ptr<const float[]> owned(x != q ? x : nullptr);
        if (SearchHnswPrefetched(*hnsw, x, k, ef_search_, d, ids)) return;
      }
    }
    index.search(1, q, k, d, ids);
  }

  // The searching index inside the wrappers a factory string may add: "...,RFlat" (exact
  // re-ranking of the candidates, IndexRefine) and "PCA128,..." (IndexPreTransform).
  static faiss::Index* Inner(faiss::Index* index) {
    if (auto* r = dynamic_cast<faiss::IndexRefine*>(index)) index = r->base_index;
    if (auto* p = dynamic_cast<faiss::IndexPreTransform*>(index)) index = p->index;
    return index;
  }

  void ApplyEffort(faiss::Index* outer) const {
    faiss::Index* index = Inner(outer);
    if (auto* h = dynamic_cast<faiss::IndexHNSW*>(index)) {
      h->hnsw.efSearch = ef_search_;
      if (ef_construction_ > 0) h->hnsw.efConstruction = ef_construction_;
    }
    if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index)) {
      ivf->nprobe = static_cast<size_t>(std::min<int64_t>(ef_search_, ivf->nlist));
    }
  }

  // k-means (kTrainIterations) on an evenly spaced sample of `data` (kTrainPointsPerList per
  // inverted list; FAISS warns below 39): training on every row of a million-vector batch would take far longer
  // than adding them. Spherical centroids: the vectors are L2-normalised, the metric is IP.
  Status TrainOn(faiss::Index* outer, std::span<const float> data) const {
    faiss::Index* index = outer;
    const auto n = static_cast<int64_t>(data.size() / static_cast<size_t>(dim_));
    int64_t want = n;
    if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(Inner(index))) {
      if (n < static_cast<int64_t>(ivf->nlist)) {
        return FailedPrecondition("index_untrained", "IVF needs at least nlist vectors to train");
      }
      ivf->cp.spherical = true;
      ivf->cp.niter = kTrainIterations;
      want = std::min<int64_t>(n, kTrainPointsPerList * static_cast<int64_t>(ivf->nlist));
    } else {
      want = std::min<int64_t>(n, kTrainSample);  // e.g. a PCA: 512 x 512 covariance
    }
    // A PCA from fewer vectors than twice its output dimension is mostly noise.
    if (auto* r = dynamic_cast<faiss::IndexRefine*>(index)) index = r->base_index;
    if (auto* p = dynamic_cast<faiss::IndexPreTransform*>(index)) {
      for (const faiss::VectorTransform* vt : p->chain) {
        if (n < 2 * static_cast<int64_t>(vt->d_out)) {
          return FailedPrecondition("index_untrained",
                                    factory_ + " needs at least " + std::to_string(2 * vt->d_out) +
                                        " vectors to train its projection, got " +
                                        std::to_string(n));
        }
      }
    }
    std::vector<float> sample;
    const float* train = data.data();
    if (want < n) {
      sample.reserve(static_cast<size_t>(want * dim_));
      for (int64_t i = 0; i < want; ++i) {
        const float* row = data.data() + (i * n / want) * dim_;
        sample.insert(sample.end(), row, row + dim_);
      }
      train = sample.data();
    }
    outer->train(static_cast<faiss::Index::idx_t>(want), train);
    return Status::Ok();
  }

  static constexpr int64_t kDead = -1;
  static constexpr int kHnswEfSearch = 64;
  static constexpr int64_t kTrainPointsPerList = 40;
  static constexpr int kTrainIterations = 10;  // k-means; build time grows linearly with it
  static constexpr int64_t kTrainSample = 65536;  // other trained transforms (PCA)
  // "...,RFlat": at least kRefineFactor x k candidates are re-ranked exactly (SearchRefined).
  static constexpr int kRefineFactor = 4;
  static constexpr int64_t kMinRerank = 64;

  std::string factory_;
  int dim_;
  std::unique_ptr<faiss::Index> index_;
  std::vector<int64_t> row_label_;              // FAISS row -> label, kDead for tombstones
  std::unordered_map<int64_t, int64_t> rows_;   // live label -> FAISS row
  size_t tombstones_ = 0;
  int ef_search_ = kHnswEfSearch;
  int ef_construction_ = 0;  // 0 = the FAISS default
  bool prefetched_search_ = true;
};

}  // namespace

// Inner product for every index except those behind a PCA: a PCA centres the vectors, and the
// inner product of centred vectors no longer ranks as the cosine does, while L2 distance is
// translation-invariant (and ranks unit vectors as the cosine does; Search converts back).
static faiss::MetricType MetricFor(const std::string& factory) {
  return factory.rfind("PCA", 0) == 0 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
}

StatusOr<std::unique_ptr<GalleryIndex>> MakeFaissGalleryIndex(const std::string& factory, int dim) {
  if (dim <= 0 || factory.empty() || factory.size() > 64) {
    return InvalidArgument("invalid_index_factory", "bad index factory or dimension");
  }
  try {
    std::unique_ptr<faiss::Index> index(
        faiss::index_factory(dim, factory.c_str(), MetricFor(factory)));
    return std::unique_ptr<GalleryIndex>(
        std::make_unique<FaissGalleryIndex>(factory, dim, std::move(index)));
  } catch (const std::exception& e) {
    return InvalidArgument("invalid_index_factory",
                           "FAISS rejects '" + factory + "': " + e.what());
  }
}

StatusOr<std::unique_ptr<GalleryIndex>> DeserializeFaissGalleryIndex(std::string_view blob) {
  return FaissGalleryIndex::Deserialize(blob);
}

StatusOr<std::unique_ptr<GalleryIndex>> LoadFaissGalleryIndex(const std::string& path) {
  return FaissGalleryIndex::Load(path);
}

}  // namespace facepay::biometrics
