// Gallery search benchmark: build an index of N unit vectors, time single queries and
// multi-threaded throughput, and measure recall of an approximate index against exact search.
//
// Gallery vectors are random unit vectors, with the caller's real embeddings (if any) mixed in
// at random positions. Queries are noisy copies of gallery vectors (cosine ~0.6 to their
// source, like a mated probe), drawn half from the real embeddings when there are any, so the
// nearest neighbour is meaningful for recall.
#pragma once

#include <cstdint>
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
  int queries = 1000;
  int threads = 2;
  int dim = 512;
  int ef_search = 64;  // HNSW search effort
  uint64_t seed = 42;
  std::vector<vision::Embedding> real;  // mixed into the gallery
  bool progress = true;
};

struct SearchBenchResult {
  int64_t size = 0;
  std::string factory;
  int queries = 0, threads = 0, ef_search = 0;
  size_t real_vectors = 0;
  double build_s = 0;
  double p50_ms = 0, p99_ms = 0, mean_ms = 0;
  double qps = 0;  // on `threads` threads
  double bytes_per_template = 0;
  // Against exact inner-product search over the same vectors (1.0 for Flat by definition).
  double recall_at_1 = 1, recall_at_10 = 1;
  double exact_p50_ms = 0, exact_p99_ms = 0;  // the exact baseline's single-query latency
};

// InvalidArgument("invalid_size") unless 10 <= size <= kMaxBenchGallery; "invalid_queries".
StatusOr<SearchBenchResult> RunSearchBench(const SearchBenchOptions& options);
nlohmann::json SearchBenchToJson(const SearchBenchResult& r);

}  // namespace facepay::biometrics
