#include "hnsw_search.h"

#include <faiss/IndexFlatCodes.h>
#include <faiss/impl/DistanceComputer.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

namespace facepay::biometrics {
namespace {

using Node = std::pair<float, int64_t>;  // (distance, row); smaller is nearer

// Rows seen by the current search: a per-thread array of search stamps, so starting a search
// costs nothing (no clearing) until the 16-bit stamp wraps.
struct VisitedRows {
  std::vector<uint16_t> stamp;
  uint16_t now = 0;

  void Start(size_t rows) {
    if (stamp.size() < rows) {
      stamp.assign(rows, 0);
      now = 0;
    }
    if (++now == 0) {
      std::fill(stamp.begin(), stamp.end(), 0);
      now = 1;
    }
  }
  // True the first time a row is seen in this search.
  bool Visit(int64_t row) {
    uint16_t& s = stamp[static_cast<size_t>(row)];
    if (s == now) return false;
    s = now;
    return true;
  }
};

struct Scratch {
  VisitedRows visited;
  std::vector<Node> frontier;  // min-heap on distance: candidates to expand
  std::vector<Node> best;      // max-heap on distance: the beam
  std::vector<int64_t> fresh;  // one node's unvisited neighbours
};

}  // namespace

bool SearchHnswPrefetched(const faiss::IndexHNSW& index, const float* x, int64_t k, int ef,
                          float* distances, faiss::Index::idx_t* labels) {
  const auto* storage = dynamic_cast<const faiss::IndexFlatCodes*>(index.storage);
  if (storage == nullptr || k < 1) return false;
  const faiss::HNSW& graph = index.hnsw;
  const bool ip = index.metric_type == faiss::METRIC_INNER_PRODUCT;
  const float worst = ip ? -std::numeric_limits<float>::infinity()
                         : std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < k; ++i) {
    distances[i] = worst;
    labels[i] = -1;
  }
  if (index.ntotal == 0 || graph.entry_point < 0) return true;

  std::unique_ptr<faiss::FlatCodesDistanceComputer> dc(storage->get_FlatCodesDistanceComputer());
  dc->set_query(x);
  const uint8_t* codes = dc->codes;
  const size_t code_size = dc->code_size;
  // Up to 8 cache lines of a code: all of a 128-D code (8-bit or float); the hardware's stream
  // prefetcher follows on longer ones (a 2 KiB float row).
  const size_t prefetch_bytes = std::min<size_t>(code_size, 512);
  // Smaller is nearer on both metrics (FAISS's HNSW negates inner products the same way).
  const auto distance = [&](int64_t row) {
    const float d = dc->distance_to_code(codes + static_cast<size_t>(row) * code_size);
    return ip ? -d : d;
  };
  const faiss::HNSW::storage_idx_t* neighbors = graph.neighbors.data();

  // Upper levels: greedy descent to the nearest node of each level.
  int64_t nearest = graph.entry_point;
  float d_nearest = distance(nearest);
  for (int level = graph.max_level; level >= 1; --level) {
    for (bool moved = true; moved;) {
      moved = false;
      size_t begin = 0, end = 0;
      graph.neighbor_range(nearest, level, &begin, &end);
      for (size_t j = begin; j < end && neighbors[j] >= 0; ++j) {
        PrefetchBytes(codes + static_cast<size_t>(neighbors[j]) * code_size, prefetch_bytes);
      }
      for (size_t j = begin; j < end && neighbors[j] >= 0; ++j) {
        const float d = distance(neighbors[j]);
        if (d < d_nearest) {
          d_nearest = d;
          nearest = neighbors[j];
          moved = true;
        }
      }
    }
  }

  // Level 0: beam search.
  thread_local Scratch s;
  s.visited.Start(static_cast<size_t>(index.ntotal));
  s.frontier.clear();
  s.best.clear();
  const size_t width = static_cast<size_t>(std::max<int64_t>(ef, k));
  const auto farther = [](const Node& a, const Node& b) { return a.first > b.first; };
  const auto nearer = [](const Node& a, const Node& b) { return a.first < b.first; };
  s.visited.Visit(nearest);
  s.frontier.emplace_back(d_nearest, nearest);
  s.best.emplace_back(d_nearest, nearest);
  while (!s.frontier.empty()) {
    const Node next = s.frontier.front();
    if (s.best.size() >= width && next.first > s.best.front().first) break;
    std::pop_heap(s.frontier.begin(), s.frontier.end(), farther);
    s.frontier.pop_back();
    if (!s.frontier.empty()) {  // the list expanded after this one
      PrefetchBytes(neighbors + graph.offsets[static_cast<size_t>(s.frontier.front().second)],
                    64);
    }
    size_t begin = 0, end = 0;
    graph.neighbor_range(next.second, 0, &begin, &end);
    s.fresh.clear();
    for (size_t j = begin; j < end && neighbors[j] >= 0; ++j) {
      if (!s.visited.Visit(neighbors[j])) continue;
      s.fresh.push_back(neighbors[j]);
      PrefetchBytes(codes + static_cast<size_t>(neighbors[j]) * code_size, prefetch_bytes);
    }
    for (int64_t row : s.fresh) {
      const float d = distance(row);
      if (s.best.size() < width || d < s.best.front().first) {
        s.frontier.emplace_back(d, row);
        std::push_heap(s.frontier.begin(), s.frontier.end(), farther);
        s.best.emplace_back(d, row);
        std::push_heap(s.best.begin(), s.best.end(), nearer);
        if (s.best.size() > width) {
          std::pop_heap(s.best.begin(), s.best.end(), nearer);
          s.best.pop_back();
        }
      }
    }
  }

  std::sort(s.best.begin(), s.best.end(), nearer);
  const size_t n = std::min(s.best.size(), static_cast<size_t>(k));
  for (size_t i = 0; i < n; ++i) {
    distances[i] = ip ? -s.best[i].first : s.best[i].first;
    labels[i] = s.best[i].second;
  }
  return true;
}

}  // namespace facepay::biometrics
