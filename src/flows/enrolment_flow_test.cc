// Enrolment (enrol + link + consent as one operation) and erasure, run without HTTP on real
// stores, the real model pack and real photos, with a manual clock. A failure is injected at
// the link step through the real store: the account is linked to another subject between the
// flow's check and its link, and the store's UNIQUE refuses the link.
#include <cstdio>
#include <fstream>
#include <iterator>

#include "facepay/common/env.h"
#include "facepay/flows/enrolment_flow.h"
#include "flows_test_fixture.h"
#include "test_data.h"

namespace facepay::flows::testing {
namespace {

const Caller kEnroller{"k_enroller", ""};

const vision::FacePipeline* SharedPipeline() {
  static const vision::FacePipeline* p = []() -> const vision::FacePipeline* {
    auto pack = vision::ModelPack::Load(ModelsDir());
    if (!pack.ok()) return nullptr;
    auto made = vision::FacePipeline::Create(*pack, vision::PipelineOptions{});
    return made.ok() ? made->release() : nullptr;
  }();
  return p;
}

// The real store, except that linking `account` first links it to `rival` (as a concurrent
// enrolment would): the real store then refuses the flow's own link.
class RacingStore final : public FlowStore {
 public:
  RacingStore(FlowStore& real, std::string account, std::string rival)
      : real_(real), account_(std::move(account)), rival_(std::move(rival)) {}
  Status LinkSubject(const std::string& subject_id, const std::string& account_id) override {
    if (account_id == account_ && subject_id != rival_) {
      FACEPAY_RETURN_IF_ERROR(real_.LinkSubject(rival_, account_id));
    }
    return real_.LinkSubject(subject_id, account_id);
  }
  Status PutKey(const ApiKeyRecord& k) override { return real_.PutKey(k); }
  StatusOr<std::optional<ApiKeyRecord>> GetKey(const std::string& id) override { return real_.GetKey(id); }
  StatusOr<std::vector<ApiKeyRecord>> ListKeys() override { return real_.ListKeys(); }
  Status RevokeKey(const std::string& id, int64_t at) override { return real_.RevokeKey(id, at); }
  StatusOr<int64_t> CountActiveKeys() override { return real_.CountActiveKeys(); }
  StatusOr<int64_t> AppendAudit(const AuditRecord& r) override { return real_.AppendAudit(r); }
  StatusOr<std::vector<AuditRecord>> QueryAudit(const AuditQuery& q) override { return real_.QueryAudit(q); }
  Status UnlinkSubject(const std::string& s) override { return real_.UnlinkSubject(s); }
  StatusOr<std::optional<std::string>> AccountOfSubject(const std::string& s) override {
    return real_.AccountOfSubject(s);
  }
  StatusOr<std::optional<std::string>> SubjectOfAccount(const std::string& a) override {
    return real_.SubjectOfAccount(a);
  }
  StatusOr<std::optional<RequestRecord>> PutRequestIfAbsent(const RequestRecord& r) override {
    return real_.PutRequestIfAbsent(r);
  }
  StatusOr<std::optional<RequestRecord>> GetRequest(const std::string& s, const std::string& k) override {
    return real_.GetRequest(s, k);
  }
  Status PutChallenge(const Challenge& c) override { return real_.PutChallenge(c); }
  StatusOr<std::optional<Challenge>> GetChallenge(const std::string& id) override {
    return real_.GetChallenge(id);
  }
  StatusOr<Challenge> TakeChallengeAttempt(const std::string& id, int64_t now, bool used) override {
    return real_.TakeChallengeAttempt(id, now, used);
  }
  Status MarkChallengeUsed(const std::string& id) override { return real_.MarkChallengeUsed(id); }
  StatusOr<FactorBudget> GetFactorBudget(const std::string& s) override { return real_.GetFactorBudget(s); }
  StatusOr<FactorBudget> UpdateFactorBudget(
      const std::string& s, const std::function<FactorBudget(FactorBudget)>& u) override {
    return real_.UpdateFactorBudget(s, u);
  }
  StatusOr<std::string> GetCameraState(const std::string& c) override { return real_.GetCameraState(c); }
  StatusOr<std::string> UpdateCameraState(const std::string& c, int64_t now,
                                          const std::function<std::string(std::string)>& u) override {
    return real_.UpdateCameraState(c, now, u);
  }
  StatusOr<std::vector<std::pair<std::string, std::string>>> ListCameraStates() override {
    return real_.ListCameraStates();
  }
  Status PutCard(const CardRecord& c) override { return real_.PutCard(c); }
  StatusOr<std::optional<CardRecord>> FindCard(const std::string& h) override { return real_.FindCard(h); }
  Status RevokeCard(const std::string& id, int64_t at) override { return real_.RevokeCard(id, at); }
  Status CheckWritable() override { return real_.CheckWritable(); }
  std::string Backend() const override { return real_.Backend(); }

