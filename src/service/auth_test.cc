// API key verification and rate limits on a manual clock: the key cache and the token buckets
// age as the clock is moved, never by sleeping. Real store (SQLite file in a temp dir).
#include "facepay/service/auth.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <filesystem>

#include "facepay/storage/service_stores.h"

namespace facepay::service {
namespace {

class Auth : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    dir_ = std::filesystem::path(::testing::TempDir()) / ("auth-" + RandomHex(8));
    std::filesystem::create_directories(dir_);
    auto s = storage::OpenServiceStore((dir_ / "service.db").string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string Key(Role role) {
    auto k = MakeApiKey(role, {}, "test", 0, clock_.NowMs());
    EXPECT_TRUE(k.ok()) << k.status().ToString();
    EXPECT_TRUE(store_->PutKey(k->record).ok());
    return k->token;
  }
  std::filesystem::path dir_;
  std::unique_ptr<ServiceStore> store_;
  payments::ManualClock clock_{1'700'000'000'000};
};

TEST_F(Auth, ARevokedKeyIsRefusedOnceTheCacheLifetimeHasPassed) {
  Authenticator auth(*store_, clock_, 1000);
  const std::string token = Key(Role::kAuditor);
  auto ok = auth.Authenticate("Bearer " + token);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->role, Role::kAuditor);
  ASSERT_TRUE(store_->RevokeKey(ok->key_id, clock_.NowMs()).ok());
  clock_.AdvanceMs(999);
  EXPECT_TRUE(auth.Authenticate(token).ok()) << "still cached within its lifetime";
  clock_.AdvanceMs(1);
  auto revoked = auth.Authenticate(token);
  ASSERT_FALSE(revoked.ok());
  EXPECT_EQ(revoked.status().reason(), "revoked_api_key");
}

TEST_F(Auth, AClockSteppingBackRefreshesTheKeyCache) {
  Authenticator auth(*store_, clock_, 1000);
  const std::string token = Key(Role::kAuditor);
  auto ok = auth.Authenticate(token);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_TRUE(store_->RevokeKey(ok->key_id, clock_.NowMs()).ok());
  clock_.AdvanceMs(-60'000);  // an NTP step back must not extend the cache
  EXPECT_EQ(auth.Authenticate(token).status().reason(), "revoked_api_key");
}

TEST_F(Auth, ATokenBucketTakesABurstThenRefillsAsTheClockMoves) {
  RateLimiter limiter(1000, clock_);
  int allowed = 0;
  for (int i = 0; i < 8; ++i) allowed += limiter.Allow("k_slow", 1.0) ? 1 : 0;
  EXPECT_EQ(allowed, 5) << "1/s: bursts of 5";
  EXPECT_TRUE(limiter.Allow("k_other", 1.0)) << "limits are per key";
  clock_.AdvanceMs(999);
  EXPECT_FALSE(limiter.Allow("k_slow", 1.0));
  clock_.AdvanceMs(1);
  EXPECT_TRUE(limiter.Allow("k_slow", 1.0)) << "one token a second";
  EXPECT_FALSE(limiter.Allow("k_slow", 1.0));
  clock_.AdvanceMs(-10'000);  // a clock stepping back gives no tokens (and takes none)
  EXPECT_FALSE(limiter.Allow("k_slow", 1.0));
  clock_.AdvanceMs(10'000 + 60'000);
  allowed = 0;
  for (int i = 0; i < 8; ++i) allowed += limiter.Allow("k_slow", 1.0) ? 1 : 0;
  EXPECT_EQ(allowed, 5) << "refilled to the burst, no further";
}

TEST_F(Auth, TheDefaultRateAppliesToKeysWithoutTheirOwn) {
  RateLimiter limiter(2.0, clock_);
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += limiter.Allow("k", 0) ? 1 : 0;
  EXPECT_EQ(allowed, 5);
  clock_.AdvanceMs(500);
  EXPECT_TRUE(limiter.Allow("k", 0)) << "2/s: a token every 500 ms";
  EXPECT_TRUE(RateLimiter(0, clock_).Allow("k", 0)) << "rate 0: unlimited";
}

}  // namespace
}  // namespace facepay::service
