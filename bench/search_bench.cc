#include "facepay/bench/search_bench.h"

#include <faiss/utils/distances.h>
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <thread>
#include <unordered_set>

#include "facepay/biometrics/gallery_index.h"
#include "facepay/biometrics/graph_search_baseline.h"

namespace facepay::biometrics {
namespace {

using Clock = std::chrono::steady_clock;

enum class QueryKind { kSynthetic, kRealCopy, kRealMated };

void Normalise(float* v, int dim) {
  double n = 0;
  for (int i = 0; i < dim; ++i) n += static_cast<double>(v[i]) * v[i];
  const auto inv = static_cast<float>(1.0 / std::sqrt(std::max(n, 1e-12)));
  for (int i = 0; i < dim; ++i) v[i] *= inv;
}

struct Latency {
  double p50 = 0, p99 = 0, mean = 0;
  double cpu_p50 = 0, cpu_p99 = 0;  // CPU time of the calling thread
};

// CPU time of the calling thread: excludes time spent waiting for a core, so it estimates
// the latency on an idle machine when other jobs share the cores.
double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double ProcessCpuS() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

Latency Summarise(std::vector<double> ms, std::vector<double> cpu_ms = {}) {
  std::sort(ms.begin(), ms.end());
  std::sort(cpu_ms.begin(), cpu_ms.end());
  Latency l;
  if (ms.empty()) return l;
  const auto at = [](const std::vector<double>& v, double q) {
    return v[std::min(v.size() - 1, static_cast<size_t>(std::ceil(q * v.size())) - 1)];
  };
  if (!cpu_ms.empty()) {
    l.cpu_p50 = cpu_ms[cpu_ms.size() / 2];
    l.cpu_p99 = at(cpu_ms, 0.99);
  }
  l.p50 = ms[ms.size() / 2];
  l.p99 = ms[std::min(ms.size() - 1, static_cast<size_t>(std::ceil(0.99 * ms.size())) - 1)];
  double s = 0;
  for (double x : ms) s += x;
  l.mean = s / static_cast<double>(ms.size());
  return l;
}

double PeakRssMb() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmHWM:") {
      double kb = 0;
      in >> kb;
      return kb / 1024.0;
    }
  }
  return 0;
}

// Draws vectors like the rows of `basis` (residuals from their mean): a random Gaussian
// combination of kMix residuals has the residuals' covariance in expectation.
class FaceLikeSampler {
 public:
  static constexpr int kMix = 32;
  FaceLikeSampler(const std::vector<const float*>& rows, int dim) : dim_(dim), mean_(dim, 0.0f) {
    for (const float* r : rows) {
      for (int d = 0; d < dim; ++d) mean_[d] += r[d];
    }
    for (float& m : mean_) m /= static_cast<float>(rows.size());
    residuals_.reserve(rows.size() * static_cast<size_t>(dim));
    for (const float* r : rows) {
      for (int d = 0; d < dim; ++d) residuals_.push_back(r[d] - mean_[d]);
    }
    count_ = rows.size();
  }
  // out = (with_mean ? mean : 0) + sum_j g_j residual_j / sqrt(kMix)
  void Sample(std::mt19937_64& rng, bool with_mean, float* out) {
    std::uniform_int_distribution<size_t> pick(0, count_ - 1);
    for (int d = 0; d < dim_; ++d) out[d] = with_mean ? mean_[d] : 0.0f;
    const float scale = 1.0f / std::sqrt(static_cast<float>(kMix));
    for (int j = 0; j < kMix; ++j) {
      const float g = normal_(rng) * scale;
      const float* r = residuals_.data() + pick(rng) * dim_;
      for (int d = 0; d < dim_; ++d) out[d] += g * r[d];
    }
  }

 private:
  int dim_;
  std::vector<float> mean_, residuals_;
  size_t count_ = 0;
  std::normal_distribution<float> normal_{0.0f, 1.0f};
};

// Single-query latencies and the top-10 of each query.
StatusOr<Latency> TimeQueries(const GalleryIndex& index, const std::vector<float>& queries,
                              int nq, int dim, std::vector<std::vector<int64_t>>* top) {
  std::vector<double> ms, cpu;
  top->assign(static_cast<size_t>(nq), {});
  for (int q = 0; q < nq; ++q) {
    std::span<const float> v(queries.data() + static_cast<size_t>(q) * dim,
                             static_cast<size_t>(dim));
    const double c0 = ThreadCpuMs();
    const auto t0 = Clock::now();
    FACEPAY_ASSIGN_OR_RETURN(auto hits, index.Search(v, 10));
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    cpu.push_back(ThreadCpuMs() - c0);
    for (const auto& h : hits) (*top)[static_cast<size_t>(q)].push_back(h.label);
  }
  return Summarise(std::move(ms), std::move(cpu));
}

