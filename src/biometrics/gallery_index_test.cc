#include "facepay/biometrics/graph_search_baseline.h"
#include "facepay/biometrics/gallery_index.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "test_vectors.h"

namespace facepay::biometrics {
namespace {

using testing::Near;
using testing::UnitVector;

class GalleryIndexTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto idx = MakeGalleryIndex(GetParam(), 512);
    ASSERT_TRUE(idx.ok()) << idx.status().ToString();
    index_ = std::move(idx).value();
    // One batch first (it trains IVF), then single adds.
    std::vector<int64_t> labels;
    std::vector<float> data;
    for (int i = 0; i < 200; ++i) {
      vecs_.push_back(UnitVector(rng_));
      if (i < 150) {
        labels.push_back(1000 + i);
        data.insert(data.end(), vecs_.back().begin(), vecs_.back().end());
      }
    }
    ASSERT_TRUE(index_->AddBatch(labels, data).ok());
    for (int i = 150; i < 200; ++i) ASSERT_TRUE(index_->Add(1000 + i, vecs_[i]).ok());
  }
  std::mt19937 rng_{11};
  std::vector<std::vector<float>> vecs_;
  std::unique_ptr<GalleryIndex> index_;
};

TEST_P(GalleryIndexTest, FindsTheMateWithItsInnerProductScore) {
  auto q = Near(vecs_[17], rng_, 0.7f);
  auto hits = index_->Search(q, 5);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 5u);
  EXPECT_EQ((*hits)[0].label, 1017);
  float dot = 0;
  for (size_t i = 0; i < q.size(); ++i) dot += q[i] * vecs_[17][i];
  EXPECT_NEAR((*hits)[0].score, dot, 1e-4);
  EXPECT_GE((*hits)[0].score, (*hits)[1].score);
}

TEST_P(GalleryIndexTest, RemovedLabelsNeverComeBackAndReplaceMovesALabel) {
  ASSERT_TRUE(index_->Remove(1017).ok());
  EXPECT_EQ(index_->Remove(1017).reason(), "label_not_found");
  EXPECT_FALSE(index_->Contains(1017));
  auto hits = index_->Search(vecs_[17], 10);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 10u) << "k live hits despite the tombstone";
  for (const auto& h : *hits) EXPECT_NE(h.label, 1017);
  ASSERT_TRUE(index_->Replace(1018, vecs_[17]).ok());  // 1018 now holds 17's face
  hits = index_->Search(vecs_[17], 1);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ((*hits)[0].label, 1018);
  EXPECT_NEAR((*hits)[0].score, 1.0f, 1e-4);
  EXPECT_EQ(index_->size(), 199u);
  EXPECT_EQ(index_->Add(1018, vecs_[0]).reason(), "label_exists");
}

TEST_P(GalleryIndexTest, CompactionKeepsEveryLiveLabel) {
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(index_->Remove(1000 + i).ok());
  ASSERT_TRUE(index_->Compact().ok());
  EXPECT_EQ(index_->tombstones(), 0u);
  EXPECT_EQ(index_->size(), 100u);
  for (int i = 100; i < 200; i += 7) {
    auto hits = index_->Search(vecs_[i], 1);
    ASSERT_TRUE(hits.ok());
    EXPECT_EQ((*hits)[0].label, 1000 + i);
  }
}

