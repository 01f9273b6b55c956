// Two nodes (two Gallery instances, each with its own store session) over one store, on
// SQLite (one file opened twice) and PostgreSQL (one database opened twice): change-log
// following with CatchUp and GalleryFollower, tampered rows, failing stores, and searches on
// one node while the other writes (run under ThreadSanitizer with the tsan preset).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "facepay/biometrics/gallery.h"
#include "facepay/biometrics/gallery_follower.h"
#include "test_biometric_store.h"
#include "test_vectors.h"

namespace facepay::biometrics {
namespace {

using testing::UnitVector;
using Clock = std::chrono::steady_clock;

Subject MakeSubject(const std::string& id) {
  Subject s;
  s.id = id;
  s.display_name = "Subject " + id;
  s.consent = {"consent-v1", 1'000, "test"};
  s.created_at_ms = 1'000;
  return s;
}

// prefix + number, appended piecewise (GCC 12 warns falsely on "literal" + std::string).
std::string Id(const char* prefix, size_t i) {
  std::string s = prefix;
  s += std::to_string(i);
  return s;
}

// Polls `cond` until it holds or `deadline_ms` passes; returns the milliseconds it took, or
// -1 on timeout.
template <typename Cond>
double WaitFor(Cond cond, int deadline_ms = 2'000) {
  const auto t0 = Clock::now();
  while (!cond()) {
    if (Clock::now() - t0 > std::chrono::milliseconds(deadline_ms)) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

class TwoNodes : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto t = facepay::testing::TestBiometricStore::Create(GetParam());
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    ts_ = std::move(*t);
    auto b = ts_->OpenAnother();
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    store_b_ = std::move(*b);
    a_ = Open(ts_->store());
    b_ = Open(*store_b_);
    ASSERT_TRUE(a_ && b_);
  }
  std::unique_ptr<Gallery> Open(BiometricStore& store) {
    GalleryOptions o;
    o.model_id = "test-model";
    o.init_key_check = true;
    auto g = Gallery::Open(store, key_, o);
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    return g.ok() ? std::move(g).value() : nullptr;
  }
  // Alters the sealed bytes of `subject`'s template(s) behind the store's back: a flipped
  // byte on PostgreSQL, another template's ciphertext on SQLite (no byte functions there).
  void Tamper(const std::string& subject, const std::string& donor) {
    std::string sql;
    if (GetParam() == "postgres") {
      sql =
          "UPDATE templates SET sealed = set_byte(sealed, 60, get_byte(sealed, 60) # 1) "
          "WHERE subject_id = '";
      sql += subject;
      sql += "'";
    } else {
      sql = "UPDATE templates SET sealed = (SELECT sealed FROM templates WHERE subject_id = '";
      sql += donor;
      sql += "' LIMIT 1) WHERE subject_id = '";
      sql += subject;
      sql += "'";
    }
    ASSERT_TRUE(ts_->ExecSql(sql).ok()) << sql;
  }
  static bool Finds(const Gallery& g, const std::vector<float>& v, const std::string& who) {
    auto c = g.Search(v, 1);
    return c.ok() && !c->empty() && (*c)[0].subject_id == who && (*c)[0].score > 0.99f;
  }

  std::unique_ptr<facepay::testing::TestBiometricStore> ts_;
  std::unique_ptr<BiometricStore> store_b_;
  TemplateKey key_ = TemplateKey::Generate();
  std::unique_ptr<Gallery> a_, b_;
  std::mt19937 rng_{11};
};

TEST_P(TwoNodes, EnrollAndEraseOnOneNodeReachTheOtherThroughCatchUp) {
  auto alice = UnitVector(rng_);
  ASSERT_TRUE(a_->Enroll(MakeSubject("alice"), {{alice, 0.9f}}, 5).ok());
  EXPECT_FALSE(b_->ContainsSubject("alice"));
  auto n = b_->CatchUp();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1u);
  EXPECT_TRUE(Finds(*b_, alice, "alice"));
  EXPECT_EQ(b_->sequence(), *ts_->store().LatestSequence());
  EXPECT_EQ(*b_->CatchUp(), 0u) << "nothing new";

  ASSERT_TRUE(a_->Erase("alice", 6).ok());
  ASSERT_TRUE(b_->CatchUp().ok());
  EXPECT_FALSE(b_->ContainsSubject("alice"));
  EXPECT_FALSE(Finds(*b_, alice, "alice"));
  EXPECT_EQ(b_->template_count(), 0u);
  auto st = b_->follow_stats();
  EXPECT_EQ(st.added, 1u);
  EXPECT_EQ(st.removed, 1u);
  EXPECT_EQ(st.tampered, 0u);
  EXPECT_EQ(st.sequence, 2);
  // Applying the same log again changes nothing (the node's own writes arrive this way).
  EXPECT_EQ(*a_->CatchUp(), 0u);
  EXPECT_EQ(a_->sequence(), 2);
}

TEST_P(TwoNodes, AddedTemplatesAreIndexedFollowedAndCappedPerSubjectAcrossNodes) {
  auto alice = UnitVector(rng_), alice2 = UnitVector(rng_), alice3 = UnitVector(rng_);
  ASSERT_TRUE(a_->Enroll(MakeSubject("alice"), {{alice, 0.9f}}, 5).ok());
  auto ids = a_->AddTemplates("alice", {{alice2, 0.8f}}, 6);
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  ASSERT_EQ(ids->size(), 1u);
  EXPECT_TRUE(Finds(*a_, alice2, "alice")) << "indexed at once on the writing node";
  EXPECT_EQ(a_->TemplatesOf("alice").size(), 2u);
  EXPECT_EQ(a_->sequence(), 2);
  auto stored = ts_->store().GetTemplate((*ids)[0]);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->subject_id, "alice");
  EXPECT_EQ((*stored)->created_at_ms, 6);

