// ServiceStore contract on both backends: keys, audit paging, subject links, idempotent
// requests and challenges, with the races that matter run from 8 threads over two stores (two
// nodes) on the same data; plus bounds, reopening and schema versions.
#include "facepay/service/service_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "facepay/storage/ledger_stores.h"
#include "facepay/storage/service_stores.h"
#include "pg_service_schema.h"
#include "test_location.h"

namespace facepay::storage {
namespace {

using service::ApiKeyRecord;
using service::AuditQuery;
using service::AuditRecord;
using service::Challenge;
using service::RequestRecord;
using service::ServiceStore;

constexpr int kThreads = 8;

ApiKeyRecord Key(const std::string& id, const std::string& role = "gate") {
  ApiKeyRecord k;
  k.key_id = id;
  k.secret_hash = std::string(64, 'a');
  k.role = role;
  k.bindings = {"g1", "g2"};
  k.label = "north entrance";
  k.rate_per_s = 12.5;
  k.created_at_ms = 1000;
  return k;
}

AuditRecord Audit(const std::string& action, const std::string& target) {
  return {0, 5000, "k_actor", action, target, "ok", R"({"score":0.91})"};
}

RequestRecord Request(const std::string& key, const std::string& fingerprint) {
  return {"passage:g1", key, fingerprint, 200, R"({"decision":"accept"})", 7000};
}

Challenge MakeChallenge(const std::string& id, int attempts = 3, int64_t expires_at_ms = 10'000) {
  Challenge c;
  c.id = id;
  c.kind = "step_up";
  c.terminal = "t1";
  c.payload_json = R"({"candidates":["s1","s2"]})";
  c.expires_at_ms = expires_at_ms;
  c.attempts_left = attempts;
  return c;
}

class ServiceStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto place = facepay::testing::TestLocation::Create(GetParam(), "service.db");
    ASSERT_TRUE(place.ok()) << place.status().ToString();
    place_ = std::move(*place);
    auto s = OpenServiceStore(place_->location());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  void TearDown() override { store_.reset(); }

  StatusOr<std::unique_ptr<ServiceStore>> OpenAnother() {
    return OpenServiceStore(place_->location());
  }

  std::unique_ptr<facepay::testing::TestLocation> place_;
  std::unique_ptr<ServiceStore> store_;
};

TEST_P(ServiceStoreTest, OpensTheRequestedBackend) { EXPECT_EQ(store_->Backend(), GetParam()); }

TEST_P(ServiceStoreTest, StoresListsAndCountsKeys) {
  ASSERT_TRUE(store_->PutKey(Key("k_b", "admin")).ok());
  ASSERT_TRUE(store_->PutKey(Key("k_a")).ok());
  auto got = store_->GetKey("k_b");
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status().ToString();
  const ApiKeyRecord& k = **got;
  EXPECT_EQ(k.key_id, "k_b");
  EXPECT_EQ(k.secret_hash, std::string(64, 'a'));
  EXPECT_EQ(k.role, "admin");
  EXPECT_EQ(k.bindings, (std::vector<std::string>{"g1", "g2"}));
  EXPECT_EQ(k.label, "north entrance");
  EXPECT_DOUBLE_EQ(k.rate_per_s, 12.5);
  EXPECT_EQ(k.created_at_ms, 1000);
  EXPECT_EQ(k.revoked_at_ms, 0);
  auto missing = store_->GetKey("k_none");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  auto all = store_->ListKeys();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].key_id, "k_a");
  EXPECT_EQ((*all)[1].key_id, "k_b");
  EXPECT_EQ(*store_->CountActiveKeys(), 2);
}

TEST_P(ServiceStoreTest, RejectsAKeyIdThatExists) {
  ASSERT_TRUE(store_->PutKey(Key("k_a", "admin")).ok());
  Status s = store_->PutKey(Key("k_a", "gate"));
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.reason(), "key_exists");
  EXPECT_EQ((*store_->GetKey("k_a"))->role, "admin");
}

