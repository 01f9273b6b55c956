#include "faiss_structure.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexRefine.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/VectorTransform.h>
#include <faiss/invlists/DirectMap.h>
#include <faiss/invlists/InvertedLists.h>

#include <cstring>
#include <string>
#include <type_traits>

namespace facepay::biometrics {
namespace {

constexpr int kMaxDim = 1 << 16;

// FAISS reads enum fields straight from the bytes, so a damaged snapshot can hold a value no
// enumerator has (loading it as the enum is undefined behaviour): compare the raw integer.
template <class E>
std::underlying_type_t<E> Raw(const E& e) {
  std::underlying_type_t<E> v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

// The same for a bool read from the bytes: any byte but 0 and 1 is refused.
int RawBool(const bool& b) {
  unsigned char v;
  std::memcpy(&v, &b, 1);
  return v <= 1 ? v : -1;
}

bool KnownMetric(const faiss::Index& index) {
  const auto m = Raw(index.metric_type);
  return m == faiss::METRIC_INNER_PRODUCT || m == faiss::METRIC_L2;
}

Status Corrupt(const std::string& what) {
  return DataLoss("snapshot_corrupt", "index snapshot: " + what);
}

// An exact (flat) float index of `rows` rows of `d` floats: the codes a scan walks.
Status CheckFlat(const faiss::Index* index, int64_t rows, int d, const char* part) {
  const auto* flat = dynamic_cast<const faiss::IndexFlat*>(index);
  if (flat == nullptr) return Corrupt(std::string(part) + " is not a flat index");
  if (!KnownMetric(*flat)) return Corrupt(std::string(part) + " metric");
  if (flat->d != d || flat->ntotal != rows || flat->code_size != sizeof(float) * static_cast<size_t>(d) ||
      flat->codes.size() != static_cast<size_t>(rows) * flat->code_size) {
    return Corrupt(std::string(part) + " holds other rows than it claims");
  }
  return Status::Ok();
}

// The vectors an HNSW graph walks: flat floats, or 8/6/4-bit or fp16 scalar codes ("_SQ8").
Status CheckStorage(const faiss::Index* index, int64_t rows, int d) {
  const auto* sq = dynamic_cast<const faiss::IndexScalarQuantizer*>(index);
  if (sq == nullptr) return CheckFlat(index, rows, d, "graph storage");
  if (!KnownMetric(*sq)) return Corrupt("graph storage metric");
  using Q = faiss::ScalarQuantizer;
  const size_t n = static_cast<size_t>(d);
  size_t code_size = 0, trained = 0;
  switch (Raw(sq->sq.qtype)) {
    case Q::QT_8bit: code_size = n; trained = 2 * n; break;
    case Q::QT_8bit_uniform: code_size = n; trained = 2; break;
    case Q::QT_4bit: code_size = (n + 1) / 2; trained = 2 * n; break;
    case Q::QT_4bit_uniform: code_size = (n + 1) / 2; trained = 2; break;
    case Q::QT_6bit: code_size = (n * 6 + 7) / 8; trained = 2 * n; break;
    case Q::QT_fp16: code_size = 2 * n; trained = sq->sq.trained.size(); break;
    default: return Corrupt("scalar quantizer type");
  }
  // Untrained (no templates yet): no ranges, and no rows to decode with them.
  const int is_trained = RawBool(sq->is_trained);
  if (is_trained < 0 || (is_trained == 0 && rows != 0)) return Corrupt("graph storage training");
  if (is_trained == 0) trained = 0;
  if (sq->d != d || sq->ntotal != rows || sq->sq.d != n || sq->sq.code_size != code_size ||
      sq->code_size != code_size || sq->sq.trained.size() != trained ||
      sq->codes.size() != static_cast<size_t>(rows) * code_size) {
    return Corrupt("graph storage holds other rows than it claims");
  }
  return Status::Ok();
}

Status CheckHnsw(const faiss::IndexHNSW& h) {
  const faiss::HNSW& g = h.hnsw;
  const auto n = static_cast<int64_t>(h.ntotal);
  if (Status s = CheckStorage(h.storage, n, h.d); !s.ok()) return s;
  if (static_cast<int64_t>(g.levels.size()) != n || g.offsets.size() != g.levels.size() + 1) {
    return Corrupt("graph levels do not match its rows");
  }
  if (n > 0 && (g.entry_point < 0 || g.entry_point >= n || g.max_level < 0)) {
    return Corrupt("graph entry point");
  }
  if (g.offsets.back() != g.neighbors.size()) return Corrupt("graph offsets");
  const auto& cum = g.cum_nneighbor_per_level;  // neighbour slots below each level
  if (cum.empty() || g.max_level >= static_cast<int>(cum.size())) return Corrupt("graph levels");
  for (size_t i = 1; i < cum.size(); ++i) {
    if (cum[i] < cum[i - 1]) return Corrupt("graph levels");
  }
  for (size_t i = 0; i < g.levels.size(); ++i) {
    const int level = g.levels[i];  // 1 = the base level only
    if (level < 1 || level >= static_cast<int>(cum.size()) || level > g.max_level + 1 ||
        g.offsets[i + 1] < g.offsets[i] ||
        g.offsets[i + 1] - g.offsets[i] < static_cast<size_t>(cum[static_cast<size_t>(level)])) {
      return Corrupt("graph row levels");
    }
  }
  if (n > 0 && (g.max_level + 2 > static_cast<int>(cum.size()) ||
                g.levels[static_cast<size_t>(g.entry_point)] != g.max_level + 1)) {
    return Corrupt("graph entry point level");
  }
  for (const auto id : g.neighbors) {
    if (id < -1 || id >= n) return Corrupt("graph neighbour id past the rows");
  }
  // A neighbour on level l must itself reach level l: the search reads that neighbour's
  // level-l slots next (a node of a lower level has none there: a read past its slots, past the
  // array for the last node; found by fuzzing).
  for (size_t i = 0; i < g.levels.size(); ++i) {
    for (int l = 0; l < g.levels[i]; ++l) {
      const size_t begin = g.offsets[i] + static_cast<size_t>(cum[static_cast<size_t>(l)]);
      const size_t end = g.offsets[i] + static_cast<size_t>(cum[static_cast<size_t>(l) + 1]);
      for (size_t j = begin; j < end; ++j) {
        const auto id = g.neighbors[j];
        if (id >= 0 && g.levels[static_cast<size_t>(id)] <= l) {
          return Corrupt("graph neighbour on a level it does not reach");
        }
      }
    }
  }
  return Status::Ok();
}

Status CheckIvf(const faiss::IndexIVF& ivf) {
  const int64_t n = ivf.ntotal;
  if (ivf.nlist == 0 || ivf.nlist > (1u << 24)) return Corrupt("inverted list count");
  const int trained = RawBool(ivf.is_trained);
  if (trained < 0) return Corrupt("IVF trained flag");
  // An untrained IVF (a gallery that never had templates) has no centroids and no rows.
  if (trained == 0 && n != 0) return Corrupt("rows in an untrained IVF");
  const int64_t centroids = trained == 1 ? static_cast<int64_t>(ivf.nlist) : ivf.quantizer ? ivf.quantizer->ntotal : 0;
  if (trained == 0 && centroids != 0 && centroids != static_cast<int64_t>(ivf.nlist)) {
    return Corrupt("IVF quantizer holds other rows than it claims");
  }
  if (Status s = CheckFlat(ivf.quantizer, centroids, ivf.d, "IVF quantizer"); !s.ok()) {
    return s;
  }
  if (ivf.nprobe == 0) return Corrupt("IVF nprobe");
  if (const auto* pq = dynamic_cast<const faiss::IndexIVFPQ*>(&ivf)) {
    const faiss::ProductQuantizer& q = pq->pq;
    if (q.d != static_cast<size_t>(ivf.d) || q.M == 0 || q.nbits == 0 || q.nbits > 16 ||
        q.M * q.dsub != q.d || q.ksub != (size_t{1} << q.nbits) ||
        q.centroids.size() != q.d * q.ksub || q.code_size != ivf.code_size ||
        q.code_size != (q.M * q.nbits + 7) / 8) {
      return Corrupt("product quantizer");
    }
    // A precomputed table is rebuilt from parts just checked; refuse one of another size.
    if (pq->use_precomputed_table != 0 &&
        pq->precomputed_table.size() != ivf.nlist * q.M * q.ksub) {
      return Corrupt("precomputed table");
    }
  } else if (dynamic_cast<const faiss::IndexIVFFlat*>(&ivf) != nullptr) {
    if (ivf.code_size != sizeof(float) * static_cast<size_t>(ivf.d)) return Corrupt("IVF code size");
  } else {
    return Corrupt("unsupported inverted-list index");
  }
  const auto* lists = dynamic_cast<const faiss::ArrayInvertedLists*>(ivf.invlists);
  if (lists == nullptr || lists->nlist != ivf.nlist || lists->code_size != ivf.code_size ||
      lists->ids.size() != ivf.nlist || lists->codes.size() != ivf.nlist) {
    return Corrupt("inverted lists");
  }
  int64_t total = 0;
  for (size_t l = 0; l < ivf.nlist; ++l) {
    const auto& ids = lists->ids[l];
    if (lists->codes[l].size() != ids.size() * ivf.code_size) return Corrupt("inverted list codes");
    for (const auto id : ids) {
      if (id < 0 || id >= n) return Corrupt("inverted list id past the rows");
    }
    total += static_cast<int64_t>(ids.size());
  }
  if (total != n) return Corrupt("inverted lists hold other rows than the index");
  const faiss::DirectMap& dm = ivf.direct_map;
  const auto map_type = Raw(dm.type);
  if (map_type == faiss::DirectMap::Array) {
    if (dm.array.size() != static_cast<size_t>(n)) return Corrupt("direct map size");
    for (const auto lo : dm.array) {
      const uint64_t list = faiss::lo_listno(static_cast<uint64_t>(lo));
      if (lo < 0 || list >= ivf.nlist ||
          faiss::lo_offset(static_cast<uint64_t>(lo)) >= lists->ids[list].size()) {
        return Corrupt("direct map entry");
      }
    }
  } else if (map_type != faiss::DirectMap::NoMap) {
    return Corrupt("direct map type");
  }
  return Status::Ok();
}

Status CheckSearcher(const faiss::Index* index, int64_t rows, int d) {
  if (index == nullptr || index->d != d || index->ntotal != rows) {
    return Corrupt("inner index rows or dimension differ");
  }
  if (!KnownMetric(*index)) return Corrupt("metric");
  if (const auto* h = dynamic_cast<const faiss::IndexHNSW*>(index)) return CheckHnsw(*h);
  if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(index)) return CheckIvf(*ivf);
  if (dynamic_cast<const faiss::IndexFlat*>(index) != nullptr) return CheckFlat(index, rows, d, "index");
  return Corrupt("unsupported index type");
}

}  // namespace

Status CheckFaissStructure(const faiss::Index& outer) {
  if (outer.d <= 0 || outer.d > kMaxDim || outer.ntotal < 0) return Corrupt("dimension or rows");
  if (!KnownMetric(outer)) return Corrupt("metric");
  const int64_t rows = outer.ntotal;
  const faiss::Index* index = &outer;
  if (const auto* r = dynamic_cast<const faiss::IndexRefine*>(index)) {
    if (Status s = CheckFlat(r->refine_index, rows, outer.d, "re-rank index"); !s.ok()) return s;
    if (r->base_index == nullptr || r->base_index->ntotal != rows || r->base_index->d != outer.d) {
      return Corrupt("re-rank rows differ from the index rows");
    }
    index = r->base_index;
  }
  int d = outer.d;
  if (const auto* p = dynamic_cast<const faiss::IndexPreTransform*>(index)) {
    if (p->index == nullptr || p->index->ntotal != rows) return Corrupt("transformed rows differ");
    for (const faiss::VectorTransform* vt : p->chain) {
      const auto* lt = dynamic_cast<const faiss::LinearTransform*>(vt);
      // An untrained transform (a PCA before its first batch) has no matrix, and no rows
      // have gone through it.
      const int trained = lt ? RawBool(lt->is_trained) : -1;
      const bool untrained_empty = trained == 0 && rows == 0 && lt->A.empty();
      if (lt == nullptr || trained < 0 || lt->d_in != d || lt->d_out <= 0 || lt->d_out > kMaxDim ||
          (trained == 0 && !untrained_empty) ||
          (!untrained_empty &&
           lt->A.size() != static_cast<size_t>(lt->d_in) * static_cast<size_t>(lt->d_out)) ||
          RawBool(lt->have_bias) < 0 ||
          (!untrained_empty && RawBool(lt->have_bias) == 1 &&
           lt->b.size() != static_cast<size_t>(lt->d_out))) {
        return Corrupt("vector transform");
      }
      d = lt->d_out;
    }
    index = p->index;
  }
  return CheckSearcher(index, rows, d);
}

}  // namespace facepay::biometrics
