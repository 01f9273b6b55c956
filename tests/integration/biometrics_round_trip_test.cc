// Enroll -> identify -> erase on real LFW faces, with a real SQLite store, real FAISS index,
// real model pack. After erase the subject is gone from the store, the index, and a reload
// from the older snapshot does not bring it back.
#include <unistd.h>

#include <filesystem>

#include "facepay/biometrics/enrollment.h"
#include "facepay/storage/biometric_stores.h"
#include "integration/pipeline_fixture.h"
#include "support/test_data.h"

namespace facepay::testing {
namespace {

namespace bio = facepay::biometrics;
namespace fs = std::filesystem;

class BiometricsRoundTrip : public RealPipeline {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fp-bio-it-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto s = storage::OpenSqliteBiometricStore((dir_ / "bio.db").string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    opt_.model_id = pipeline().pack().params().embedder_model_id;
    opt_.snapshot_path = (dir_ / "gallery.faiss").string();
    opt_.init_key_check = true;
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  std::unique_ptr<bio::Gallery> Open() {
    auto g = bio::Gallery::Open(*store_, key_, opt_);
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    return g.ok() ? std::move(g).value() : nullptr;
  }
  static bio::Subject Subject(const std::string& id) {
    bio::Subject s;
    s.id = id;
    s.consent = {"v1", 1, "test"};
    return s;
  }
  fs::path dir_;
  std::unique_ptr<bio::BiometricStore> store_;
  bio::TemplateKey key_ = bio::TemplateKey::Generate();
  bio::GalleryOptions opt_;
};

TEST_F(BiometricsRoundTrip, EnrollIdentifyEraseAndSnapshotReloadDoesNotResurrect) {
  FACEPAY_DATA_PATH_OR_RETURN(lfw, "lfw-view1/images");
  const std::string aj = lfw + "/Angelina_Jolie/Angelina_Jolie_";
  const std::string au = lfw + "/Alvaro_Uribe/Alvaro_Uribe_";
  auto g = Open();
  ASSERT_TRUE(g);
  bio::EnrollOptions eo;
  auto r = bio::EnrollFromImages(pipeline(), *g, Subject("angelina"),
                                 {aj + "0003.jpg", aj + "0004.jpg", aj + "0008.jpg"}, eo, 10);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, bio::EnrollStatus::kEnrolled);
  r = bio::EnrollFromImages(pipeline(), *g, Subject("alvaro"),
                            {au + "0007.jpg", au + "0010.jpg", au + "0017.jpg"}, eo, 10);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, bio::EnrollStatus::kEnrolled);
  EXPECT_EQ(r->images[0].reason, "multiple_faces") << "a group photo is refused, not enrolled";
  EXPECT_FALSE(r->images[0].kept);
  EXPECT_EQ(r->template_ids.size(), 2u);

  // The same face under another id is a duplicate, not a second subject.
  r = bio::EnrollFromImages(pipeline(), *g, Subject("angelina_again"), {aj + "0009.jpg"}, eo, 11);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, bio::EnrollStatus::kDuplicate);
  EXPECT_EQ(r->duplicate_of, "angelina");
  EXPECT_FALSE(*store_->GetSubject("angelina_again"));

  bio::PolicyThresholds policy;  // uncalibrated defaults
  auto id = bio::IdentifyImage(pipeline(), *g, policy, aj + "0015.jpg", 5);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_FALSE(id->top.empty());
  EXPECT_EQ(id->top[0].subject_id, "angelina");
  EXPECT_NE(id->decision.outcome, bio::Outcome::kReject);
  if (id->decision.outcome == bio::Outcome::kAccept) {
    EXPECT_EQ(id->decision.subject_id, "angelina");
  }

  ASSERT_TRUE(g->SaveSnapshot().ok());  // this snapshot still holds angelina
  auto removed = g->Erase("angelina", 20);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 3u);
  EXPECT_FALSE(*store_->GetSubject("angelina"));
  EXPECT_FALSE(g->ContainsSubject("angelina"));
  id = bio::IdentifyImage(pipeline(), *g, policy, aj + "0015.jpg", 5);
  ASSERT_TRUE(id.ok());
  for (const auto& c : id->top) EXPECT_NE(c.subject_id, "angelina");
  EXPECT_EQ(id->decision.outcome, bio::Outcome::kReject);

  g.reset();
  auto reopened = Open();  // old snapshot on disk: stale by sequence, so rebuilt
  ASSERT_TRUE(reopened);
  EXPECT_FALSE(reopened->load_report().from_snapshot);
  EXPECT_EQ(reopened->load_report().rebuild_reason, "snapshot_stale");
  EXPECT_FALSE(reopened->ContainsSubject("angelina"));
  EXPECT_TRUE(reopened->ContainsSubject("alvaro"));
  ASSERT_TRUE(reopened->SaveSnapshot().ok());
  reopened.reset();
  auto from_snapshot = Open();
  EXPECT_TRUE(from_snapshot->load_report().from_snapshot);
  EXPECT_FALSE(from_snapshot->ContainsSubject("angelina"));
  id = bio::IdentifyImage(pipeline(), *from_snapshot, policy, au + "0026.jpg", 5);
  ASSERT_TRUE(id.ok());
  ASSERT_FALSE(id->top.empty());
  EXPECT_EQ(id->top[0].subject_id, "alvaro");
}

TEST_F(BiometricsRoundTrip, ProbeOutcomesAreValuesNotErrors) {
  FACEPAY_DATA_PATH_OR_RETURN(lfw, "lfw-view1/images");
  auto g = Open();
  ASSERT_TRUE(g);
  bio::PolicyThresholds policy;
  // Empty gallery: a good face is a no_match, not an error.
  auto id = bio::IdentifyImage(pipeline(), *g, policy,
                               lfw + "/Angelina_Jolie/Angelina_Jolie_0003.jpg", 5);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->decision.reason, bio::RejectReason::kNoMatch);
  id = bio::IdentifyImage(pipeline(), *g, policy, lfw + "/Alvaro_Uribe/Alvaro_Uribe_0007.jpg", 5);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->decision.reason, bio::RejectReason::kMultipleFaces);
  EXPECT_EQ(bio::IdentifyImage(pipeline(), *g, policy, lfw + "/nope.jpg", 5).status().reason(),
            "file_not_found");
  EXPECT_EQ(bio::IdentifyImage(pipeline(), *g, policy, lfw + "/nope.jpg", 0).status().reason(),
            "invalid_k");
  auto r = bio::EnrollFromImages(pipeline(), *g, Subject("x"), {}, {}, 1);
  EXPECT_EQ(r.status().reason(), "invalid_image_count");
}

}  // namespace
}  // namespace facepay::testing
