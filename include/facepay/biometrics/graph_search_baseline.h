// The FAISS baseline of the graph search, for benchmarks and tests only (kept off the
// GalleryIndex interface: a product caller has no reason to search slower).
//
// HNSW graphs walk with facepay's beam search, which prefetches each step's rows together
// (src/biometrics/hnsw_search.h). `facepay bench search --compare-faiss` times it against
// FAISS's own IndexHNSW::search on the same graph: this switch selects that.
#pragma once

#include "facepay/biometrics/gallery_index.h"

namespace facepay::biometrics {

class GraphSearchBaseline {
 public:
  virtual ~GraphSearchBaseline() = default;
  // true (the default): facepay's prefetching walk; false: FAISS's search. Other index
  // types ignore it.
  virtual void set_prefetched_search(bool on) = 0;
};

// The switch of an index made by MakeGalleryIndex / DeserializeGalleryIndex (every index type
// they make has one); null for another implementation of GalleryIndex.
inline GraphSearchBaseline* GraphSearchBaselineOf(GalleryIndex& index) {
  return dynamic_cast<GraphSearchBaseline*>(&index);
}

}  // namespace facepay::biometrics
