// Checks that a FAISS index read from bytes is one of the shapes a gallery builds and that its
// parts agree, before anything searches it. FAISS's readers check little: a snapshot whose
// HNSW graph names rows past the end, or whose IVF quantizer holds fewer centroids than lists,
// is read without complaint and then read out of bounds by a search (both found by fuzzing).
#pragma once

#include <faiss/Index.h>

#include "facepay/common/status.h"

namespace facepay::biometrics {

// Ok, or DataLoss("snapshot_corrupt", what disagrees). Accepted shapes (what the gallery's
// factory strings give): [Refine(Flat) over] [PreTransform(linear maps) over] one of Flat,
// HNSW over Flat, IVF-Flat or IVF-PQ with a flat quantizer and array inverted lists.
Status CheckFaissStructure(const faiss::Index& index);

}  // namespace facepay::biometrics
