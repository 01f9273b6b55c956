// BiometricStore contract on both backends: round trips, reason tokens, the change log
// (strictly increasing, paged, never skipping a change that commits late while several
// stores write at once), meta, policies and versioned migrations.
#include "facepay/biometrics/biometric_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "facepay/storage/biometric_stores.h"
#include "facepay/storage/ledger_stores.h"
#include "test_biometric_store.h"

namespace facepay::storage {
namespace {

using biometrics::BiometricStore;
using biometrics::ChangeOp;
using biometrics::StoredPolicy;
using biometrics::Subject;
using biometrics::TemplateRecord;

Subject MakeSubject(const std::string& id) {
  Subject s;
  s.id = id;
  s.display_name = "Subject " + id;
  s.external_ref = "ref-" + id;
  s.consent = {"consent-v1", 1'000, "test"};
  s.phone_last4_hash = "$argon2id$phone";
  s.pin_hash = "$argon2id$pin";
  s.created_at_ms = 1'234;
  return s;
}

TemplateRecord MakeTemplate(int64_t id, const std::string& subject, int64_t at_ms = 5) {
  TemplateRecord t;
  t.template_id = id;
  t.subject_id = subject;
  t.model_id = "m1";
  t.quality = 0.75f;
  // Every byte value, NULs included: the sealed bytes must come back exactly.
  for (int i = 0; i < 300; ++i) t.sealed.push_back(static_cast<char>((i * 7 + id) & 0xff));
  t.created_at_ms = at_ms;
  return t;
}

class BiometricStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto t = facepay::testing::TestBiometricStore::Create(GetParam());
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    ts_ = std::move(*t);
  }
  BiometricStore& store() { return ts_->store(); }
  std::unique_ptr<facepay::testing::TestBiometricStore> ts_;
};

TEST_P(BiometricStoreTest, EnrollGetListEraseRoundTripWithReasonTokens) {
  auto& s = store();
  EXPECT_EQ(s.Backend(), GetParam());
  ASSERT_TRUE(
      s.EnrollSubject(MakeSubject("alice"), {MakeTemplate(20, "alice"), MakeTemplate(10, "alice")})
          .ok());
  auto got = s.GetSubject("alice");
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status().ToString();
  const Subject& a = **got;
  EXPECT_EQ(a.display_name, "Subject alice");
  EXPECT_EQ(a.external_ref, "ref-alice");
  EXPECT_EQ(a.consent.text_version, "consent-v1");
  EXPECT_EQ(a.consent.at_ms, 1'000);
  EXPECT_EQ(a.consent.channel, "test");
  EXPECT_EQ(a.phone_last4_hash, "$argon2id$phone");
  EXPECT_EQ(a.pin_hash, "$argon2id$pin");
  EXPECT_EQ(a.created_at_ms, 1'234);
  EXPECT_FALSE(*s.GetSubject("nobody"));

  EXPECT_EQ(s.EnrollSubject(MakeSubject("alice"), {MakeTemplate(30, "alice")}).reason(),
            "subject_exists");
  // A template id collision fails the whole enrolment: no subject, no log entry.
  EXPECT_EQ(s.EnrollSubject(MakeSubject("bob"), {MakeTemplate(40, "bob"), MakeTemplate(10, "bob")})
                .reason(),
            "template_exists");
  EXPECT_FALSE(*s.GetSubject("bob"));
  EXPECT_FALSE(*s.GetTemplate(40));
  EXPECT_EQ(*s.LatestSequence(), 2);
  EXPECT_EQ(*s.CountSubjects(), 1);

  auto list = s.ListTemplates();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].template_id, 10) << "template id order";
  EXPECT_EQ((*list)[1].template_id, 20);
  EXPECT_EQ((*list)[0].sealed, MakeTemplate(10, "alice").sealed);
  EXPECT_EQ((*list)[0].subject_id, "alice");
  EXPECT_EQ((*list)[0].model_id, "m1");
  EXPECT_FLOAT_EQ((*list)[0].quality, 0.75f);
  EXPECT_EQ((*list)[0].created_at_ms, 5);
  auto one = s.GetTemplate(20);
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((*one)->sealed, MakeTemplate(20, "alice").sealed);

  auto removed = s.EraseSubject("alice", 99);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, (std::vector<int64_t>{10, 20}));
  EXPECT_EQ(s.EraseSubject("alice", 100).status().reason(), "subject_not_found");
  EXPECT_FALSE(*s.GetSubject("alice"));
  EXPECT_FALSE(*s.GetTemplate(20));
  EXPECT_TRUE(s.ListTemplates()->empty());
  EXPECT_EQ(*s.CountSubjects(), 0);
  EXPECT_EQ(*ts_->QueryInt("SELECT COUNT(*) FROM erasures WHERE subject_id = 'alice'"), 1);
  EXPECT_EQ(*ts_->QueryInt("SELECT templates_removed FROM erasures"), 2);
  // The id is free again after an erasure.
  EXPECT_TRUE(s.EnrollSubject(MakeSubject("alice"), {MakeTemplate(50, "alice")}).ok());
}

