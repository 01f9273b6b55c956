// Gallery search benchmark: build an index of N unit vectors once, then, for each requested
// search effort, time single queries and multi-threaded throughput and measure recall against
// exact search over the same vectors.
//
// Gallery: synthetic unit vectors ("random": isotropic, the worst case for graph and cluster
// indexes since 512-D noise has no structure; "face-like": drawn from the mean and covariance
// of the caller's real embeddings, so the synthetic crowd resembles faces), with the caller's
// real embeddings mixed in at spread positions. When real identities are given, only the first
// embedding of each identity enters the gallery and the others are REAL MATED PROBES (another
// photo of an enrolled person: the realistic query). Other queries are synthetic probes: a
// gallery vector plus noise (cosine ~0.6 to its source, like a mated probe), the noise
// isotropic ("random") or within the face subspace ("face-like").
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "facepay/common/status_or.h"
#include "facepay/vision/face_types.h"

namespace facepay::biometrics {

inline constexpr int64_t kMaxBenchGallery = 2'000'000;

struct SearchBenchOptions {
  int64_t size = 10'000;
  std::string factory = "Flat";
  int queries = 1000;  // total; up to half are real mated probes when identities are given
  int threads = 2;
  int dim = 512;
  std::vector<int> ef_search = {64};  // one measured point each: HNSW efSearch / IVF nprobe
  int ef_construction = 0;            // HNSW build effort; 0 = FAISS default (40)
  int exact_queries = 200;            // single queries timed for the exact baseline
  std::string synthetic = "random";   // "random" | "face-like"
  uint64_t seed = 42;
  std::vector<vision::Embedding> real;     // mixed into the gallery
  std::vector<std::string> real_identity;  // parallel to `real`, or empty
  bool progress = true;
  // When set: the built index is saved there (with `<path>.json` naming the gallery it was
  // built over and its build time), and a later run over the same gallery (factory, size,
  // synthetic kind, seed, real vector count, efConstruction) loads it instead of building:
  // a million-row graph takes most of an hour to build and seconds to load.
  std::string index_cache;
  // Also time every effort with FAISS's own HNSW search (IndexHNSW::search) right after
  // facepay's prefetching one, as the baseline of the same run (GalleryIndex::
  // GraphSearchBaseline); the same for other index types.
  bool compare_faiss = false;
};

struct SearchBenchPoint {
  int ef_search = 0;
  double p50_ms = 0, p99_ms = 0, mean_ms = 0;  // wall clock
  // CPU time of the searching thread: the latency without waiting for a busy core.
  double cpu_p50_ms = 0, cpu_p99_ms = 0;
  double qps = 0;  // on `threads` threads
  // Top-1 (and top-10 overlap) equal to exact search, over all queries and by query kind.
  double recall_at_1 = 1, recall_at_10 = 1;
  double recall_at_1_synthetic = 1, recall_at_1_real = 1;
  // Real mated probes whose mate is the rank-1 result (what identification needs).
  double real_mate_rank1 = 0;
  // Each real probe whose top-1 differs from exact search's: the exact top-1 and top-2 scores
  // and the score of the top-1 returned (how near a tie each miss is).
  std::vector<std::array<float, 3>> real_misses;
  // With compare_faiss: the same effort measured with FAISS's own search.
  std::shared_ptr<const SearchBenchPoint> faiss;
};

struct SearchBenchResult {
  int64_t size = 0;
  std::string factory, synthetic;
  int queries = 0, threads = 0, ef_construction = 0;
  size_t real_vectors = 0;  // real embeddings in the gallery
  size_t real_probes = 0, synthetic_queries = 0;
  double build_s = 0;      // train (IVF) + add, wall clock, on `threads` OpenMP threads
  double build_cpu_s = 0;  // CPU seconds of the whole process during the build
  bool index_cached = false;  // loaded from options.index_cache (build times from that build)
  double bytes_per_template = 0;
  double peak_rss_mb = 0;
  // Exact baseline: single-query latency (brute-force inner product scan, one thread).
  double exact_p50_ms = 0, exact_p99_ms = 0;
  double exact_cpu_p50_ms = 0, exact_cpu_p99_ms = 0;
  int exact_timed_queries = 0;
  double exact_real_mate_rank1 = 0;  // the same share with exact search
  std::vector<SearchBenchPoint> points;
};

// InvalidArgument: "invalid_size" unless 10 <= size <= kMaxBenchGallery; "invalid_queries";
// "invalid_threads"; "invalid_ef_search"; "invalid_synthetic" (unknown kind, or face-like
// without >= 64 real embeddings); "index_cache_mismatch" (the cached index was built over
// another gallery).
StatusOr<SearchBenchResult> RunSearchBench(const SearchBenchOptions& options);
nlohmann::json SearchBenchToJson(const SearchBenchResult& r);

}  // namespace facepay::biometrics
