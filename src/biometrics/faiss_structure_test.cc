// CheckFaissStructure against indexes whose parts disagree, built with FAISS itself and then
// damaged the way a crafted snapshot can be (each of these was searched out of bounds before).
#include "faiss_structure.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexLSH.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/VectorTransform.h>
#include <faiss/invlists/InvertedLists.h>
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

namespace facepay::biometrics {
namespace {

constexpr int kDim = 16;
constexpr int kRows = 200;

std::vector<float> Rows() {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  std::vector<float> x(static_cast<size_t>(kRows) * kDim);
  for (float& v : x) v = nd(rng);
  return x;
}

std::string Reason(const faiss::Index& index) {
  Status s = CheckFaissStructure(index);
  return s.ok() ? "ok" : std::string(s.reason()) + ": " + std::string(s.message());
}

TEST(FaissStructure, AcceptsWhatAGalleryBuilds) {
  const auto x = Rows();
  faiss::IndexFlatIP flat(kDim);
  flat.add(kRows, x.data());
  EXPECT_EQ(Reason(flat), "ok");
  faiss::IndexHNSWFlat hnsw(kDim, 8, faiss::METRIC_INNER_PRODUCT);
  hnsw.add(kRows, x.data());
  EXPECT_EQ(Reason(hnsw), "ok");
  faiss::IndexHNSWSQ sq(kDim, faiss::ScalarQuantizer::QT_8bit, 8);
  sq.train(kRows, x.data());
  sq.add(kRows, x.data());
  EXPECT_EQ(Reason(sq), "ok");
  faiss::IndexFlatIP q(kDim);
  faiss::IndexIVFFlat ivf(&q, kDim, 4, faiss::METRIC_INNER_PRODUCT);
  ivf.train(kRows, x.data());
  ivf.add(kRows, x.data());
  ivf.make_direct_map(true);
  EXPECT_EQ(Reason(ivf), "ok");
  faiss::IndexFlatL2 q2(kDim);
  faiss::IndexIVFPQ pq(&q2, kDim, 4, 4, 4);
  pq.train(kRows, x.data());
  pq.add(kRows, x.data());
  EXPECT_EQ(Reason(pq), "ok");
}

TEST(FaissStructure, RefusesAFlatIndexWithFewerCodesThanRows) {
  const auto x = Rows();
  faiss::IndexFlatIP flat(kDim);
  flat.add(kRows, x.data());
  flat.codes.resize(flat.codes.size() / 2);
  EXPECT_NE(Reason(flat).find("snapshot_corrupt"), std::string::npos);
}

TEST(FaissStructure, RefusesAnIvfWhoseQuantizerHasFewerCentroidsThanLists) {
  const auto x = Rows();
  faiss::IndexFlatIP q(kDim);
  faiss::IndexIVFFlat ivf(&q, kDim, 8, faiss::METRIC_INNER_PRODUCT);
  ivf.train(kRows, x.data());
  ivf.add(kRows, x.data());
  q.ntotal = 2;  // what CI's fuzz run found: the search read centroids past the end
  q.codes.resize(2 * q.code_size);
  EXPECT_NE(Reason(ivf).find("IVF quantizer"), std::string::npos) << Reason(ivf);
}

TEST(FaissStructure, RefusesInvertedListsNamingRowsPastTheEndOrMissingRows) {
  const auto x = Rows();
  faiss::IndexFlatIP q(kDim);
  faiss::IndexIVFFlat ivf(&q, kDim, 4, faiss::METRIC_INNER_PRODUCT);
  ivf.train(kRows, x.data());
  ivf.add(kRows, x.data());
  auto* lists = dynamic_cast<faiss::ArrayInvertedLists*>(ivf.invlists);
  ASSERT_NE(lists, nullptr);
  size_t l = 0;
  while (lists->ids[l].empty()) ++l;
  const auto saved = lists->ids[l][0];
  lists->ids[l][0] = kRows + 5;
  EXPECT_NE(Reason(ivf).find("past the rows"), std::string::npos) << Reason(ivf);
  lists->ids[l][0] = saved;
  lists->codes[l].resize(lists->codes[l].size() - ivf.code_size);
  EXPECT_NE(Reason(ivf).find("codes"), std::string::npos) << Reason(ivf);
}

TEST(FaissStructure, RefusesAGraphWhoseStorageOrNeighboursDisagree) {
  const auto x = Rows();
  faiss::IndexHNSWFlat hnsw(kDim, 8, faiss::METRIC_INNER_PRODUCT);
  hnsw.add(kRows, x.data());
  hnsw.hnsw.neighbors[3] = kRows;
  EXPECT_NE(Reason(hnsw).find("neighbour"), std::string::npos) << Reason(hnsw);
  hnsw.hnsw.neighbors[3] = 0;
  auto* storage = dynamic_cast<faiss::IndexFlat*>(hnsw.storage);
  storage->codes.resize(storage->code_size);
  EXPECT_NE(Reason(hnsw).find("storage"), std::string::npos) << Reason(hnsw);
}

TEST(FaissStructure, RefusesScalarCodesWithTheWrongTrainingTable) {
  const auto x = Rows();
  faiss::IndexHNSWSQ sq(kDim, faiss::ScalarQuantizer::QT_8bit, 8);
  sq.train(kRows, x.data());
  sq.add(kRows, x.data());
  auto* storage = dynamic_cast<faiss::IndexScalarQuantizer*>(sq.storage);
  storage->sq.trained.resize(2);  // the decoder reads 2 x d values
  EXPECT_NE(Reason(sq).find("storage"), std::string::npos) << Reason(sq);
}

TEST(FaissStructure, RefusesTransformsThatDoNotChainAndIndexTypesAGalleryNeverBuilds) {
  const auto x = Rows();
  auto* inner = new faiss::IndexFlatL2(8);
  auto* pca = new faiss::PCAMatrix(kDim, 8);
  pca->train(kRows, x.data());
  faiss::IndexPreTransform pre(pca, inner);
  pre.own_fields = true;
  pre.add(kRows, x.data());
  EXPECT_EQ(Reason(pre), "ok");
  pca->A.resize(10);
  EXPECT_NE(Reason(pre).find("transform"), std::string::npos) << Reason(pre);
  faiss::IndexLSH lsh(kDim, 8, false, false);
  lsh.add(kRows, x.data());
  EXPECT_NE(Reason(lsh).find("unsupported"), std::string::npos) << Reason(lsh);
}

}  // namespace
}  // namespace facepay::biometrics