TEST_P(BiometricStoreTest, KeepsASealedImageWithItsTemplateAndDeletesItWithTheSubject) {
  auto& s = store();
  TemplateRecord with = MakeTemplate(10, "alice");
  for (int i = 0; i < 70'000; ++i) with.sealed_image.push_back(static_cast<char>((i * 13) & 0xff));
  ASSERT_TRUE(s.EnrollSubject(MakeSubject("alice"), {with, MakeTemplate(20, "alice")}).ok());
  TemplateRecord added = MakeTemplate(30, "alice");
  added.sealed_image = std::string("\0image\0", 7);
  ASSERT_TRUE(s.AddTemplates("alice", {added}, biometrics::kNoTemplateCap).ok());

  auto image = s.GetTemplateImage(10);
  ASSERT_TRUE(image.ok() && image->has_value()) << image.status().ToString();
  EXPECT_EQ(**image, with.sealed_image) << "every byte back, NULs included";
  EXPECT_EQ(**s.GetTemplateImage(30), added.sealed_image);
  EXPECT_FALSE(*s.GetTemplateImage(20)) << "no image kept for this one";
  EXPECT_TRUE((*s.GetTemplate(10))->sealed_image.empty()) << "templates are read without images";
  auto listed = s.ListSubjectTemplates("alice");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(*listed, (std::vector<std::pair<int64_t, bool>>{{10, true}, {20, false}, {30, true}}));
  EXPECT_TRUE(s.ListSubjectTemplates("nobody")->empty());

  // A failed enrolment writes no image either.
  TemplateRecord collide = MakeTemplate(10, "bob");
  TemplateRecord fresh = MakeTemplate(40, "bob");
  fresh.sealed_image = "bob's image";
  EXPECT_EQ(s.EnrollSubject(MakeSubject("bob"), {fresh, collide}).reason(), "template_exists");
  EXPECT_FALSE(*s.GetTemplateImage(40));

  ASSERT_TRUE(s.EraseSubject("alice", 99).ok());
  EXPECT_FALSE(*s.GetTemplateImage(10));
  EXPECT_FALSE(*s.GetTemplateImage(30));
  EXPECT_EQ(*ts_->QueryInt("SELECT COUNT(*) FROM template_images"), 0) << "erased with the subject";
}

TEST_P(BiometricStoreTest, ListsSubjectsInIdOrderPagedStrictlyAfterAnId) {
  auto& s = store();
  EXPECT_TRUE(s.ListSubjects("", 10)->empty());
  // Mixed case, digits and punctuation: byte order on both backends, whatever the collation.
  const std::vector<std::string> ids = {"b", "A", "a-1", "a.2", "Z9", "a", "10", "9", "a:b"};
  int64_t tid = 100;
  for (const auto& id : ids) {
    ASSERT_TRUE(s.EnrollSubject(MakeSubject(id), {MakeTemplate(++tid, id)}).ok());
  }
  std::vector<std::string> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::string> paged;
  std::string after;
  for (int pages = 0;; ++pages) {
    ASSERT_LT(pages, 10);
    auto page = s.ListSubjects(after, 4);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_LE(page->size(), 4u);
    for (const auto& sub : *page) paged.push_back(sub.id);
    if (page->size() < 4) break;
    after = page->back().id;
  }
  EXPECT_EQ(paged, sorted);
  auto all = s.ListSubjects("", 1000);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), ids.size());
  const Subject& first = (*all)[0];
  EXPECT_EQ(first.id, "10");
  EXPECT_EQ(first.display_name, "Subject 10");
  EXPECT_EQ(first.consent.channel, "test");
  EXPECT_EQ(first.created_at_ms, 1'234);
  // Strictly after, also for an id that is not enrolled.
  EXPECT_EQ((*s.ListSubjects("a", 1))[0].id, "a-1");
  EXPECT_EQ((*s.ListSubjects("a0", 1))[0].id, "a:b");
  EXPECT_TRUE(s.ListSubjects("b", 5)->empty());
  for (int bad : {0, -1, 1001}) {
    EXPECT_EQ(s.ListSubjects("", bad).status().reason(), "invalid_limit") << bad;
  }
  ASSERT_TRUE(s.EraseSubject("a", 1).ok());
  EXPECT_EQ((*s.ListSubjects("Z9", 1))[0].id, "a-1") << "erased subjects are not listed";
}

