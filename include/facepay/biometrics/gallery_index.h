// GalleryIndex: nearest-neighbour search over L2-normalised embeddings by inner product
// (= cosine), on FAISS, chosen by a FAISS factory string: "Flat" (exact, BLAS scan),
// "HNSW32" (graph, approximate), "IVF1024,Flat" (inverted lists), ... Labels are the caller's
// int64 ids (template ids).
//
// Trained indexes (IVF, PCA): the first AddBatch into an untrained index trains it on (a sample
// of) that batch, so a gallery must be built with one AddBatch of representative vectors before
// single Adds; Add into an untrained index is FailedPrecondition("index_untrained"), and so is
// a first batch too small to train on (fewer than nlist vectors for IVF, fewer than twice the
// output dimension for a PCA).
//
// "PCA128,HNSW48,RFlat": an HNSW graph over a 128-D PCA projection whose best max(4 x k, 64)
// candidates are re-ranked by exact inner product on the full vectors: the large-gallery choice
// (docs/benchmarks.md: at 1M templates, efSearch 384, p99 3.5 ms for 99.5% recall@1). HNSW
// graphs are walked by facepay's prefetching beam search (src/biometrics/hnsw_search.h).
// A PCA centres the vectors, which breaks inner-product ranking, so these indexes use L2
// inside FAISS (same order on unit vectors); scores are still cosines.
// The PCA is fitted on the first batch, so that batch must be real face embeddings: on a
// gallery of random (isotropic) vectors it keeps noise directions and recall collapses.
//
// "Shards<N>:<factory>" (2 <= N <= 64), e.g. "Shards2:PCA128,HNSW48,RFlat": N indexes of
// <factory>, each holding the labels that hash to it (each trains on its own part of the first
// batch). A search runs on every shard at once (shard 0 on the caller, the others on a thread
// each, started per query) and merges their best k, at the cost of N cores per query; on two
// cores one graph had the better tail (docs/benchmarks.md). Save writes a manifest at `path`
// and shard i at `path`.shard<i> (each with .labels).
//
// Removal: FAISS graph indexes cannot delete, so every index type uses one scheme: a removed
// label becomes a tombstone (its row stays in FAISS but is filtered out of results; searches
// fetch a few more than k rows, and 4x more while tombstones leave fewer than k live ones, up
// to k + tombstones, so k live results still come back) and the index is rebuilt from
// its live rows (reconstructed from FAISS storage) once tombstones exceed
// max(kMinTombstonesForCompaction, live/4). Replace = remove + add.
//
// Thread-safety: NOT internally synchronised. Concurrent const calls (Search, Save) are safe
// with each other; Add/Remove/Compact need exclusive access (the Gallery holds a
// shared_mutex for that).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "facepay/common/status_or.h"

namespace facepay::biometrics {

inline constexpr size_t kMinTombstonesForCompaction = 1024;
inline constexpr int kMaxSearchK = 1000;

struct IndexHit {
  int64_t label = 0;
  float score = 0;  // inner product
};

class GalleryIndex {
 public:
  virtual ~GalleryIndex() = default;
  // InvalidArgument("dimension_mismatch"); AlreadyExists("label_exists").
  virtual Status Add(int64_t label, std::span<const float> v) = 0;
  // Many at once (data holds labels.size() * dim floats): much faster than Add for building.
  virtual Status AddBatch(std::span<const int64_t> labels, std::span<const float> data) = 0;
  // NotFound("label_not_found").
  virtual Status Remove(int64_t label) = 0;
  virtual Status Replace(int64_t label, std::span<const float> v) = 0;
  // Up to k live hits, best first. Runs on the calling thread only (no OpenMP team). InvalidArgument("invalid_k") unless 1 <= k <= kMaxSearchK.
  virtual StatusOr<std::vector<IndexHit>> Search(std::span<const float> query, int k) const = 0;
  virtual bool Contains(int64_t label) const = 0;
  // False for an IVF or PCA index no batch has trained yet (single Adds then fail).
  virtual bool trained() const = 0;
  virtual size_t size() const = 0;        // live labels
  virtual size_t tombstones() const = 0;  // removed, not yet compacted
  virtual int dim() const = 0;
  virtual const std::string& factory() const = 0;
  // Search effort: HNSW efSearch (default 64) or IVF nprobe (default 64); ignored by Flat.
  virtual void set_search_effort(int ef) = 0;
  virtual int search_effort() const = 0;
  // Build effort of HNSW (efConstruction, FAISS default 40), for vectors added afterwards;
  // ignored by other index types.
  virtual void set_build_effort(int ef_construction) = 0;
  // Rebuilds without tombstones.
  virtual Status Compact() = 0;
  // Writes `path` (FAISS index) and `path`.labels (sharded: see above);
  // Unavailable("snapshot_write_failed").
  virtual Status Save(const std::string& path) const = 0;
  // The whole index (FAISS bytes + label map) as one blob, for sealed snapshots.
  virtual StatusOr<std::string> Serialize() const = 0;
  // Bytes used by FAISS per live vector (approximate, from its serialised size).
  virtual StatusOr<size_t> SerializedBytes() const = 0;
};

// InvalidArgument("invalid_index_factory") for a string FAISS rejects or dim <= 0.
StatusOr<std::unique_ptr<GalleryIndex>> MakeGalleryIndex(const std::string& factory, int dim);
// Reads what Serialize produced. DataLoss("snapshot_corrupt").
StatusOr<std::unique_ptr<GalleryIndex>> DeserializeGalleryIndex(std::string_view blob);
// Reads what Save wrote. NotFound("snapshot_missing"), DataLoss("snapshot_corrupt").
StatusOr<std::unique_ptr<GalleryIndex>> LoadGalleryIndex(const std::string& path);

}  // namespace facepay::biometrics