StatusOr<double> Throughput(const GalleryIndex& index, const std::vector<float>& queries, int nq,
                            int dim, int threads) {
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  const auto t0 = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int q; (q = next.fetch_add(1)) < nq;) {
        std::span<const float> v(queries.data() + static_cast<size_t>(q) * dim,
                                 static_cast<size_t>(dim));
        if (!index.Search(v, 10).ok()) failed = true;
      }
    });
  }
  for (auto& w : workers) w.join();
  if (failed) return Internal("index_error", "a search failed");
  return nq / std::chrono::duration<double>(Clock::now() - t0).count();
}

// The index of `o.factory` over `data`: built (and saved to o.index_cache when set), or loaded
// from o.index_cache when that was built over the same gallery. Fills r.build_s/build_cpu_s.
StatusOr<std::unique_ptr<GalleryIndex>> BuildOrLoad(const SearchBenchOptions& o,
                                                    const std::vector<int64_t>& labels,
                                                    const std::vector<float>& data, int dim,
                                                    SearchBenchResult& r, int omp_before) {
  const size_t n = labels.size();
  nlohmann::json key = {{"index", o.factory},       {"size", n},
                        {"synthetic", o.synthetic}, {"seed", o.seed},
                        {"real_vectors", r.real_vectors},
                        {"ef_construction", o.ef_construction},
                        {"dim", dim}};
  const std::string meta_path = o.index_cache + ".json";
  if (!o.index_cache.empty() && std::filesystem::exists(o.index_cache)) {
    std::ifstream in(meta_path);
    nlohmann::json meta = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (meta.is_discarded() || !meta.contains("gallery") || meta["gallery"] != key) {
      return InvalidArgument("index_cache_mismatch",
                             o.index_cache + " was built over another gallery (" + meta_path +
                                 "); delete it or name another file");
    }
    if (o.progress) std::cerr << "bench search: loading " << o.index_cache << "\n";
    FACEPAY_ASSIGN_OR_RETURN(auto index, LoadGalleryIndex(o.index_cache));
    r.build_s = meta.value("build_s", 0.0);
    r.build_cpu_s = meta.value("build_cpu_s", 0.0);
    r.index_cached = true;
    return index;
  }
  if (o.progress) std::cerr << "bench search: building " << o.factory << " over " << n << "\n";
  FACEPAY_ASSIGN_OR_RETURN(auto index, MakeGalleryIndex(o.factory, dim));
  if (o.ef_construction > 0) index->set_build_effort(o.ef_construction);
  omp_set_num_threads(o.threads);
  const double cpu0 = ProcessCpuS();
  auto t0 = Clock::now();
  Status added = index->AddBatch(labels, data);
  r.build_s = std::chrono::duration<double>(Clock::now() - t0).count();
  r.build_cpu_s = ProcessCpuS() - cpu0;
  omp_set_num_threads(omp_before);
  FACEPAY_RETURN_IF_ERROR(added);
  if (!o.index_cache.empty()) {
    if (o.progress) std::cerr << "bench search: saving " << o.index_cache << "\n";
    FACEPAY_RETURN_IF_ERROR(index->Save(o.index_cache));
    std::ofstream out(meta_path);
    out << nlohmann::json{{"gallery", key}, {"build_s", r.build_s}, {"build_cpu_s", r.build_cpu_s}}
        << "\n";
    if (!out) return Internal("io_error", "cannot write " + meta_path);
  }
  return index;
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
  if (o.ef_search.empty() || o.ef_search.size() > 32) {
    return InvalidArgument("invalid_ef_search", "give 1..32 search efforts");
  }
  for (int ef : o.ef_search) {
    if (ef < 1 || ef > 4096) return InvalidArgument("invalid_ef_search", "efSearch must be 1..4096");
  }
  if (o.synthetic != "random" && o.synthetic != "face-like") {
    return InvalidArgument("invalid_synthetic", "synthetic must be random or face-like");
  }
  const int dim = o.dim;
  const auto n = static_cast<size_t>(o.size);
  std::mt19937_64 rng(o.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);

  // Real embeddings: with identities, the first of each identity is enrolled and the others
  // are mated probes of it.
  const bool by_identity = !o.real_identity.empty() && o.real_identity.size() == o.real.size();
  std::vector<size_t> enrolled;                        // indexes into o.real
  std::vector<std::pair<size_t, size_t>> mated;        // (probe index, enrolled position)
  std::map<std::string, size_t> first_of;
  for (size_t i = 0; i < o.real.size(); ++i) {
    if (static_cast<int>(o.real[i].size()) != dim) continue;
    if (!by_identity) {
      enrolled.push_back(i);
      continue;
    }
    auto [it, fresh] = first_of.emplace(o.real_identity[i], enrolled.size());
    if (fresh) {
      enrolled.push_back(i);
    } else {
      mated.emplace_back(i, it->second);
    }
  }
  if (enrolled.size() > n) enrolled.resize(n);
  std::erase_if(mated, [&](const auto& m) { return m.second >= enrolled.size(); });

  std::unique_ptr<FaceLikeSampler> sampler;
  if (o.synthetic == "face-like") {
    if (enrolled.size() < 64) {
      return InvalidArgument("invalid_synthetic", "face-like needs >= 64 real embeddings");
    }
    std::vector<const float*> rows;
    for (size_t i : enrolled) rows.push_back(o.real[i].data());
    sampler = std::make_unique<FaceLikeSampler>(rows, dim);
  }
  if (o.progress) std::cerr << "bench search: generating " << n << " " << o.synthetic << " vectors\n";
  std::vector<float> data(n * static_cast<size_t>(dim));
  for (size_t i = 0; i < n; ++i) {
    float* v = data.data() + i * dim;
    if (sampler) {
      sampler->Sample(rng, true, v);
    } else {
      for (int d = 0; d < dim; ++d) v[d] = normal(rng);
    }
    Normalise(v, dim);
  }
  std::vector<size_t> real_rows;  // gallery row of enrolled[k]
  std::vector<bool> is_real(n, false);
  for (size_t k = 0; k < enrolled.size(); ++k) {
    const size_t row = k * (n / enrolled.size());
    const auto& e = o.real[enrolled[k]];
    std::copy(e.begin(), e.end(), data.begin() + static_cast<long>(row * dim));
    Normalise(data.data() + row * dim, dim);
    real_rows.push_back(row);
    is_real[row] = true;
  }

  // Queries: up to half real mated probes, the rest synthetic probes of synthetic rows (or,
  // without identities, every other one a noisy copy of a real row).
  std::shuffle(mated.begin(), mated.end(), rng);
  const size_t n_mated = std::min(mated.size(), static_cast<size_t>(o.queries / 2));
  std::vector<float> queries(static_cast<size_t>(o.queries) * dim);
  std::vector<QueryKind> kind(static_cast<size_t>(o.queries));
  std::vector<int64_t> mate(static_cast<size_t>(o.queries), -1);
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  const float noise = 0.059f;  // per-dimension: cosine ~0.6 to the source in 512-D
  std::vector<float> perturb(static_cast<size_t>(dim));
  for (int q = 0; q < o.queries; ++q) {
    float* v = queries.data() + static_cast<size_t>(q) * dim;
    const auto qi = static_cast<size_t>(q);
    if (qi < n_mated) {
      const auto& e = o.real[mated[qi].first];
      std::copy(e.begin(), e.end(), v);
      Normalise(v, dim);
      kind[qi] = QueryKind::kRealMated;
      mate[qi] = static_cast<int64_t>(real_rows[mated[qi].second]);
      continue;
    }
    size_t src = pick(rng);
    if (!by_identity && !real_rows.empty() && q % 2 == 0) {
      src = real_rows[pick(rng) % real_rows.size()];
      kind[qi] = QueryKind::kRealCopy;
    } else {
      while (is_real[src]) src = pick(rng);
      kind[qi] = QueryKind::kSynthetic;
    }
    const float* s = data.data() + src * dim;
    if (sampler) {  // noise inside the face subspace, same norm as the isotropic noise
      sampler->Sample(rng, false, perturb.data());
      Normalise(perturb.data(), dim);
      const float norm = noise * std::sqrt(static_cast<float>(dim));
      for (int d = 0; d < dim; ++d) v[d] = s[d] + norm * perturb[d];
    } else {
      for (int d = 0; d < dim; ++d) v[d] = s[d] + noise * normal(rng);
    }
    Normalise(v, dim);
  }
  std::vector<int64_t> labels(n);
  for (size_t i = 0; i < n; ++i) labels[i] = static_cast<int64_t>(i);

  SearchBenchResult r;
  r.size = o.size;
  r.factory = o.factory;
  r.synthetic = o.synthetic;
  r.queries = o.queries;
  r.threads = o.threads;
  r.ef_construction = o.ef_construction;
  r.real_vectors = real_rows.size();
  r.real_probes = n_mated;
  r.synthetic_queries = static_cast<size_t>(o.queries) - n_mated;

  // Ground truth: exact top-10 of every query, batched (BLAS) on `threads` OpenMP threads.
  if (o.progress) std::cerr << "bench search: exact ground truth\n";
  const int omp_before = omp_get_max_threads();
  omp_set_num_threads(o.threads);
  std::vector<float> gd(static_cast<size_t>(o.queries) * 10);
  std::vector<int64_t> gi(static_cast<size_t>(o.queries) * 10);
  faiss::knn_inner_product(queries.data(), data.data(), static_cast<size_t>(dim),
                           static_cast<size_t>(o.queries), n, 10, gd.data(), gi.data());
  // Exact single-query latency: the same scan a Flat index runs, one thread.
  omp_set_num_threads(1);
  r.exact_timed_queries = std::min(o.queries, std::max(1, o.exact_queries));
  {
    std::vector<double> ms, cpu;
    float d1[10];
    int64_t i1[10];
    for (int q = 0; q < r.exact_timed_queries; ++q) {
      const double c0 = ThreadCpuMs();
      const auto t0 = Clock::now();
      faiss::knn_inner_product(queries.data() + static_cast<size_t>(q) * dim, data.data(),
                               static_cast<size_t>(dim), 1, n, 10, d1, i1);
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      cpu.push_back(ThreadCpuMs() - c0);
    }
    const Latency el = Summarise(std::move(ms), std::move(cpu));
    r.exact_p50_ms = el.p50;
    r.exact_p99_ms = el.p99;
    r.exact_cpu_p50_ms = el.cpu_p50;
    r.exact_cpu_p99_ms = el.cpu_p99;
  }
  omp_set_num_threads(omp_before);
  size_t exact_hits = 0;
  for (size_t q = 0; q < n_mated; ++q) exact_hits += gi[q * 10] == mate[q];
  r.exact_real_mate_rank1 = n_mated ? static_cast<double>(exact_hits) / n_mated : 0;

  FACEPAY_ASSIGN_OR_RETURN(auto index, BuildOrLoad(o, labels, data, dim, r, omp_before));
  FACEPAY_ASSIGN_OR_RETURN(size_t bytes, index->SerializedBytes());
  r.bytes_per_template = static_cast<double>(bytes) / static_cast<double>(n);

  // One untimed pass first: otherwise the first effort measured pays for the first touches
  // of the index's pages after the build (its p99 came out 2x the next effort's at 1M).
  if (!o.ef_search.empty()) {
    index->set_search_effort(o.ef_search.front());
    FACEPAY_RETURN_IF_ERROR(Throughput(*index, queries, o.queries, dim, o.threads).status());
  }
  // One effort measured with the search the index is set to use.
  const auto measure = [&](int ef) -> StatusOr<SearchBenchPoint> {
    index->set_search_effort(ef);
    SearchBenchPoint p;
    p.ef_search = ef;
    std::vector<std::vector<int64_t>> top;
    FACEPAY_ASSIGN_OR_RETURN(Latency lat, TimeQueries(*index, queries, o.queries, dim, &top));
    p.p50_ms = lat.p50;
    p.p99_ms = lat.p99;
    p.mean_ms = lat.mean;
    p.cpu_p50_ms = lat.cpu_p50;
    p.cpu_p99_ms = lat.cpu_p99;
    FACEPAY_ASSIGN_OR_RETURN(p.qps, Throughput(*index, queries, o.queries, dim, o.threads));
    double hit1 = 0, hit10 = 0, hit_syn = 0, n_syn = 0, hit_real = 0, n_real = 0, mate1 = 0;
    for (size_t q = 0; q < top.size(); ++q) {
      const int64_t* truth = gi.data() + q * 10;
      const bool h1 = !top[q].empty() && top[q][0] == truth[0];
      hit1 += h1;
      if (kind[q] == QueryKind::kSynthetic) {
        hit_syn += h1;
        n_syn += 1;
      } else {
        hit_real += h1;
        n_real += 1;
        if (!h1) {
          const float* qv = queries.data() + q * static_cast<size_t>(dim);
          const float got =
              top[q].empty() ? 0.0f
                             : faiss::fvec_inner_product(
                                   qv, data.data() + static_cast<size_t>(top[q][0]) * dim,
                                   static_cast<size_t>(dim));
          p.real_misses.push_back({gd[q * 10], gd[q * 10 + 1], got});
        }
      }
      if (kind[q] == QueryKind::kRealMated) mate1 += !top[q].empty() && top[q][0] == mate[q];
      std::unordered_set<int64_t> t(truth, truth + 10);
      size_t common = 0;
      for (int64_t l : top[q]) common += t.count(l);
      hit10 += static_cast<double>(common) / 10.0;
    }
    p.recall_at_1 = hit1 / static_cast<double>(top.size());
    p.recall_at_10 = hit10 / static_cast<double>(top.size());
    p.recall_at_1_synthetic = n_syn > 0 ? hit_syn / n_syn : 1;
    p.recall_at_1_real = n_real > 0 ? hit_real / n_real : 1;
    p.real_mate_rank1 = n_mated ? mate1 / static_cast<double>(n_mated) : 0;
    return p;
  };
  for (int ef : o.ef_search) {
    if (o.progress) std::cerr << "bench search: queries at effort " << ef << "\n";
    GraphSearchBaseline* walk = GraphSearchBaselineOf(*index);
    if (walk) walk->set_prefetched_search(true);
    FACEPAY_ASSIGN_OR_RETURN(SearchBenchPoint p, measure(ef));
    if (o.compare_faiss && walk) {
      // The same effort with FAISS's own graph walk, right after: the baseline in this run.
      if (o.progress) std::cerr << "bench search: FAISS search at effort " << ef << "\n";
      walk->set_prefetched_search(false);
      FACEPAY_ASSIGN_OR_RETURN(SearchBenchPoint f, measure(ef));
      walk->set_prefetched_search(true);
      p.faiss = std::make_shared<SearchBenchPoint>(f);
    }
    r.points.push_back(p);
  }
  r.peak_rss_mb = PeakRssMb();
  return r;
}