TEST_P(ServiceStoreTest, RevokingTwiceKeepsTheFirstTimeAndStopsCounting) {
  ASSERT_TRUE(store_->PutKey(Key("k_a")).ok());
  ASSERT_TRUE(store_->PutKey(Key("k_b")).ok());
  ASSERT_TRUE(store_->RevokeKey("k_a", 2000).ok());
  ASSERT_TRUE(store_->RevokeKey("k_a", 3000).ok());
  EXPECT_EQ((*store_->GetKey("k_a"))->revoked_at_ms, 2000);
  EXPECT_EQ(*store_->CountActiveKeys(), 1);
  EXPECT_EQ(store_->ListKeys()->size(), 2u);  // revoked keys stay listed
  Status s = store_->RevokeKey("k_none", 2000);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.reason(), "key_not_found");
}

TEST_P(ServiceStoreTest, PagesTheAuditLogBySeqAndFilters) {
  std::vector<int64_t> seqs;
  for (int i = 0; i < 7; ++i) {
    auto seq = store_->AppendAudit(Audit(i % 2 == 0 ? "passage" : "payment", i < 4 ? "s1" : "s2"));
    ASSERT_TRUE(seq.ok()) << seq.status().ToString();
    if (!seqs.empty()) {
      EXPECT_GT(*seq, seqs.back());
    }
    seqs.push_back(*seq);
  }
  // Page through everything three at a time.
  std::vector<int64_t> seen;
  AuditQuery q;
  q.limit = 3;
  for (;;) {
    auto page = store_->QueryAudit(q);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    EXPECT_LE(page->size(), 3u);
    for (const auto& r : *page) seen.push_back(r.seq);
    q.after_seq = page->back().seq;
  }
  EXPECT_EQ(seen, seqs);

  auto first = store_->QueryAudit({});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 7u);
  const AuditRecord& r = (*first)[0];
  EXPECT_EQ(r.at_ms, 5000);
  EXPECT_EQ(r.actor, "k_actor");
  EXPECT_EQ(r.action, "passage");
  EXPECT_EQ(r.target, "s1");
  EXPECT_EQ(r.outcome, "ok");
  EXPECT_EQ(r.detail_json, R"({"score":0.91})");

  AuditQuery by_action;
  by_action.action = "payment";
  EXPECT_EQ(store_->QueryAudit(by_action)->size(), 3u);  // i = 1, 3, 5
  AuditQuery by_both;
  by_both.action = "passage";
  by_both.target = "s2";
  auto both = store_->QueryAudit(by_both);
  ASSERT_EQ(both->size(), 2u);  // i = 4, 6
  EXPECT_EQ((*both)[0].seq, seqs[4]);
  by_both.after_seq = seqs[4];
  EXPECT_EQ(store_->QueryAudit(by_both)->size(), 1u);
}

// On PostgreSQL two appends can be in flight at once (several nodes): one that took its seq
// first may commit last. A reader paging by seq must not see the later seq without the
// earlier one, or its next page (after the later seq) skips the earlier row for good.
TEST_P(ServiceStoreTest, AnAuditPageNeverShowsASeqBeforeAnEarlierAppendInFlightCommits) {
  if (GetParam() != "postgres") GTEST_SKIP() << "SQLite appends one at a time, in seq order";
  // An append in flight on another node, as PgServiceStore::AppendAudit makes it: the shared
  // gate lock, then the INSERT (seq taken), not yet committed.
  pqxx::connection other(place_->location());
  pqxx::work in_flight(other);
  in_flight.exec("SELECT pg_advisory_xact_lock_shared(" + std::to_string(kAuditAppendLockKey) +
                 ")");
  const auto early = in_flight
                         .exec1("INSERT INTO audit_log(at_ms, actor, action, target, outcome,"
                                " detail_json) VALUES(1, 'k_other', 'passage', 's1', 'ok', '{}')"
                                " RETURNING seq")[0]
                         .as<int64_t>();
  // A later append commits first.
  auto late = store_->AppendAudit(Audit("payment", "s2"));
  ASSERT_TRUE(late.ok()) << late.status().ToString();
  ASSERT_GT(*late, early);

  std::atomic<bool> committed{false};
  std::thread commit([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    committed = true;
    in_flight.commit();
  });
  auto page = store_->QueryAudit({});  // waits for the append in flight
  const bool waited = committed;
  commit.join();
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(waited) << "the query returned while an earlier append was in flight";
  std::vector<int64_t> seqs;
  for (const auto& r : *page) seqs.push_back(r.seq);
  EXPECT_EQ(seqs, (std::vector<int64_t>{early, *late}));
}