TEST_P(GalleryIndexTest, SnapshotReloadsTheSameLabelsAndTombstones) {
  ASSERT_TRUE(index_->Remove(1005).ok());
  auto dir = std::filesystem::temp_directory_path() / ("fp-idx-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "g.faiss").string();
  ASSERT_TRUE(index_->Save(path).ok());
  auto back = LoadGalleryIndex(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ((*back)->size(), 199u);
  EXPECT_EQ((*back)->factory(), GetParam());
  EXPECT_FALSE((*back)->Contains(1005));
  auto hits = (*back)->Search(vecs_[5], 3);
  ASSERT_TRUE(hits.ok());
  for (const auto& h : *hits) EXPECT_NE(h.label, 1005);
  hits = (*back)->Search(vecs_[6], 1);
  EXPECT_EQ((*hits)[0].label, 1006);
  // A sharded index keeps each shard's labels beside the shard.
  const bool sharded = GetParam().rfind("Shards", 0) == 0;
  std::filesystem::resize_file(path + (sharded ? ".shard1.labels" : ".labels"), 10);
  EXPECT_EQ(LoadGalleryIndex(path).status().reason(), "snapshot_corrupt");
  EXPECT_EQ(LoadGalleryIndex((dir / "none").string()).status().reason(), "snapshot_missing");
  std::filesystem::remove_all(dir);
}

TEST_P(GalleryIndexTest, AnEmptyIndexSerializesAndReloads) {
  // Fixed bug: an empty label vector's null data() reached memcpy (UBSan, snapshot of an
  // empty gallery).
  auto empty = MakeGalleryIndex(GetParam(), 512);
  ASSERT_TRUE(empty.ok());
  auto blob = (*empty)->Serialize();
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  auto back = DeserializeGalleryIndex(*blob);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ((*back)->size(), 0u);
}

TEST_P(GalleryIndexTest, RejectsBadArguments) {
  EXPECT_EQ(index_->Search(vecs_[0], 0).status().reason(), "invalid_k");
  EXPECT_EQ(index_->Search(vecs_[0], kMaxSearchK + 1).status().reason(), "invalid_k");
  std::vector<float> short_vec(10, 0.1f);
  EXPECT_EQ(index_->Add(1, short_vec).reason(), "dimension_mismatch");
  EXPECT_EQ(index_->Search(short_vec, 1).status().reason(), "dimension_mismatch");
}

// IVF4 at the default effort probes all 4 lists: exact, so the same assertions hold. The PCA
// index searches a 64-D projection and re-ranks its candidates exactly (RFlat): at 200
// vectors its candidates hold the true neighbours, and its scores are the exact cosines; so
// with its graph over 8-bit quantised projections (HNSW32_SQ8).
INSTANTIATE_TEST_SUITE_P(Factories, GalleryIndexTest,
                         ::testing::Values("Flat", "HNSW32", "IVF4,Flat", "PCA64,HNSW32,RFlat",
                                           "PCA64,HNSW32_SQ8,RFlat", "Shards2:HNSW32",
                                           "Shards3:Flat"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           std::erase(n, ',');
                           std::erase(n, ':');
                           return n;
                         });

// A sharded projected graph (each shard fits its own PCA on its part of the first batch)
// finds what exact search finds, and every label stays reachable through add, remove and a
// serialised copy.
TEST(GalleryIndexFactory, AShardedGraphFindsTheExactTopOneAndSurvivesASnapshot) {
  auto idx = MakeGalleryIndex("Shards4:PCA64,HNSW32_SQ8,RFlat", 512);
  ASSERT_TRUE(idx.ok()) << idx.status().ToString();
  std::mt19937 rng(33);
  testing::LabelledBatch b;
  for (int i = 0; i < 2000; ++i) {
    b.Push(5000 + i, testing::UnitVector(rng));
  }
  ASSERT_TRUE((*idx)->AddBatch(b.labels, b.data).ok());
  EXPECT_EQ((*idx)->AddBatch(std::span<const int64_t>(b.labels.data(), 1),
                             std::span<const float>(b.data.data(), 512))
                .reason(),
            "label_exists");
  EXPECT_EQ((*idx)->size(), 2000u);
  ASSERT_TRUE((*idx)->Remove(5007).ok());
  EXPECT_EQ((*idx)->Remove(5007).reason(), "label_not_found");
  auto blob = (*idx)->Serialize();
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  auto back = DeserializeGalleryIndex(*blob);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ((*back)->factory(), "Shards4:PCA64,HNSW32_SQ8,RFlat");
  EXPECT_EQ((*back)->size(), 1999u);
  EXPECT_EQ((*back)->tombstones(), 1u);
  int found = 0;
  for (int i = 0; i < 2000; i += 10) {
    auto hits = (*back)->Search(testing::Near(b.vecs[static_cast<size_t>(i)], rng, 0.7f), 5);
    ASSERT_TRUE(hits.ok()) << hits.status().ToString();
    ASSERT_EQ(hits->size(), 5u);
    for (size_t h = 1; h < hits->size(); ++h) EXPECT_GE((*hits)[h - 1].score, (*hits)[h].score);
    for (const auto& h : *hits) EXPECT_NE(h.label, 5007);
    found += (*hits)[0].label == 5000 + i;
  }
  EXPECT_GE(found, 195) << "of 200 probes";  // 5007 is not probed; ties are rare at cos 0.7
  std::string cut = *blob;
  cut.resize(cut.size() - 1);
  EXPECT_EQ(DeserializeGalleryIndex(cut).status().reason(), "snapshot_corrupt");
}

TEST(GalleryIndexFactory, RejectsMalformedShardedFactories) {
  for (const char* f : {"Shards1:Flat", "Shards2:", "Shards2", "ShardsX:Flat", "Shards65:Flat",
                        "Shards2:Shards2:Flat", "Shards2:NoSuchIndex"}) {
    EXPECT_EQ(MakeGalleryIndex(f, 512).status().reason(), "invalid_index_factory") << f;
  }
}

TEST(GalleryIndexFactory, IvfTrainsOnItsFirstBatchAndRefusesSingleAddsBefore) {
  auto idx = MakeGalleryIndex("IVF8,Flat", 512);
  ASSERT_TRUE(idx.ok()) << idx.status().ToString();
  std::mt19937 rng(5);
  auto v = testing::UnitVector(rng);
  EXPECT_EQ((*idx)->Add(1, v).reason(), "index_untrained");
  std::vector<int64_t> few = {1, 2};
  std::vector<float> few_data(2 * 512, 0.04f);
  EXPECT_EQ((*idx)->AddBatch(few, few_data).reason(), "index_untrained") << "fewer than nlist";
  testing::LabelledBatch b;
  for (int i = 0; i < 400; ++i) {
    b.Push(i, testing::UnitVector(rng));
  }
  ASSERT_TRUE((*idx)->AddBatch(b.labels, b.data).ok());
  ASSERT_TRUE((*idx)->Add(1000, v).ok());
  (*idx)->set_search_effort(8);  // every list: exact
  auto hits = (*idx)->Search(b.vecs[123], 1);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ((*hits)[0].label, 123);
}

TEST(GalleryIndexFactory, APcaIndexReturnsEveryRowWhenAskedForMoreCandidatesThanItHolds) {
  auto idx = MakeGalleryIndex("PCA64,HNSW32,RFlat", 512);
  ASSERT_TRUE(idx.ok()) << idx.status().ToString();
  std::mt19937 rng(9);
  testing::LabelledBatch b;
  EXPECT_FALSE((*idx)->trained());
  for (int i = 0; i < 200; ++i) {
    b.Push(i, testing::UnitVector(rng));
  }
  std::span<const int64_t> few_labels(b.labels.data(), 100);
  std::span<const float> few(b.data.data(), 100 * 512);
  EXPECT_EQ((*idx)->AddBatch(few_labels, few).reason(), "index_untrained") << "100 < 2 x 64";
  ASSERT_TRUE((*idx)->AddBatch(b.labels, b.data).ok());
  EXPECT_TRUE((*idx)->trained());
  // k = 60 asks the projected HNSW for 240 candidates out of 200 rows.
  auto hits = (*idx)->Search(b.vecs[42], 60);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  ASSERT_EQ(hits->size(), 60u);
  EXPECT_EQ((*hits)[0].label, 42);
  EXPECT_NEAR((*hits)[0].score, 1.0f, 1e-4);
  for (size_t i = 1; i < hits->size(); ++i) EXPECT_GE((*hits)[i - 1].score, (*hits)[i].score);
}

// facepay walks HNSW graphs with its own prefetching beam search (hnsw_search.h); FAISS's
// IndexHNSW::search is the reference. On an inner-product graph over float rows, an L2 graph
// over 8-bit codes and a projected, re-ranked graph, both must find the exact top-1 about as
// often, with the exact scores.
TEST(GalleryIndexFactory, PrefetchedHnswSearchFindsWhatFaissSearchFinds) {
  std::mt19937 rng(21);
  std::vector<std::vector<float>> centres;
  for (int c = 0; c < 30; ++c) centres.push_back(testing::UnitVector(rng));
  testing::LabelledBatch b;
  for (int i = 0; i < 3000; ++i) {  // clustered, as faces are
    b.Push(i, testing::Near(centres[static_cast<size_t>(i) % centres.size()], rng, 0.5f));
  }
  std::vector<std::vector<float>> queries;
  for (size_t q = 0; q < 200; ++q) queries.push_back(testing::Near(b.vecs[q * 13], rng, 0.7f));
  const auto exact_top1 = [&](const std::vector<float>& q) {
    std::pair<float, int64_t> best{-2.0f, -1};
    for (size_t i = 0; i < b.vecs.size(); ++i) {
      float dot = 0;
      for (size_t j = 0; j < q.size(); ++j) dot += q[j] * b.vecs[i][j];
      best = std::max(best, std::pair<float, int64_t>{dot, static_cast<int64_t>(i)});
    }
    return best;
  };
  std::vector<std::pair<float, int64_t>> truth;
  for (const auto& q : queries) truth.push_back(exact_top1(q));
  for (const std::string factory : {"HNSW32", "HNSW16_SQ8", "PCA64,HNSW32_SQ8,RFlat"}) {
    SCOPED_TRACE(factory);
    auto idx = MakeGalleryIndex(factory, 512);
    ASSERT_TRUE(idx.ok()) << idx.status().ToString();
    ASSERT_TRUE((*idx)->AddBatch(b.labels, b.data).ok());
    (*idx)->set_search_effort(32);
    int found[2] = {0, 0};  // facepay's walk, FAISS's walk
    for (size_t qi = 0; qi < queries.size(); ++qi) {
      const auto& q = queries[qi];
      const auto [score, label] = truth[qi];
      for (int faiss = 0; faiss < 2; ++faiss) {
        ASSERT_NE(GraphSearchBaselineOf(**idx), nullptr);
        GraphSearchBaselineOf(**idx)->set_prefetched_search(faiss == 0);
        auto hits = (*idx)->Search(q, 10);
        ASSERT_TRUE(hits.ok()) << hits.status().ToString();
        ASSERT_EQ(hits->size(), 10u);
        for (size_t i = 1; i < hits->size(); ++i) EXPECT_GE((*hits)[i - 1].score, (*hits)[i].score);
        if ((*hits)[0].label != label) continue;
        ++found[faiss];
        // Scores are cosines: exact for float rows and re-ranked ones, near for 8-bit codes.
        EXPECT_NEAR((*hits)[0].score, score, factory == "HNSW16_SQ8" ? 0.02 : 1e-4);
      }
    }
    EXPECT_GE(found[0], 180) << "facepay's walk found the exact top-1 for " << found[0] << " of 200";
    EXPECT_GE(found[0], found[1] - 4) << "FAISS's walk found " << found[1];
  }
}

TEST(GalleryIndexFactory, TombstonesAroundAQueryStillLeaveTheKBestLiveRows) {
  auto idx = MakeGalleryIndex("Flat", 512);
  ASSERT_TRUE(idx.ok());
  std::mt19937 rng(3);
  const auto q = testing::UnitVector(rng);
  std::vector<int64_t> labels;
  std::vector<float> data;
  std::vector<std::pair<float, int64_t>> by_score;
  for (int i = 0; i < 1200; ++i) {
    auto v = i < 400 ? testing::Near(q, rng, 0.6f) : testing::UnitVector(rng);
    float dot = 0;
    for (size_t j = 0; j < v.size(); ++j) dot += v[j] * q[j];
    by_score.emplace_back(dot, i);
    labels.push_back(i);
    data.insert(data.end(), v.begin(), v.end());
  }
  ASSERT_TRUE((*idx)->AddBatch(labels, data).ok());
  std::sort(by_score.rbegin(), by_score.rend());
  // The 300 rows nearest the query are removed (below the compaction threshold): the first
  // fetches hold only tombstones, and the search must widen until 5 live rows come back.
  for (int i = 0; i < 300; ++i) ASSERT_TRUE((*idx)->Remove(by_score[i].second).ok());
  ASSERT_EQ((*idx)->tombstones(), 300u);
  auto hits = (*idx)->Search(q, 5);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ((*hits)[i].label, by_score[300 + i].second) << i;
}

TEST(GalleryIndexFactory, RejectsUnknownFactoryStrings) {
  EXPECT_EQ(MakeGalleryIndex("NoSuchIndex", 512).status().reason(), "invalid_index_factory");
  EXPECT_EQ(MakeGalleryIndex("Flat", 0).status().reason(), "invalid_index_factory");
}

}  // namespace
}  // namespace facepay::biometrics
