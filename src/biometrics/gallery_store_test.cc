// Gallery over a real SQLite store: round trips, change log, snapshots, tampering, keys.
#include <sqlite3.h>

#include <fstream>
#include <iterator>

#include "gallery_test_fixture.h"

namespace facepay::biometrics {
namespace {

using testing::GalleryFixture;
using testing::UnitVector;

int64_t SqlInt(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

std::string SqlText(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
  std::string v;
  if (sqlite3_step(st) == SQLITE_ROW) {
    v.assign(static_cast<const char*>(sqlite3_column_blob(st, 0)),
             static_cast<size_t>(sqlite3_column_bytes(st, 0)));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

void SqlExec(const std::string& db_path, const std::string& sql,
             const std::string* blob = nullptr) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
  if (blob) sqlite3_bind_blob(st, 1, blob->data(), static_cast<int>(blob->size()), nullptr);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_DONE) << sql;
}

TEST_F(GalleryFixture, StoreMigratesToTheLatestVersionOnceAndRefusesNewerFiles) {
  EXPECT_EQ(SqlInt(db_path_, "SELECT MAX(version) FROM biometric_schema_version"),
            storage::BiometricSchemaVersion());
  store_.reset();
  ASSERT_TRUE(storage::OpenSqliteBiometricStore(db_path_).ok());  // reopen: no-op
  EXPECT_EQ(SqlInt(db_path_, "SELECT COUNT(*) FROM biometric_schema_version"),
            storage::BiometricSchemaVersion());
  EXPECT_EQ(SqlText(db_path_, "PRAGMA journal_mode"), "wal");
  SqlExec(db_path_, "INSERT INTO biometric_schema_version VALUES(99)");
  auto s = storage::OpenSqliteBiometricStore(db_path_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().reason(), "schema_too_new");
}

TEST_F(GalleryFixture, EnrollSearchEraseKeepsStoreIndexAndChangeLogInStep) {
  auto g = OpenGallery(key_, Options());
  ASSERT_TRUE(g);
  auto a = UnitVector(rng_), b = UnitVector(rng_);
  ASSERT_TRUE(g->Enroll(MakeSubject("alice"), {{a, 0.9f}, {testing::Near(a, rng_), 0.8f}}, 5).ok());
  ASSERT_TRUE(g->Enroll(MakeSubject("bob"), {{b, 0.7f}}, 6).ok());
  EXPECT_EQ(g->Enroll(MakeSubject("bob"), {{b, 0.7f}}, 7).status().reason(), "subject_exists");
  EXPECT_EQ(*store_->LatestSequence(), 3);
  auto c = g->Search(a, 5);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->size(), 2u) << "one candidate per subject";
  EXPECT_EQ((*c)[0].subject_id, "alice");
  EXPECT_NEAR((*c)[0].score, 1.0f, 1e-4);

  auto removed = g->Erase("alice", 8);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 2u);
  EXPECT_EQ(g->Erase("alice", 9).status().reason(), "subject_not_found");
  // The snapshot written after the erasure holds no trace of alice's vectors.
  ASSERT_TRUE(g->SaveSnapshot().ok());
  EXPECT_FALSE(LoadGalleryIndex(Options().snapshot_path).ok()) << "snapshot must be sealed";
  std::ifstream f(Options().snapshot_path, std::ios::binary);
  std::string sealed((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto blob = key_.Open(sealed, "facepay-gallery-snapshot-v1|test-model|Flat");
  ASSERT_TRUE(blob.ok());
  auto on_disk = DeserializeGalleryIndex(*blob);
  ASSERT_TRUE(on_disk.ok()) << on_disk.status().ToString();
  EXPECT_EQ((*on_disk)->tombstones(), 0u);
  EXPECT_EQ((*on_disk)->size(), 1u);
  auto raw = (*on_disk)->Search(a, 1);
  ASSERT_TRUE(raw.ok());
  EXPECT_LT((*raw)[0].score, 0.5f) << "an erased embedding reached the snapshot file";
  EXPECT_FALSE(*store_->GetSubject("alice"));
  EXPECT_FALSE(g->ContainsSubject("alice"));
  c = g->Search(a, 5);
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].subject_id, "bob");
  auto changes = store_->ChangesSince(0, 100);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 5u);
  for (size_t i = 1; i < changes->size(); ++i)
    EXPECT_GT((*changes)[i].sequence, (*changes)[i - 1].sequence);
  EXPECT_EQ((*changes)[3].op, ChangeOp::kRemove);
  EXPECT_EQ(SqlInt(db_path_, "SELECT COUNT(*) FROM erasures WHERE subject_id='alice'"), 1);
  EXPECT_EQ(SqlInt(db_path_, "SELECT COUNT(*) FROM templates WHERE subject_id='alice'"), 0);
}