TEST_P(ServiceStoreTest, RefusesAnAuditLimitOutsideOneToAThousand) {
  for (int limit : {0, -1, 1001}) {
    AuditQuery q;
    q.limit = limit;
    auto r = store_->QueryAudit(q);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << limit;
    EXPECT_EQ(r.status().reason(), "invalid_limit") << limit;
  }
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store_->AppendAudit(Audit("enroll", "s1")).ok());
  AuditQuery one;
  one.limit = 1;
  EXPECT_EQ(store_->QueryAudit(one)->size(), 1u);
  AuditQuery max;
  max.limit = 1000;
  EXPECT_EQ(store_->QueryAudit(max)->size(), 3u);
}

TEST_P(ServiceStoreTest, LinksSubjectsToAccountsBothWaysAndReplacesALink) {
  ASSERT_TRUE(store_->LinkSubject("s1", "acct1").ok());
  EXPECT_EQ(**store_->AccountOfSubject("s1"), "acct1");
  EXPECT_EQ(**store_->SubjectOfAccount("acct1"), "s1");
  // Replacing the subject's link frees the old account.
  ASSERT_TRUE(store_->LinkSubject("s1", "acct2").ok());
  EXPECT_EQ(**store_->AccountOfSubject("s1"), "acct2");
  EXPECT_EQ(**store_->SubjectOfAccount("acct2"), "s1");
  EXPECT_FALSE(store_->SubjectOfAccount("acct1")->has_value());
  ASSERT_TRUE(store_->LinkSubject("s1", "acct2").ok());  // the same link again is fine
  // An account pays for one subject.
  Status taken = store_->LinkSubject("s2", "acct2");
  EXPECT_EQ(taken.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(taken.reason(), "account_linked");
  EXPECT_FALSE(store_->AccountOfSubject("s2")->has_value());

  ASSERT_TRUE(store_->UnlinkSubject("s1").ok());
  EXPECT_FALSE(store_->AccountOfSubject("s1")->has_value());
  EXPECT_FALSE(store_->SubjectOfAccount("acct2")->has_value());
  EXPECT_TRUE(store_->UnlinkSubject("s1").ok());  // unlinking again is a no-op
  ASSERT_TRUE(store_->LinkSubject("s2", "acct2").ok());
}

TEST_P(ServiceStoreTest, KeepsTheFirstAnswerToAnIdempotentRequest) {
  auto first = store_->PutRequestIfAbsent(Request("e1", "fp1"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->has_value());
  RequestRecord other = Request("e1", "fp2");
  other.status_code = 409;
  other.response_json = "{}";
  auto again = store_->PutRequestIfAbsent(other);
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->fingerprint, "fp1");
  EXPECT_EQ((*again)->status_code, 200);
  EXPECT_EQ((*again)->response_json, R"({"decision":"accept"})");
  EXPECT_EQ((*again)->at_ms, 7000);
  auto got = store_->GetRequest("passage:g1", "e1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->fingerprint, "fp1");
  // Same key in another scope is another request.
  RequestRecord elsewhere = Request("e1", "fp3");
  elsewhere.scope = "passage:g2";
  EXPECT_FALSE(store_->PutRequestIfAbsent(elsewhere)->has_value());
  EXPECT_FALSE(store_->GetRequest("passage:g1", "e2")->has_value());
}

TEST_P(ServiceStoreTest, ExactlyOneOfEightRacingInsertsOfOneRequestWins) {
  auto second = OpenAnother();  // two nodes on the same data
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  std::vector<StatusOr<std::optional<RequestRecord>>> results(kThreads, Internal("unset", "unset"));
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      ServiceStore& s = i % 2 == 0 ? *store_ : **second;
      results[static_cast<size_t>(i)] =
          s.PutRequestIfAbsent(Request("race", "fp" + std::to_string(i)));
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  int winners = 0;
  std::set<std::string> seen_fingerprints;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (!r->has_value()) {
      ++winners;
    } else {
      seen_fingerprints.insert((*r)->fingerprint);
    }
  }
  EXPECT_EQ(winners, 1);
  auto stored = store_->GetRequest("passage:g1", "race");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  // Every loser saw the winner's record.
  EXPECT_EQ(seen_fingerprints, (std::set<std::string>{(*stored)->fingerprint}));
}

TEST_P(ServiceStoreTest, CountsDownChallengeAttemptsUntilExhausted) {
  ASSERT_TRUE(store_->PutChallenge(MakeChallenge("c1", 2)).ok());
  Status dup = store_->PutChallenge(MakeChallenge("c1"));
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.reason(), "challenge_exists");
  auto got = store_->GetChallenge("c1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->kind, "step_up");
  EXPECT_EQ((*got)->terminal, "t1");
  EXPECT_EQ((*got)->payload_json, R"({"candidates":["s1","s2"]})");
  EXPECT_EQ((*got)->expires_at_ms, 10'000);
  EXPECT_EQ((*got)->attempts_left, 2);
  EXPECT_FALSE((*got)->used);

  auto a1 = store_->TakeChallengeAttempt("c1", 9000, false);
  ASSERT_TRUE(a1.ok()) << a1.status().ToString();
  EXPECT_EQ(a1->attempts_left, 2);  // as it was before the update
  EXPECT_EQ(a1->payload_json, R"({"candidates":["s1","s2"]})");
  EXPECT_EQ((*store_->GetChallenge("c1"))->attempts_left, 1);
  auto a2 = store_->TakeChallengeAttempt("c1", 9000, false);
  ASSERT_TRUE(a2.ok());
  EXPECT_EQ(a2->attempts_left, 1);
  auto a3 = store_->TakeChallengeAttempt("c1", 9000, false);
  EXPECT_EQ(a3.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(a3.status().reason(), "challenge_exhausted");
  EXPECT_EQ((*store_->GetChallenge("c1"))->attempts_left, 0);
}

TEST_P(ServiceStoreTest, RefusesExpiredUsedAndUnknownChallenges) {
  ASSERT_TRUE(store_->PutChallenge(MakeChallenge("c1", 3, 10'000)).ok());
  auto late = store_->TakeChallengeAttempt("c1", 10'001, false);
  EXPECT_EQ(late.status().reason(), "challenge_expired");
  EXPECT_EQ((*store_->GetChallenge("c1"))->attempts_left, 3);          // a refusal changes nothing
  auto at_expiry = store_->TakeChallengeAttempt("c1", 10'000, false);  // not yet past it
  ASSERT_TRUE(at_expiry.ok()) << at_expiry.status().ToString();

  auto taken = store_->TakeChallengeAttempt("c1", 9000, true);
  ASSERT_TRUE(taken.ok());
  EXPECT_FALSE(taken->used);  // as it was before
  EXPECT_TRUE((*store_->GetChallenge("c1"))->used);
  auto reused = store_->TakeChallengeAttempt("c1", 9000, false);
  EXPECT_EQ(reused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(reused.status().reason(), "challenge_used");

  ASSERT_TRUE(store_->PutChallenge(MakeChallenge("c2")).ok());
  ASSERT_TRUE(store_->MarkChallengeUsed("c2").ok());
  EXPECT_TRUE(store_->MarkChallengeUsed("c2").ok());  // marking twice is a no-op
  EXPECT_EQ(store_->TakeChallengeAttempt("c2", 9000, false).status().reason(), "challenge_used");

  auto none = store_->TakeChallengeAttempt("c_none", 9000, false);
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(none.status().reason(), "challenge_not_found");
  EXPECT_EQ(store_->MarkChallengeUsed("c_none").reason(), "challenge_not_found");
  EXPECT_FALSE(store_->GetChallenge("c_none")->has_value());
}

// Runs TakeChallengeAttempt from kThreads threads over two stores; returns ok count and the
// reasons of the refusals.
std::pair<int, std::multiset<std::string>> RaceTakes(ServiceStore& a, ServiceStore& b,
                                                     const std::string& id, bool mark_used) {
  std::vector<Status> results(kThreads);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      ServiceStore& s = i % 2 == 0 ? a : b;
      results[static_cast<size_t>(i)] = s.TakeChallengeAttempt(id, 9000, mark_used).status();
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  int ok = 0;
  std::multiset<std::string> reasons;
  for (const auto& s : results) {
    if (s.ok()) {
      ++ok;
    } else {
      reasons.insert(std::string(s.reason()));
    }
  }
  return {ok, reasons};
}

TEST_P(ServiceStoreTest, ExactlyOneOfEightConcurrentTakesThatMarkUsedSucceeds) {
  auto second = OpenAnother();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_TRUE(store_->PutChallenge(MakeChallenge("c1", 100)).ok());
  auto [ok, reasons] = RaceTakes(*store_, **second, "c1", true);
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(reasons.count("challenge_used"), static_cast<size_t>(kThreads - 1));
  auto c = store_->GetChallenge("c1");
  EXPECT_TRUE((*c)->used);
  EXPECT_EQ((*c)->attempts_left, 99);
}

TEST_P(ServiceStoreTest, ConcurrentTakesNeverSpendMoreAttemptsThanLeft) {
  auto second = OpenAnother();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_TRUE(store_->PutChallenge(MakeChallenge("c1", 3)).ok());
  auto [ok, reasons] = RaceTakes(*store_, **second, "c1", false);
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(reasons.count("challenge_exhausted"), static_cast<size_t>(kThreads - 3));
  EXPECT_EQ((*store_->GetChallenge("c1"))->attempts_left, 0);
}

TEST_P(ServiceStoreTest, AFactorBudgetStartsEmptyAndKeepsWhatWasWritten) {
  auto empty = store_->GetFactorBudget("subject:alice");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(empty->failures, 0);
  EXPECT_EQ(empty->locked_until_ms, 0);
  auto set = store_->UpdateFactorBudget("subject:alice", [](service::FactorBudget b) {
    b.failures = 3;
    b.lockouts = 2;
    b.locked_until_ms = 123456789012;
    b.updated_at_ms = 42;
    return b;
  });
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  auto second = OpenAnother();
  ASSERT_TRUE(second.ok());
  auto got = (*second)->GetFactorBudget("subject:alice");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->failures, 3);
  EXPECT_EQ(got->lockouts, 2);
  EXPECT_EQ(got->locked_until_ms, 123456789012);
  EXPECT_EQ(got->updated_at_ms, 42);
  EXPECT_EQ(store_->GetFactorBudget("").status().reason(), "invalid_budget_scope");
  EXPECT_EQ(store_->GetFactorBudget("a b").status().reason(), "invalid_budget_scope");
}

// Two nodes counting wrong guesses of one subject at once must not lose a count (a lost
// update would hand an attacker extra guesses).
TEST_P(ServiceStoreTest, ConcurrentFactorFailuresOnTwoNodesAreAllCounted) {
  auto second = OpenAnother();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < kThreads; ++t) {
    ServiceStore& s = t % 2 == 0 ? *store_ : **second;
    threads.emplace_back([&s, &errors] {
      for (int i = 0; i < 10; ++i) {
        auto r = s.UpdateFactorBudget("key:k1", [](service::FactorBudget b) {
          ++b.failures;
          return b;
        });
        if (!r.ok()) ++errors;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(store_->GetFactorBudget("key:k1")->failures, kThreads * 10);
}

TEST_P(ServiceStoreTest, ACardIsFoundByItsTokenHashOnAnotherNodeAndRevokedOnce) {
  const service::CardRecord card{"c_1", "hash-1", "acct:ana", 10, 0};
  ASSERT_TRUE(store_->PutCard(card).ok());
  EXPECT_EQ(store_->PutCard(card).reason(), "card_exists");
  EXPECT_EQ(store_->PutCard({"c_2", "hash-1", "acct:bob", 10, 0}).reason(), "card_exists");
  auto second = OpenAnother();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  auto found = (*second)->FindCard("hash-1");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->card_id, "c_1");
  EXPECT_EQ((*found)->account_id, "acct:ana");
  EXPECT_EQ((*found)->revoked_at_ms, 0);
  EXPECT_FALSE(store_->FindCard("hash-2")->has_value());
  ASSERT_TRUE(store_->RevokeCard("c_1", 20).ok());
  ASSERT_TRUE(store_->RevokeCard("c_1", 30).ok());
  EXPECT_EQ((*(*second)->FindCard("hash-1"))->revoked_at_ms, 20);
  EXPECT_EQ(store_->RevokeCard("c_9", 20).reason(), "card_not_found");
  EXPECT_EQ(store_->FindCard("").status().reason(), "invalid_card_hash");
  EXPECT_EQ(store_->PutCard({"", "h", "acct:x", 10, 0}).reason(), "invalid_card_id");
}

TEST_P(ServiceStoreTest, IsWritableWhenItCanCommit) { EXPECT_TRUE(store_->CheckWritable().ok()); }

TEST_P(ServiceStoreTest, RefusesFieldsPastTheirBounds) {
  EXPECT_EQ(store_->PutKey(Key(std::string(65, 'k'))).reason(), "invalid_key_id");
  EXPECT_TRUE(store_->PutKey(Key(std::string(64, 'k'))).ok());
  EXPECT_EQ(store_->PutKey(Key("")).reason(), "invalid_key_id");
  EXPECT_EQ(store_->PutKey(Key("k_r", std::string(33, 'r'))).reason(), "invalid_role");
  EXPECT_EQ(store_->GetKey(std::string(65, 'k')).status().reason(), "invalid_key_id");
  EXPECT_EQ(store_->RevokeKey(std::string(65, 'k'), 1).reason(), "invalid_key_id");
  EXPECT_EQ(store_->PutKey(Key(std::string("k\0x", 3))).reason(), "invalid_field");

  EXPECT_EQ(store_->AppendAudit(Audit(std::string(33, 'a'), "s1")).status().reason(),
            "invalid_action");
  AuditRecord big = Audit("enroll", "s1");
  big.detail_json = std::string(64 * 1024 + 1, 'x');
  EXPECT_EQ(store_->AppendAudit(big).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->AppendAudit(big).status().reason(), "detail_too_large");
  big.detail_json.pop_back();
  ASSERT_TRUE(store_->AppendAudit(big).ok());
  EXPECT_EQ(store_->QueryAudit({})->at(0).detail_json.size(), 64u * 1024);

  RequestRecord huge = Request("e1", "fp");
  huge.response_json = std::string(1024 * 1024 + 1, 'y');
  EXPECT_EQ(store_->PutRequestIfAbsent(huge).status().reason(), "response_too_large");
  huge.response_json.pop_back();
  ASSERT_TRUE(store_->PutRequestIfAbsent(huge).ok());
  EXPECT_EQ((*store_->GetRequest("passage:g1", "e1"))->response_json.size(), 1024u * 1024);
  EXPECT_EQ(store_->PutRequestIfAbsent(Request("", "fp")).status().reason(), "invalid_request_key");
  EXPECT_EQ(store_->LinkSubject("", "a").reason(), "invalid_subject_id");
}

TEST_P(ServiceStoreTest, KeepsEverythingAcrossAReopen) {
  ASSERT_TRUE(store_->PutKey(Key("k_a")).ok());
  ASSERT_TRUE(store_->RevokeKey("k_a", 2000).ok());
  auto seq = store_->AppendAudit(Audit("erase", "s1"));
  ASSERT_TRUE(seq.ok());
  ASSERT_TRUE(store_->LinkSubject("s1", "acct1").ok());
  ASSERT_TRUE(store_->PutRequestIfAbsent(Request("e1", "fp1")).ok());
  ASSERT_TRUE(store_->PutChallenge(MakeChallenge("c1")).ok());
  ASSERT_TRUE(store_->TakeChallengeAttempt("c1", 9000, false).ok());
  store_.reset();
  auto again = OpenAnother();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  store_ = std::move(*again);
  EXPECT_EQ((*store_->GetKey("k_a"))->revoked_at_ms, 2000);
  auto audit = store_->QueryAudit({});
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].seq, *seq);
  EXPECT_EQ(**store_->AccountOfSubject("s1"), "acct1");
  EXPECT_EQ((*store_->GetRequest("passage:g1", "e1"))->fingerprint, "fp1");
  EXPECT_EQ((*store_->GetChallenge("c1"))->attempts_left, 2);
  // A later append continues after the old seq.
  EXPECT_GT(*store_->AppendAudit(Audit("erase", "s2")), *seq);
}

TEST_P(ServiceStoreTest, MigratesOnceAndRefusesANewerSchema) {
  store_.reset();
  ASSERT_TRUE(OpenAnother().ok());  // reopening applies nothing twice
  ASSERT_TRUE(place_
                  ->ExecSql("CREATE TABLE probe AS SELECT COUNT(*) AS n, MAX(version) AS v"
                            " FROM service_schema_version")
                  .ok());
  ASSERT_TRUE(place_
                  ->ExecSql("INSERT INTO subject_links(subject_id, account_id) SELECT "
                            "'n' || CAST(n AS TEXT), 'v' || CAST(v AS TEXT) FROM probe")
                  .ok());
  auto s = OpenAnother();
  ASSERT_TRUE(s.ok());
  const std::string v = std::to_string(ServiceSchemaVersion());
  EXPECT_EQ(**(*s)->AccountOfSubject("n" + v), "v" + v);
  s->reset();

  ASSERT_TRUE(place_->ExecSql("INSERT INTO service_schema_version(version) VALUES(999)").ok());
  auto newer = OpenAnother();
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(newer.status().reason(), "schema_too_new");
}

TEST_P(ServiceStoreTest, SharesItsFileOrDatabaseWithTheLedger) {
  auto ledger = OpenLedgerStore(place_->location());
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  ASSERT_TRUE(store_->LinkSubject("s1", "acct1").ok());
  EXPECT_EQ((*ledger)->GetAccount("acct1").status().reason(), "account_not_found");
  EXPECT_EQ(**store_->AccountOfSubject("s1"), "acct1");
}

INSTANTIATE_TEST_SUITE_P(Stores, ServiceStoreTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& param_info) { return param_info.param; });

// A PostgreSQL restart (or an idle timeout) kills every pooled session: the next calls reconnect.
TEST(PgServiceStore, ReconnectsAfterTheServerDropsItsSessions) {
  auto place = facepay::testing::TestLocation::Create("postgres");
  ASSERT_TRUE(place.ok()) << place.status().ToString();
  auto store = OpenPgServiceStore((*place)->location());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->PutKey(Key("k_a")).ok());
  {
    // Several concurrent callers leave several idle sessions in the pool, all about to die.
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&] { EXPECT_TRUE((*store)->GetKey("k_a").ok()); });
    }
    for (auto& t : threads) t.join();
  }
  ASSERT_TRUE((*place)
                  ->ExecSql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                            "datname = current_database() AND pid <> pg_backend_pid()")
                  .ok());
  auto got = (*store)->GetKey("k_a");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(got->has_value());
  ASSERT_TRUE((*place)
                  ->ExecSql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                            "datname = current_database() AND pid <> pg_backend_pid()")
                  .ok());
  // A write whose session died before its transaction began is retried too.
  EXPECT_TRUE((*store)->AppendAudit(Audit("key_create", "k_a")).ok());
  EXPECT_EQ((*store)->QueryAudit({})->size(), 1u);
  store->reset();
}

}  // namespace
}  // namespace facepay::storage