TEST_P(BiometricStoreTest, AddsTemplatesToAnExistingSubjectAndLogsEachInOrder) {
  auto& s = store();
  ASSERT_TRUE(s.EnrollSubject(MakeSubject("alice"), {MakeTemplate(10, "alice", 5)}).ok());
  ASSERT_TRUE(s.EnrollSubject(MakeSubject("bob"), {MakeTemplate(20, "bob", 6)}).ok());
  // The records' subject_id is not trusted: they belong to the subject named by the call.
  ASSERT_TRUE(s.AddTemplates("alice", {MakeTemplate(30, "bob", 7), MakeTemplate(11, "alice", 7)}, biometrics::kNoTemplateCap)
                  .ok());
  auto t30 = s.GetTemplate(30);
  ASSERT_TRUE(t30.ok() && t30->has_value());
  EXPECT_EQ((*t30)->subject_id, "alice");
  EXPECT_EQ((*t30)->sealed, MakeTemplate(30, "bob").sealed);
  EXPECT_EQ((*t30)->created_at_ms, 7);
  EXPECT_EQ(*s.LatestSequence(), 4);
  auto log = s.ChangesSince(2, 10);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].sequence, 3);
  EXPECT_EQ((*log)[0].op, ChangeOp::kAdd);
  EXPECT_EQ((*log)[0].template_id, 30);
  EXPECT_EQ((*log)[0].subject_id, "alice");
  EXPECT_EQ((*log)[1].template_id, 11);

  EXPECT_EQ(s.AddTemplates("nobody", {MakeTemplate(40, "nobody")}, biometrics::kNoTemplateCap).reason(), "subject_not_found");
  // A collision fails the whole call: no template, no log entry.
  EXPECT_EQ(s.AddTemplates("bob", {MakeTemplate(41, "bob"), MakeTemplate(10, "bob")}, biometrics::kNoTemplateCap).reason(),
            "template_exists");
  EXPECT_FALSE(*s.GetTemplate(40));
  EXPECT_FALSE(*s.GetTemplate(41));
  EXPECT_EQ(*s.LatestSequence(), 4);
  EXPECT_TRUE(s.AddTemplates("bob", {}, biometrics::kNoTemplateCap).ok()) << "nothing to add is not an error";
  EXPECT_EQ(*s.LatestSequence(), 4);

  // Erasure removes the added templates too, and logs their removal.
  auto removed = s.EraseSubject("alice", 9);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, (std::vector<int64_t>{10, 11, 30}));
  EXPECT_EQ(*s.LatestSequence(), 7);
  EXPECT_EQ(s.AddTemplates("alice", {MakeTemplate(50, "alice")}, biometrics::kNoTemplateCap).reason(), "subject_not_found");
}