 private:
  FlowStore& real_;
  const std::string account_, rival_;
};

class EnrolmentFlows : public FlowsTest {
 protected:
  void SetUp() override {
    FACEPAY_DATA_PATH_OR_RETURN(lfw, "lfw-view1/images");
    lfw_ = lfw;
    FlowsTest::SetUp();
    deps_.pipeline = SharedPipeline();
    if (deps_.pipeline == nullptr) GTEST_SKIP() << "model pack missing at " << ModelsDir();
  }
  biometrics::NamedImage Photo(const std::string& person, int i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "_%04d.jpg", i);
    std::ifstream in(lfw_ + "/" + person + "/" + person + buf, std::ios::binary);
    return {person + buf, std::string(std::istreambuf_iterator<char>(in), {})};
  }
  EnrolmentRequest Request(const std::string& id, const std::string& person,
                           const std::string& account) {
    EnrolmentRequest r;
    r.subject.id = id;
    r.subject.display_name = person;
    r.subject.consent = {"v1", 0, "kiosk"};
    r.pin = "2468";
    r.account_id = account;
    r.capture.images = {Photo(person, 7), Photo(person, 10)};
    return r;
  }
  void Customer(const std::string& account) {
    MakeAccount(account, payments::AccountKind::kStoredValue);
  }
  bool Enrolled(const std::string& id) {
    auto s = bio_store_->GetSubject(id);
    EXPECT_TRUE(s.ok());
    return (s.ok() && s->has_value()) || !gallery_->TemplatesOf(id).empty();
  }
  std::optional<std::string> AccountOf(const std::string& id) {
    auto a = store_->AccountOfSubject(id);
    EXPECT_TRUE(a.ok());
    return a.ok() ? *a : std::nullopt;
  }
  std::string lfw_;
};

TEST_P(EnrolmentFlows, AnEnrolmentStoresTheFaceConsentAndPinAndLinksTheAccount) {
  Customer("acct:alvaro");
  auto out = EnrolmentFlow(deps_).Enrol(kEnroller, Request("alvaro", "Alvaro_Uribe", "acct:alvaro"));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->result.status, biometrics::EnrollStatus::kEnrolled) << out->result.reason;
  EXPECT_EQ(out->account_id, "acct:alvaro");
  EXPECT_EQ(AccountOf("alvaro"), "acct:alvaro");
  auto s = bio_store_->GetSubject("alvaro");
  ASSERT_TRUE(s.ok() && s->has_value());
  EXPECT_EQ((*s)->consent.at_ms, kStartMs);
  EXPECT_EQ((*s)->consent.text_version, "v1");
  EXPECT_FALSE((*s)->pin_hash.empty());
  EXPECT_NE((*s)->pin_hash, "2468");
  EXPECT_FALSE(gallery_->TemplatesOf("alvaro").empty());
  const auto audits = audit_.Of("enroll");
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_EQ(audits[0].outcome, "enrolled");
  EXPECT_EQ(audits[0].detail["liveness"]["mode"], "per_image");
}

