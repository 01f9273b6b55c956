// Searches running while other threads enroll and erase (run under ThreadSanitizer with the
// tsan preset).
#include <atomic>
#include <thread>

#include "gallery_test_fixture.h"

namespace facepay::biometrics {
namespace {

using testing::GalleryFixture;
using testing::UnitVector;

class GalleryConcurrency : public GalleryFixture,
                           public ::testing::WithParamInterface<std::string> {};

TEST_P(GalleryConcurrency, SearchesStayCorrectWhileEnrollingAndErasing) {
  auto g = OpenGallery(key_, Options(GetParam()));
  ASSERT_TRUE(g);
  std::vector<std::vector<float>> stable;
  for (int i = 0; i < 50; ++i) {
    stable.push_back(UnitVector(rng_));
    ASSERT_TRUE(g->Enroll(MakeSubject("stable" + std::to_string(i)), {{stable.back(), 1}}, 1).ok());
  }
  std::vector<std::vector<float>> churn;
  for (int i = 0; i < 40; ++i) churn.push_back(UnitVector(rng_));

  std::atomic<bool> stop{false};
  std::atomic<int> searches{0}, wrong{0}, errors{0};
  auto reader = [&](int seed) {
    for (int i = seed; !stop.load(); ++i) {
      const auto& v = stable[static_cast<size_t>(i) % stable.size()];
      auto c = g->Search(v, 3);
      if (!c.ok() || c->empty()) {
        ++errors;
        continue;
      }
      if ((*c)[0].subject_id != "stable" + std::to_string(i % stable.size())) ++wrong;
      ++searches;
    }
  };
  std::thread r1(reader, 0), r2(reader, 7);
  std::thread writer([&] {
    for (int round = 0; round < 3; ++round) {
      for (size_t i = 0; i < churn.size(); ++i) {
        if (!g->Enroll(MakeSubject("churn" + std::to_string(i)), {{churn[i], 1}}, 2).ok())
          ++errors;
      }
      for (size_t i = 0; i < churn.size(); ++i) {
        if (!g->Erase("churn" + std::to_string(i), 3).ok()) ++errors;
      }
    }
  });
  writer.join();
  stop = true;
  r1.join();
  r2.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(searches.load(), 0);
  EXPECT_EQ(g->subject_count(), stable.size());
  for (size_t i = 0; i < churn.size(); i += 9) {
    auto c = g->Search(churn[i], 1);
    ASSERT_TRUE(c.ok());
    EXPECT_LT((*c)[0].score, 0.5f) << "an erased subject is still searchable";
  }
  EXPECT_EQ(*store_->CountSubjects(), static_cast<int64_t>(stable.size()));
}

INSTANTIATE_TEST_SUITE_P(Factories, GalleryConcurrency,
                         ::testing::Values("Flat", "HNSW32", "Shards2:HNSW32"));

}  // namespace
}  // namespace facepay::biometrics