nlohmann::json SearchBenchToJson(const SearchBenchResult& r) {
  nlohmann::json points = nlohmann::json::array();
  for (const auto& p : r.points) {
    points.push_back({{"ef_search", p.ef_search},
                      {"p50_ms", p.p50_ms},
                      {"p99_ms", p.p99_ms},
                      {"mean_ms", p.mean_ms},
                      {"cpu_p50_ms", p.cpu_p50_ms},
                      {"cpu_p99_ms", p.cpu_p99_ms},
                      {"qps", p.qps},
                      {"recall_at_1", p.recall_at_1},
                      {"recall_at_10", p.recall_at_10},
                      {"recall_at_1_synthetic", p.recall_at_1_synthetic},
                      {"recall_at_1_real", p.recall_at_1_real},
                      {"real_mate_rank1", p.real_mate_rank1},
                      {"real_misses", p.real_misses}});
    if (p.faiss) {
      const SearchBenchPoint& f = *p.faiss;
      points.back()["faiss_search"] = {{"p50_ms", f.p50_ms},
                                       {"p99_ms", f.p99_ms},
                                       {"cpu_p50_ms", f.cpu_p50_ms},
                                       {"cpu_p99_ms", f.cpu_p99_ms},
                                       {"qps", f.qps},
                                       {"recall_at_1", f.recall_at_1},
                                       {"recall_at_1_real", f.recall_at_1_real},
                                       {"real_mate_rank1", f.real_mate_rank1}};
    }
  }
  return {{"size", r.size},
          {"index", r.factory},
          {"synthetic", r.synthetic},
          {"queries", r.queries},
          {"real_probes", r.real_probes},
          {"synthetic_queries", r.synthetic_queries},
          {"threads", r.threads},
          {"ef_construction", r.ef_construction},
          {"real_vectors", r.real_vectors},
          {"build_s", r.build_s},
          {"build_cpu_s", r.build_cpu_s},
          {"index_cached", r.index_cached},
          {"bytes_per_template", r.bytes_per_template},
          {"peak_rss_mb", r.peak_rss_mb},
          {"exact_p50_ms", r.exact_p50_ms},
          {"exact_p99_ms", r.exact_p99_ms},
          {"exact_cpu_p50_ms", r.exact_cpu_p50_ms},
          {"exact_cpu_p99_ms", r.exact_cpu_p99_ms},
          {"exact_timed_queries", r.exact_timed_queries},
          {"exact_real_mate_rank1", r.exact_real_mate_rank1},
          {"points", points}};
}

}  // namespace facepay::biometrics