TEST_F(GalleryFixture, SnapshotIsUsedWhenCurrentAndRebuiltWhenStale) {
  auto a = UnitVector(rng_), b = UnitVector(rng_);
  {
    auto g = OpenGallery(key_, Options());
    ASSERT_TRUE(g->Enroll(MakeSubject("alice"), {{a, 0.9f}}, 5).ok());
    ASSERT_TRUE(g->Enroll(MakeSubject("bob"), {{b, 0.9f}}, 5).ok());
    ASSERT_TRUE(g->SaveSnapshot().ok());
  }
  {
    auto g = OpenGallery(key_, Options());
    EXPECT_TRUE(g->load_report().from_snapshot);
    EXPECT_EQ(g->template_count(), 2u);
    // Erase without saving a new snapshot: the old snapshot (with alice) is now stale.
    ASSERT_TRUE(g->Erase("alice", 9).ok());
  }
  auto g = OpenGallery(key_, Options());
  EXPECT_FALSE(g->load_report().from_snapshot);
  EXPECT_EQ(g->load_report().rebuild_reason, "snapshot_stale");
  EXPECT_FALSE(g->ContainsSubject("alice"));
  auto c = g->Search(a, 3);
  for (const auto& x : *c) EXPECT_NE(x.subject_id, "alice");
  // Another index type or model id also invalidates the snapshot.
  ASSERT_TRUE(g->SaveSnapshot().ok());
  // A snapshot altered on disk is not trusted: rebuilt from the store.
  {
    // Flip bits rather than write a value: the snapshot is sealed with a random nonce, so any
    // fixed byte is already there one time in 256 (CI once saw exactly that).
    std::fstream f(Options().snapshot_path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(40);
    const char was = static_cast<char>(f.get());
    f.seekp(40);
    f.put(static_cast<char>(was ^ 0x5a));
  }
  auto t = OpenGallery(key_, Options());
  EXPECT_EQ(t->load_report().rebuild_reason, "snapshot_tampered");
  EXPECT_EQ(t->template_count(), 1u);
  auto h = OpenGallery(key_, Options("HNSW32"));
  EXPECT_EQ(h->load_report().rebuild_reason, "snapshot_stale");
  EXPECT_EQ(h->template_count(), 1u);
  EXPECT_EQ(h->search_effort(), 64) << "the index's default";
  ASSERT_TRUE(h->SaveSnapshot().ok());
  // The configured search effort holds on a rebuilt index and on one read from a snapshot.
  auto opts = Options("HNSW32");
  opts.search_effort = 300;
  auto from_snapshot = OpenGallery(key_, opts);
  EXPECT_TRUE(from_snapshot->load_report().from_snapshot);
  EXPECT_EQ(from_snapshot->search_effort(), 300);
  from_snapshot.reset();
  opts.snapshot_path.clear();
  auto rebuilt = OpenGallery(key_, opts);
  EXPECT_FALSE(rebuilt->load_report().from_snapshot);
  EXPECT_EQ(rebuilt->search_effort(), 300);
}

// Found by tests/fuzz/gallery_meta: a .meta field of another type threw out of Gallery::Open.
TEST_F(GalleryFixture, SnapshotMetaWithWrongTypesIsRebuiltNotThrown) {
  {
    auto g = OpenGallery(key_, Options());
    ASSERT_TRUE(g->Enroll(MakeSubject("alice"), {{UnitVector(rng_), 0.9f}}, 5).ok());
    ASSERT_TRUE(g->SaveSnapshot().ok());
  }
  const std::string meta = Options().snapshot_path + ".meta";
  for (const char* text : {R"({"sequence": "1", "model_id": "m", "factory": "Flat", "labels": []})",
                           R"({"sequence": 1e300, "labels": []})",
                           R"({"model_id": 7, "labels": []})",
                           R"({"factory": ["Flat"], "labels": []})"}) {
    std::ofstream(meta, std::ios::trunc) << text;
    auto g = OpenGallery(key_, Options());
    EXPECT_EQ(g->load_report().rebuild_reason, "snapshot_corrupt") << text;
    EXPECT_EQ(g->template_count(), 1u);
  }
}

TEST_F(GalleryFixture, APcaIndexTrainsOnTheStoredTemplatesAndRefusesAnEmptyGallery) {
  const std::string pca = "PCA32,HNSW32,RFlat";
  auto empty = Gallery::Open(*store_, key_, Options(pca));
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().reason(), "index_untrained") << empty.status().ToString();
  std::vector<std::vector<float>> faces;
  {
    auto g = OpenGallery(key_, Options());  // enrolled under Flat
    for (int i = 0; i < 100; ++i) {
      faces.push_back(UnitVector(rng_));
      ASSERT_TRUE(g->Enroll(MakeSubject("s" + std::to_string(i)), {{faces.back(), 0.9f}}, 5).ok());
    }
  }
  auto g = OpenGallery(key_, Options(pca));  // 100 templates >= 2 x 32: trains and builds
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->template_count(), 100u);
  auto hit = g->Search(faces[42], 1);
  ASSERT_TRUE(hit.ok());
  EXPECT_EQ((*hit)[0].subject_id, "s42");
  EXPECT_NEAR((*hit)[0].score, 1.0f, 1e-4) << "scores stay cosines behind the PCA";
  auto fresh = UnitVector(rng_);
  ASSERT_TRUE(g->Enroll(MakeSubject("late"), {{fresh, 0.9f}}, 6).ok()) << "single adds once trained";
  ASSERT_TRUE(g->Erase("s42", 7).ok());
  hit = g->Search(faces[42], 1);
  ASSERT_TRUE(hit.ok());
  EXPECT_NE((*hit)[0].subject_id, "s42");
  EXPECT_EQ(g->Search(fresh, 1).value()[0].subject_id, "late");
}

