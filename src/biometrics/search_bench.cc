#include "facepay/biometrics/search_bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <iostream>
#include <random>
#include <thread>
#include <unordered_set>

#include "facepay/biometrics/gallery_index.h"

namespace facepay::biometrics {
namespace {

using Clock = std::chrono::steady_clock;

void Normalise(float* v, int dim) {
  double n = 0;
  for (int i = 0; i < dim; ++i) n += static_cast<double>(v[i]) * v[i];
  const auto inv = static_cast<float>(1.0 / std::sqrt(std::max(n, 1e-12)));
  for (int i = 0; i < dim; ++i) v[i] *= inv;
}

struct Latency {
  double p50 = 0, p99 = 0, mean = 0;
};

Latency Summarise(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  Latency l;
  if (ms.empty()) return l;
  l.p50 = ms[ms.size() / 2];
  l.p99 = ms[std::min(ms.size() - 1, static_cast<size_t>(std::ceil(0.99 * ms.size())) - 1)];
  double s = 0;
  for (double x : ms) s += x;
  l.mean = s / static_cast<double>(ms.size());
  return l;
}

// Single-query latencies and the top-10 of each query.
StatusOr<Latency> TimeQueries(const GalleryIndex& index, const std::vector<float>& queries,
                              int nq, int dim, std::vector<std::vector<int64_t>>* top) {
  std::vector<double> ms;
  top->assign(static_cast<size_t>(nq), {});
  for (int q = 0; q < nq; ++q) {
    std::span<const float> v(queries.data() + static_cast<size_t>(q) * dim,
                             static_cast<size_t>(dim));
    const auto t0 = Clock::now();
    FACEPAY_ASSIGN_OR_RETURN(auto hits, index.Search(v, 10));
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    for (const auto& h : hits) (*top)[static_cast<size_t>(q)].push_back(h.label);
  }
  return Summarise(std::move(ms));
}

}  // namespace

StatusOr<SearchBenchResult> RunSearchBench(const SearchBenchOptions& o) {
  if (o.size < 10 || o.size > kMaxBenchGallery) {
    return InvalidArgument("invalid_size", "size must be 10.." + std::to_string(kMaxBenchGallery));
  }
  if (o.queries < 1 || o.queries > 100'000) {
    return InvalidArgument("invalid_queries", "queries must be 1..100000");
  }
  if (o.threads < 1 || o.threads > 64) return InvalidArgument("invalid_threads", "1..64");
  const int dim = o.dim;
  const auto n = static_cast<size_t>(o.size);
  std::mt19937_64 rng(o.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> data(n * static_cast<size_t>(dim));
  for (size_t i = 0; i < n; ++i) {
    float* v = data.data() + i * dim;
    for (int d = 0; d < dim; ++d) v[d] = normal(rng);
    Normalise(v, dim);
  }
  // Real embeddings replace random rows at spread positions.
  std::vector<size_t> real_rows;
  const size_t real = std::min(o.real.size(), n);
  for (size_t r = 0; r < real; ++r) {
    if (static_cast<int>(o.real[r].size()) != dim) continue;
    size_t row = r * (n / std::max<size_t>(real, 1));
    std::copy(o.real[r].begin(), o.real[r].end(), data.begin() + static_cast<long>(row * dim));
    real_rows.push_back(row);
  }
  std::vector<float> queries(static_cast<size_t>(o.queries) * dim);
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  const float noise = 0.059f;  // per-dimension: cosine ~0.6 to the source in 512-D
  for (int q = 0; q < o.queries; ++q) {
    size_t src = (!real_rows.empty() && q % 2 == 0) ? real_rows[pick(rng) % real_rows.size()]
                                                    : pick(rng);
    float* v = queries.data() + static_cast<size_t>(q) * dim;
    for (int d = 0; d < dim; ++d) v[d] = data[src * dim + d] + noise * normal(rng);
    Normalise(v, dim);
  }
  std::vector<int64_t> labels(n);
  for (size_t i = 0; i < n; ++i) labels[i] = static_cast<int64_t>(i);

  SearchBenchResult r;
  r.size = o.size;
  r.factory = o.factory;
  r.queries = o.queries;
  r.threads = o.threads;
  r.real_vectors = real_rows.size();
  if (o.progress) std::cerr << "bench search: building " << o.factory << " over " << n << "\n";
  FACEPAY_ASSIGN_OR_RETURN(auto index, MakeGalleryIndex(o.factory, dim));
  index->set_search_effort(o.ef_search);
  r.ef_search = o.ef_search;
  auto t0 = Clock::now();
  FACEPAY_RETURN_IF_ERROR(index->AddBatch(labels, data));
  r.build_s = std::chrono::duration<double>(Clock::now() - t0).count();
  FACEPAY_ASSIGN_OR_RETURN(size_t bytes, index->SerializedBytes());
  r.bytes_per_template = static_cast<double>(bytes) / static_cast<double>(n);

  std::vector<std::vector<int64_t>> top;
  FACEPAY_ASSIGN_OR_RETURN(Latency lat, TimeQueries(*index, queries, o.queries, dim, &top));
  r.p50_ms = lat.p50;
  r.p99_ms = lat.p99;
  r.mean_ms = lat.mean;

  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  t0 = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < o.threads; ++t) {
    workers.emplace_back([&] {
      for (int q; (q = next.fetch_add(1)) < o.queries;) {
        std::span<const float> v(queries.data() + static_cast<size_t>(q) * dim,
                                 static_cast<size_t>(dim));
        if (!index->Search(v, 10).ok()) failed = true;
      }
    });
  }
  for (auto& w : workers) w.join();
  if (failed) return Internal("index_error", "a search failed");
  r.qps = o.queries / std::chrono::duration<double>(Clock::now() - t0).count();

  if (o.factory == "Flat") {
    r.exact_p50_ms = r.p50_ms;
    r.exact_p99_ms = r.p99_ms;
    return r;
  }
  index.reset();  // free it before the exact index takes the same memory again
  if (o.progress) std::cerr << "bench search: exact baseline for recall\n";
  FACEPAY_ASSIGN_OR_RETURN(auto exact, MakeGalleryIndex("Flat", dim));
  FACEPAY_RETURN_IF_ERROR(exact->AddBatch(labels, data));
  std::vector<std::vector<int64_t>> truth;
  FACEPAY_ASSIGN_OR_RETURN(Latency el, TimeQueries(*exact, queries, o.queries, dim, &truth));
  r.exact_p50_ms = el.p50;
  r.exact_p99_ms = el.p99;
  double hit1 = 0, hit10 = 0;
  for (size_t q = 0; q < truth.size(); ++q) {
    if (!truth[q].empty() && !top[q].empty() && top[q][0] == truth[q][0]) hit1 += 1;
    std::unordered_set<int64_t> t(truth[q].begin(), truth[q].end());
    size_t common = 0;
    for (int64_t l : top[q]) common += t.count(l);
    hit10 += truth[q].empty() ? 1.0 : static_cast<double>(common) / truth[q].size();
  }
  r.recall_at_1 = hit1 / static_cast<double>(truth.size());
  r.recall_at_10 = hit10 / static_cast<double>(truth.size());
  return r;
}

nlohmann::json SearchBenchToJson(const SearchBenchResult& r) {
  return {{"size", r.size},
          {"index", r.factory},
          {"queries", r.queries},
          {"threads", r.threads},
          {"ef_search", r.ef_search},
          {"real_vectors", r.real_vectors},
          {"build_s", r.build_s},
          {"p50_ms", r.p50_ms},
          {"p99_ms", r.p99_ms},
          {"mean_ms", r.mean_ms},
          {"qps", r.qps},
          {"bytes_per_template", r.bytes_per_template},
          {"recall_at_1", r.recall_at_1},
          {"recall_at_10", r.recall_at_10},
          {"exact_p50_ms", r.exact_p50_ms},
          {"exact_p99_ms", r.exact_p99_ms}};
}

}  // namespace facepay::biometrics