TEST_P(EnrolmentFlows, ALinkTheStoreRefusesStopsTheEnrolmentBeforeAnyFaceIsStored) {
  Customer("acct:alvaro");
  RacingStore racing(*store_, "acct:alvaro", "mallory");
  FlowDeps deps = deps_;
  deps.store = &racing;
  auto out = EnrolmentFlow(deps).Enrol(kEnroller, Request("alvaro", "Alvaro_Uribe", "acct:alvaro"));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(out.status().reason(), "account_linked");
  EXPECT_FALSE(Enrolled("alvaro")) << "no subject enrolled but unlinked";
  EXPECT_FALSE(AccountOf("alvaro").has_value());
  auto owner = store_->SubjectOfAccount("acct:alvaro");
  ASSERT_TRUE(owner.ok());
  EXPECT_EQ(*owner, "mallory");
  EXPECT_TRUE(audit_.Of("enroll").empty());
}

TEST_P(EnrolmentFlows, ARefusedFaceReleasesTheAccountItWasLinkedTo) {
  Customer("acct:alvaro");
  Customer("acct:impostor");
  ASSERT_TRUE(EnrolmentFlow(deps_).Enrol(kEnroller, Request("alvaro", "Alvaro_Uribe", "acct:alvaro")).ok());
  // The same face as another subject: a duplicate, so nothing is stored and the link goes.
  auto dup = EnrolmentFlow(deps_).Enrol(kEnroller, Request("impostor", "Alvaro_Uribe", "acct:impostor"));
  ASSERT_TRUE(dup.ok()) << dup.status().ToString();
  EXPECT_EQ(dup->result.status, biometrics::EnrollStatus::kDuplicate);
  EXPECT_EQ(dup->result.duplicate_of, "alvaro");
  EXPECT_TRUE(dup->account_id.empty());
  EXPECT_FALSE(Enrolled("impostor"));
  EXPECT_FALSE(AccountOf("impostor").has_value());
  auto free = store_->SubjectOfAccount("acct:impostor");
  ASSERT_TRUE(free.ok());
  EXPECT_FALSE(free->has_value());
  // An account that already belongs to an enrolled subject is refused before anything runs.
  auto taken = EnrolmentFlow(deps_).Enrol(kEnroller, Request("angelina", "Angelina_Jolie", "acct:alvaro"));
  EXPECT_EQ(taken.status().reason(), "account_linked");
  EXPECT_FALSE(Enrolled("angelina"));
}

TEST_P(EnrolmentFlows, ALinkLeftByACutShortEnrolmentIsReleasedAndErasureUnlinksFirst) {
  Customer("acct:alvaro");
  ASSERT_TRUE(store_->LinkSubject("ghost", "acct:alvaro").ok());  // enrolled nothing, then died
  auto out = EnrolmentFlow(deps_).Enrol(kEnroller, Request("alvaro", "Alvaro_Uribe", "acct:alvaro"));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->result.status, biometrics::EnrollStatus::kEnrolled);
  EXPECT_FALSE(AccountOf("ghost").has_value());
  clock_.AdvanceMs(60'000);
  auto removed = ErasureFlow(deps_).Erase(kEnroller, "alvaro");
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_GT(*removed, 0u);
  EXPECT_TRUE(gallery_->TemplatesOf("alvaro").empty());
  EXPECT_FALSE(AccountOf("alvaro").has_value());
  const auto erased = audit_.Of("erase");
  ASSERT_EQ(erased.size(), 1u);
  EXPECT_EQ(erased[0].at_ms, kStartMs + 60'000);
  auto again = ErasureFlow(deps_).Erase(kEnroller, "alvaro");
  EXPECT_EQ(again.status().reason(), "subject_not_found");
}

INSTANTIATE_TEST_SUITE_P(Stores, EnrolmentFlows, ::testing::Values("sqlite", "postgres"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace facepay::flows::testing
