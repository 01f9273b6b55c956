// Beam search over a FAISS HNSW graph that overlaps its memory reads.
//
// At a million rows an HNSW query is bound by memory latency, not arithmetic: every step reads
// one node's neighbour list and then the codes of its unvisited neighbours, each a cache miss
// at a random address, and FAISS 1.7.3's IndexHNSW::search issues them one at a time (read a
// code, compute its distance, read the next). This search walks the same graph with the same
// distance computer but first collects a node's unvisited neighbours, prefetches all their
// codes (and the next candidate's neighbour list), then computes the distances, so the misses
// of one step are in flight together (as hnswlib does). The level-0 search is the usual HNSW
// one: a candidate min-heap and a result max-heap `ef` wide, stopping when the nearest
// unexpanded candidate is farther than the ef-th best result.
#pragma once

#include <faiss/IndexHNSW.h>

#include <cstddef>
#include <cstdint>

namespace facepay::biometrics {

// One query `x` (already in the graph's space, i.e. after any PreTransform) against `index`;
// writes the best `k` rows to `distances`/`labels` with FAISS's conventions (L2: ascending
// squared distances; inner product: descending similarities; -1 labels when fewer than k
// rows exist). The beam is max(ef, k) wide. Returns false, writing nothing, when the graph's
// storage is not a flat code array (the caller then uses IndexHNSW::search). Thread-safe for
// concurrent calls on one index (the visited set is per thread).
// Asks for the cache lines of [p, p + bytes) without waiting for them.
inline void PrefetchBytes(const void* p, size_t bytes) {
  const auto* c = static_cast<const char*>(p);
  for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(c + off);
}

bool SearchHnswPrefetched(const faiss::IndexHNSW& index, const float* x, int64_t k, int ef,
                          float* distances, faiss::Index::idx_t* labels);

}  // namespace facepay::biometrics