  // B has not caught up, yet counts A's template before adding: 2 + 2 fills the cap...
  ASSERT_TRUE(b_->AddTemplates("alice", {{alice3, 0.7f}, {UnitVector(rng_), 0.7f}}, 7).ok());
  EXPECT_TRUE(Finds(*b_, alice2, "alice"));
  EXPECT_EQ(b_->TemplatesOf("alice").size(), static_cast<size_t>(kTemplatesPerSubject));
  // ...and one more is refused on either node, with nothing written.
  const int64_t seq = *ts_->store().LatestSequence();
  for (Gallery* g : {a_.get(), b_.get()}) {
    auto over = g->AddTemplates("alice", {{UnitVector(rng_), 0.7f}}, 8);
    EXPECT_EQ(over.status().reason(), "too_many_templates");
    EXPECT_EQ(over.status().code(), StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(*ts_->store().LatestSequence(), seq);
  ASSERT_TRUE(a_->CatchUp().ok());
  EXPECT_TRUE(Finds(*a_, alice3, "alice"));
  EXPECT_EQ(a_->TemplatesOf("alice").size(), static_cast<size_t>(kTemplatesPerSubject));

  EXPECT_EQ(a_->AddTemplates("nobody", {{UnitVector(rng_), 0.7f}}, 9).status().reason(),
            "subject_not_found");
  EXPECT_EQ(a_->AddTemplates("alice", {}, 9).status().reason(), "no_templates");
  EXPECT_EQ(a_->AddTemplates("alice", {{std::vector<float>(3, 0.5f), 0.7f}}, 9).status().reason(),
            "dimension_mismatch");
  EXPECT_EQ(a_->AddTemplates("bad id!", {{UnitVector(rng_), 0.7f}}, 9).status().reason(),
            "invalid_subject_id");
  // Erasure removes the added templates on both nodes.
  ASSERT_TRUE(a_->Erase("alice", 10).ok());
  ASSERT_TRUE(b_->CatchUp().ok());
  for (const auto* g : {a_.get(), b_.get()}) {
    EXPECT_FALSE(g->ContainsSubject("alice"));
    EXPECT_EQ(g->template_count(), 0u);
  }
}

TEST_P(TwoNodes, CatchUpAppliesABacklogLongerThanOnePage) {
  constexpr int kSubjects = 300;  // > one ChangesSince page (256)
  std::vector<std::vector<float>> v;
  for (int i = 0; i < kSubjects; ++i) {
    v.push_back(UnitVector(rng_));
    ASSERT_TRUE(a_->Enroll(MakeSubject(Id("s", i)), {{v.back(), 1}}, 1).ok());
  }
  const auto t0 = Clock::now();
  auto n = b_->CatchUp();
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, static_cast<size_t>(kSubjects));
  EXPECT_EQ(b_->subject_count(), static_cast<size_t>(kSubjects));
  EXPECT_EQ(b_->sequence(), kSubjects);
  for (int i = 0; i < kSubjects; i += 37) {
    EXPECT_TRUE(Finds(*b_, v[static_cast<size_t>(i)], Id("s", i)));
  }
  std::cout << "[ measure  ] " << GetParam() << ": CatchUp of " << kSubjects << " enrolments took "
            << ms << " ms\n";
}

TEST_P(TwoNodes, AnOwnWriteNeverMakesANodeSkipAnotherNodesChange) {
  auto alice = UnitVector(rng_), bob = UnitVector(rng_), carol = UnitVector(rng_);
  ASSERT_TRUE(a_->Enroll(MakeSubject("alice"), {{alice, 0.9f}}, 5).ok());  // seq 1, B lacks it
  ASSERT_TRUE(b_->Enroll(MakeSubject("bob"), {{bob, 0.9f}}, 6).ok());      // seq 2, B's own
  ASSERT_TRUE(b_->CatchUp().ok());
  EXPECT_TRUE(Finds(*b_, alice, "alice")) << "B jumped past A's enrolment";
  ASSERT_TRUE(a_->Enroll(MakeSubject("carol"), {{carol, 0.9f}}, 7).ok());  // seq 3
  ASSERT_TRUE(a_->Erase("alice", 8).ok());                                 // seq 4
  ASSERT_TRUE(b_->Erase("bob", 9).ok());                                   // seq 5, B's own
  ASSERT_TRUE(b_->CatchUp().ok());
  EXPECT_FALSE(b_->ContainsSubject("alice")) << "B jumped past A's erasure";
  EXPECT_TRUE(Finds(*b_, carol, "carol"));
  ASSERT_TRUE(a_->CatchUp().ok());
  EXPECT_FALSE(a_->ContainsSubject("bob"));
  for (const auto* g : {a_.get(), b_.get()}) {
    EXPECT_EQ(g->sequence(), 5);
    EXPECT_EQ(g->subject_count(), 1u);
    EXPECT_EQ(g->template_count(), 1u);
  }
}

TEST_P(TwoNodes, TamperedTemplatesAreReportedAndNeverIndexed) {
  auto alice = UnitVector(rng_), bob = UnitVector(rng_), mallory = UnitVector(rng_);
  ASSERT_TRUE(a_->Enroll(MakeSubject("alice"), {{alice, 0.9f}}, 5).ok());
  ASSERT_TRUE(a_->Enroll(MakeSubject("bob"), {{bob, 0.9f}}, 5).ok());
  ASSERT_TRUE(a_->Enroll(MakeSubject("mallory"), {{mallory, 0.9f}}, 5).ok());
  Tamper("mallory", "bob");
  // Following: B sees mallory's enrolment in the log, but the row fails authentication.
  ASSERT_TRUE(b_->CatchUp().ok());
  auto st = b_->follow_stats();
  EXPECT_EQ(st.tampered, 1u);
  ASSERT_EQ(st.tampered_ids.size(), 1u);
  EXPECT_EQ(st.added, 2u);
  EXPECT_FALSE(b_->ContainsSubject("mallory"));
  EXPECT_EQ(b_->sequence(), 3) << "a tampered row is reported, not retried forever";
  // Opening: the rebuild reports it too.
  Tamper("alice", "bob");
  auto c = Open(*store_b_);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->load_report().tampered.size(), 2u);
  EXPECT_EQ(c->template_count(), 1u);
  EXPECT_FALSE(c->ContainsSubject("alice"));
  EXPECT_FALSE(Finds(*c, alice, "alice"));
  EXPECT_TRUE(Finds(*c, bob, "bob"));
}

TEST_P(TwoNodes, AFollowerMakesAnotherNodesWritesVisibleWithinTwoSeconds) {
  GalleryFollower follower(*b_);
  follower.Start();
  auto alice = UnitVector(rng_);
  ASSERT_TRUE(a_->Enroll(MakeSubject("alice"), {{alice, 0.9f}}, 5).ok());
  const double enroll_ms = WaitFor([&] { return Finds(*b_, alice, "alice"); });
  ASSERT_GE(enroll_ms, 0) << "enrolment on A not visible on B within 2 s";
  ASSERT_TRUE(a_->Erase("alice", 6).ok());
  const double erase_ms = WaitFor([&] { return !b_->ContainsSubject("alice"); });
  ASSERT_GE(erase_ms, 0) << "erasure on A still searchable on B after 2 s";
  EXPECT_FALSE(Finds(*b_, alice, "alice"));
  std::cout << "[ measure  ] follower interval 250 ms: enrolment visible after " << enroll_ms
            << " ms, erasure after " << erase_ms << " ms\n";
  RecordProperty("enroll_visible_ms", static_cast<int>(enroll_ms));
  RecordProperty("erase_visible_ms", static_cast<int>(erase_ms));
  ASSERT_GE(WaitFor([&] { return follower.status().lag == 0 && follower.status().sequence == 2; }),
            0);
  follower.Stop();
  auto s = follower.status();
  EXPECT_FALSE(s.running);
  EXPECT_TRUE(s.last_error.ok()) << s.last_error.ToString();
  EXPECT_GE(s.rounds, 2);
  EXPECT_EQ(s.failed_rounds, 0);
  EXPECT_EQ(s.store_sequence, 2);
  follower.Stop();  // idempotent
}

// A store whose change-log reads fail while `fail` is set (a database restart, say).
class FlakyStore final : public BiometricStore {
 public:
  explicit FlakyStore(BiometricStore& s) : s_(s) {}
  std::atomic<bool> fail{false};
  Status EnrollSubject(const Subject& x, const std::vector<TemplateRecord>& t) override {
    return s_.EnrollSubject(x, t);
  }
  Status AddTemplates(const std::string& id, const std::vector<TemplateRecord>& t,
                      int max_templates) override {
    return s_.AddTemplates(id, t, max_templates);
  }
  StatusOr<std::optional<Subject>> GetSubject(const std::string& id) override {
    return s_.GetSubject(id);
  }
  StatusOr<std::vector<Subject>> ListSubjects(const std::string& after, int limit) override {
    return s_.ListSubjects(after, limit);
  }
  StatusOr<std::vector<int64_t>> EraseSubject(const std::string& id, int64_t at) override {
    return s_.EraseSubject(id, at);
  }
  StatusOr<std::vector<TemplateRecord>> ListTemplates() override { return s_.ListTemplates(); }
  StatusOr<std::optional<TemplateRecord>> GetTemplate(int64_t id) override {
    return s_.GetTemplate(id);
  }
  StatusOr<std::optional<std::string>> GetTemplateImage(int64_t id) override {
    return s_.GetTemplateImage(id);
  }
  StatusOr<std::vector<std::pair<int64_t, bool>>> ListSubjectTemplates(
      const std::string& id) override {
    return s_.ListSubjectTemplates(id);
  }
  StatusOr<int64_t> CountSubjects() override { return s_.CountSubjects(); }
  StatusOr<int64_t> LatestSequence() override { return s_.LatestSequence(); }
  StatusOr<std::vector<TemplateChange>> ChangesSince(int64_t after, int limit) override {
    if (fail) return Unavailable("store_unavailable", "injected failure");
    return s_.ChangesSince(after, limit);
  }
  StatusOr<std::optional<std::string>> GetMeta(const std::string& k) override {
    return s_.GetMeta(k);
  }
  Status PutMeta(const std::string& k, const std::string& v) override { return s_.PutMeta(k, v); }
  Status PutPolicy(const StoredPolicy& p) override { return s_.PutPolicy(p); }
  StatusOr<std::optional<StoredPolicy>> GetPolicy(const std::string& m) override {
    return s_.GetPolicy(m);
  }
  std::string Backend() const override { return s_.Backend(); }