TEST_P(BiometricStoreTest, ChangeLogIsStrictlyIncreasingAndPaged) {
  auto& s = store();
  EXPECT_EQ(*s.LatestSequence(), 0);
  EXPECT_TRUE(s.ChangesSince(0, 10)->empty());
  ASSERT_TRUE(s.EnrollSubject(MakeSubject("a"), {MakeTemplate(1, "a"), MakeTemplate(2, "a")}).ok());
  ASSERT_TRUE(s.EnrollSubject(MakeSubject("b"), {MakeTemplate(3, "b")}).ok());
  ASSERT_TRUE(s.EraseSubject("a", 9).ok());
  EXPECT_EQ(*s.LatestSequence(), 5);
  auto all = s.ChangesSince(0, 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  for (size_t i = 1; i < all->size(); ++i) {
    EXPECT_GT((*all)[i].sequence, (*all)[i - 1].sequence);
  }
  EXPECT_EQ((*all)[0].op, ChangeOp::kAdd);
  EXPECT_EQ((*all)[0].template_id, 1);
  EXPECT_EQ((*all)[0].subject_id, "a");
  EXPECT_EQ((*all)[2].template_id, 3);
  EXPECT_EQ((*all)[3].op, ChangeOp::kRemove);
  EXPECT_EQ((*all)[4].op, ChangeOp::kRemove);
  EXPECT_EQ((*all)[4].subject_id, "a");
  // Paging: two at a time from the last sequence read.
  std::vector<int64_t> paged;
  int64_t after = 0;
  for (;;) {
    auto page = s.ChangesSince(after, 2);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    EXPECT_LE(page->size(), 2u);
    for (const auto& c : *page) paged.push_back(c.sequence);
    after = page->back().sequence;
  }
  ASSERT_EQ(paged.size(), 5u);
  EXPECT_EQ(paged.back(), 5);
  EXPECT_EQ(s.ChangesSince(3, 100)->size(), 2u);
}

TEST_P(BiometricStoreTest, MetaAndPoliciesAreReplacedInPlace) {
  auto& s = store();
  EXPECT_FALSE(*s.GetMeta("k"));
  const std::string binary("a\0b\xff", 4);
  ASSERT_TRUE(s.PutMeta("k", binary).ok());
  EXPECT_EQ(**s.GetMeta("k"), binary);
  ASSERT_TRUE(s.PutMeta("k", "v2").ok());
  EXPECT_EQ(**s.GetMeta("k"), "v2");

  EXPECT_FALSE(*s.GetPolicy("m1"));
  StoredPolicy p;
  p.model_id = "m1";
  p.thresholds.accept = 0.61f;
  p.thresholds.step_up = 0.4f;
  p.thresholds.second_factor = 0.3f;
  p.thresholds.margin = 0.05f;
  p.thresholds.max_candidates = 7;
  p.target_fpir = 1e-3;
  p.measured_fpir = 8e-4;
  p.gallery_size = 1234;
  p.impostor_probes = 5678;
  p.calibrated_at_ms = 42;
  ASSERT_TRUE(s.PutPolicy(p).ok());
  p.thresholds.accept = 0.62f;
  ASSERT_TRUE(s.PutPolicy(p).ok());
  auto back = s.GetPolicy("m1");
  ASSERT_TRUE(back.ok() && back->has_value()) << back.status().ToString();
  const StoredPolicy& b = **back;
  EXPECT_TRUE(b.calibrated);
  EXPECT_FLOAT_EQ(b.thresholds.accept, 0.62f);
  EXPECT_FLOAT_EQ(b.thresholds.step_up, 0.4f);
  EXPECT_FLOAT_EQ(b.thresholds.second_factor, 0.3f);
  EXPECT_FLOAT_EQ(b.thresholds.margin, 0.05f);
  EXPECT_EQ(b.thresholds.max_candidates, 7);
  EXPECT_DOUBLE_EQ(b.target_fpir, 1e-3);
  EXPECT_DOUBLE_EQ(b.measured_fpir, 8e-4);
  EXPECT_EQ(b.gallery_size, 1234);
  EXPECT_EQ(b.impostor_probes, 5678);
  EXPECT_EQ(b.calibrated_at_ms, 42);
  EXPECT_FALSE(*s.GetPolicy("m2"));
}

TEST_P(BiometricStoreTest, MigratesOnceSharesTheDatabaseWithTheLedgerAndRefusesNewer) {
  const int latest = GetParam() == "sqlite" ? BiometricSchemaVersion() : PgBiometricSchemaVersion();
  EXPECT_EQ(*ts_->QueryInt("SELECT MAX(version) FROM biometric_schema_version"), latest);
  ASSERT_TRUE(store().EnrollSubject(MakeSubject("a"), {MakeTemplate(1, "a")}).ok());
  ts_->Close();
  // The ledger schema migrates beside it (own version table), and reopening is a no-op.
  {
    auto ledger = OpenLedgerStore(ts_->location());
    ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  }
  ASSERT_TRUE(ts_->Reopen().ok());
  EXPECT_EQ(*ts_->QueryInt("SELECT COUNT(*) FROM biometric_schema_version"), latest);
  EXPECT_EQ(*store().CountSubjects(), 1);
  ts_->Close();
  ASSERT_TRUE(ts_->ExecSql("INSERT INTO biometric_schema_version(version) VALUES(999)").ok());
  auto again = ts_->OpenAnother();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().reason(), "schema_too_new");
}