TEST_F(GalleryFixture, AlteredOrMovedTemplateRowsAreReportedAndNeverUsed) {
  auto a = UnitVector(rng_), b = UnitVector(rng_), m = UnitVector(rng_);
  {
    auto g = OpenGallery(key_, Options());
    ASSERT_TRUE(g->Enroll(MakeSubject("alice"), {{a, 0.9f}}, 5).ok());
    ASSERT_TRUE(g->Enroll(MakeSubject("bob"), {{b, 0.9f}}, 5).ok());
    ASSERT_TRUE(g->Enroll(MakeSubject("mallory"), {{m, 0.9f}}, 5).ok());
  }
  // Flip one byte of alice's ciphertext; re-label mallory's template as bob's second one.
  std::string sealed = SqlText(db_path_, "SELECT sealed FROM templates WHERE subject_id='alice'");
  ASSERT_GT(sealed.size(), 100u);
  sealed[60] = static_cast<char>(sealed[60] ^ 0x01);
  SqlExec(db_path_, "UPDATE templates SET sealed = ?1 WHERE subject_id='alice'", &sealed);
  SqlExec(db_path_, "UPDATE templates SET subject_id='bob' WHERE subject_id='mallory'");
  auto g = OpenGallery(key_, Options());
  ASSERT_TRUE(g);
  EXPECT_EQ(g->load_report().tampered.size(), 2u);
  EXPECT_EQ(g->template_count(), 1u);
  auto c = g->Search(m, 3);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].subject_id, "bob");
  EXPECT_LT((*c)[0].score, 0.5f) << "mallory's face must not match as bob";
  EXPECT_FALSE(g->ContainsSubject("alice"));
}

TEST_F(GalleryFixture, WrongKeyIsAStartUpError) {
  {
    auto g = OpenGallery(key_, Options());
    ASSERT_TRUE(g->Enroll(MakeSubject("alice"), {{UnitVector(rng_), 0.9f}}, 5).ok());
  }
  auto g = Gallery::Open(*store_, TemplateKey::Generate(), Options());
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().reason(), "template_key_mismatch");
}

TEST_F(GalleryFixture, PolicyIsStoredPerModelId) {
  EXPECT_FALSE(*store_->GetPolicy("m1"));
  StoredPolicy p;
  p.model_id = "m1";
  p.thresholds.accept = 0.61f;
  p.target_fpir = 1e-3;
  p.gallery_size = 1234;
  ASSERT_TRUE(store_->PutPolicy(p).ok());
  p.thresholds.accept = 0.62f;
  ASSERT_TRUE(store_->PutPolicy(p).ok());
  auto back = store_->GetPolicy("m1");
  ASSERT_TRUE(back.ok() && back->has_value());
  EXPECT_FLOAT_EQ((*back)->thresholds.accept, 0.62f);
  EXPECT_EQ((*back)->gallery_size, 1234);
  EXPECT_FALSE(*store_->GetPolicy("m2"));
}

}  // namespace
}  // namespace facepay::biometrics