 private:
  BiometricStore& s_;
};

TEST_P(TwoNodes, AFollowerLogsStoreErrorsKeepsRunningAndRecovers) {
  FlakyStore flaky(*store_b_);
  auto c = Open(flaky);
  ASSERT_TRUE(c);
  std::mutex log_mu;
  std::vector<std::string> lines;
  GalleryFollowerOptions fo;
  fo.interval_ms = 10;
  fo.log = [&](const std::string& l) {
    std::lock_guard lock(log_mu);
    lines.push_back(l);
  };
  GalleryFollower follower(*c, fo);
  flaky.fail = true;
  follower.Start();
  auto alice = UnitVector(rng_);
  ASSERT_TRUE(a_->Enroll(MakeSubject("alice"), {{alice, 0.9f}}, 5).ok());
  // Rounds keep failing, and the lag shows the enrolment they cannot apply.
  ASSERT_GE(WaitFor([&] {
              auto x = follower.status();
              return x.consecutive_failures >= 3 && x.lag == 1;
            }),
            0);
  auto s = follower.status();
  EXPECT_EQ(s.last_error.reason(), "store_unavailable");
  EXPECT_TRUE(s.running);
  EXPECT_FALSE(c->ContainsSubject("alice"));
  flaky.fail = false;
  ASSERT_GE(WaitFor([&] { return Finds(*c, alice, "alice"); }), 0);
  ASSERT_GE(WaitFor([&] { return follower.status().last_error.ok(); }), 0);
  follower.Stop();
  std::lock_guard lock(log_mu);
  ASSERT_EQ(lines.size(), 2u) << "one line when failures start, one when they clear";
  EXPECT_NE(lines[0].find("store_unavailable"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("caught up again"), std::string::npos) << lines[1];
}

// Searches on B while A enrolls and erases and B's follower applies A's changes.
TEST_P(TwoNodes, SearchesOnOneNodeStayCorrectWhileAnotherWritesAndItFollows) {
  std::vector<std::vector<float>> stable;
  for (int i = 0; i < 30; ++i) {
    stable.push_back(UnitVector(rng_));
    ASSERT_TRUE(a_->Enroll(MakeSubject(Id("stable", i)), {{stable.back(), 1}}, 1).ok());
  }
  ASSERT_TRUE(b_->CatchUp().ok());
  ASSERT_EQ(b_->subject_count(), stable.size());
  std::vector<std::vector<float>> churn;
  for (int i = 0; i < 15; ++i) churn.push_back(UnitVector(rng_));

  GalleryFollowerOptions fo;
  fo.interval_ms = 5;
  GalleryFollower follower(*b_, fo);
  follower.Start();
  std::atomic<bool> stop{false};
  std::atomic<int> searches{0}, wrong{0}, errors{0};
  auto reader = [&](int seed) {
    for (int i = seed; !stop.load(); ++i) {
      const size_t k = static_cast<size_t>(i) % stable.size();
      auto c = b_->Search(stable[k], 3);
      if (!c.ok() || c->empty()) {
        ++errors;
        continue;
      }
      if ((*c)[0].subject_id != Id("stable", k)) ++wrong;
      ++searches;
    }
  };
  std::thread r1(reader, 0), r2(reader, 7);
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < churn.size(); ++i) {
      if (!a_->Enroll(MakeSubject(Id("churn", i)), {{churn[i], 1}}, 2).ok()) ++errors;
    }
    for (size_t i = 0; i < churn.size(); ++i) {
      if (!a_->Erase(Id("churn", i), 3).ok()) ++errors;
    }
  }
  const int64_t latest = *ts_->store().LatestSequence();
  ASSERT_GE(WaitFor([&] { return b_->sequence() == latest; }, 5'000), 0);
  stop = true;
  r1.join();
  r2.join();
  follower.Stop();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(searches.load(), 0);
  EXPECT_TRUE(follower.status().last_error.ok());
  EXPECT_EQ(b_->subject_count(), stable.size());
  EXPECT_EQ(b_->template_count(), stable.size());
  for (size_t i = 0; i < churn.size(); i += 4) {
    EXPECT_FALSE(Finds(*b_, churn[i], Id("churn", i)))
        << "an erased subject is still searchable on the follower";
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, TwoNodes, ::testing::Values("sqlite", "postgres"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace facepay::biometrics