// Four nodes add a template each to one subject at the same moment: the cap holds, because
// each store counts inside its transaction with the subject locked.
TEST_P(BiometricStoreTest, ConcurrentAddersOnSeveralNodesNeverExceedTheTemplateCap) {
  ASSERT_TRUE(store().EnrollSubject(MakeSubject("alice"), {MakeTemplate(10, "alice")}).ok());
  std::vector<std::unique_ptr<BiometricStore>> nodes;
  for (int i = 0; i < 4; ++i) {
    auto n = ts_->OpenAnother();
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    nodes.push_back(std::move(*n));
  }
  for (int round = 0; round < 3; ++round) {
    std::atomic<int> added{0}, refused{0}, other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&, i] {
        Status s = nodes[i]->AddTemplates(
            "alice", {MakeTemplate(100 + round * 10 + i, "alice")}, /*max_templates=*/4);
        if (s.ok()) {
          ++added;
        } else if (s.reason() == "too_many_templates") {
          ++refused;
        } else {
          ++other;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(other.load(), 0);
    EXPECT_EQ(added.load(), round == 0 ? 3 : 0) << "round " << round;
    EXPECT_EQ(refused.load(), round == 0 ? 1 : 4) << "round " << round;
  }
  auto log = store().ChangesSince(0, 100);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->size(), 4u) << "1 enrolled + 3 added, nothing else";
  EXPECT_EQ(store().AddTemplates("alice", {}, 4).ok(), true) << "nothing to add is not an error";
}

// Two stores (two nodes) enroll, add templates and erase at once while a follower pages
// through the log.
// Whatever the follower has read up to sequence S must include every change <= S that ever
// commits: with a plain database sequence a transaction could commit 7 after another
// committed 8, and a follower already at 8 would miss 7 forever.
TEST_P(BiometricStoreTest, AFollowerNeverSkipsAChangeWhileTwoStoresWrite) {
  auto other = ts_->OpenAnother();
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto third = ts_->OpenAnother();
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  std::atomic<bool> done{false};
  std::atomic<int> errors{0};
  auto writer = [&](BiometricStore* st, const std::string& prefix, int64_t id_base) {
    for (int i = 0; i < 40; ++i) {
      const std::string id = prefix + std::to_string(i);
      if (!st->EnrollSubject(MakeSubject(id), {MakeTemplate(id_base + 2 * i, id),
                                               MakeTemplate(id_base + 2 * i + 1, id)})
               .ok()) {
        ++errors;
      }
      if (i % 3 == 0 && !st->EraseSubject(id, 7).ok()) ++errors;
      if (i % 3 == 1 && !st->AddTemplates(id, {MakeTemplate(id_base + 500 + i, id)}, biometrics::kNoTemplateCap).ok()) {
        ++errors;
      }
    }
  };
  std::set<int64_t> seen;
  std::thread follower([&] {
    int64_t after = 0;
    for (;;) {
      const bool finished = done.load();
      auto page = (*third)->ChangesSince(after, 7);
      if (!page.ok()) {
        ++errors;
        return;
      }
      for (const auto& c : *page) {
        if (c.sequence <= after) ++errors;
        seen.insert(c.sequence);
        after = c.sequence;
      }
      if (finished && page->empty()) return;
    }
  });
  std::thread w1(writer, &store(), "x", 1'000);
  std::thread w2(writer, other->get(), "y", 2'000);
  w1.join();
  w2.join();
  done = true;
  follower.join();
  EXPECT_EQ(errors.load(), 0);
  auto all = store().ChangesSince(0, 10'000);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u * (80 + 28 + 13));  // enrolments, erasures, added templates
  std::set<int64_t> logged;
  for (const auto& c : *all) logged.insert(c.sequence);
  EXPECT_EQ(seen, logged) << "the follower skipped a change that committed late";
}

INSTANTIATE_TEST_SUITE_P(Backends, BiometricStoreTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace facepay::storage
