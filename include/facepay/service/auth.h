// API keys and roles. A key is shown once as a token "<key_id>.<secret>" (key id "k" + 16 hex,
// secret 64 hex = 256 random bits); the store keeps only BLAKE2b-256 of the secret (a fast
// hash is right for high-entropy secrets; slow password hashing is for guessable ones).
// Terminals send it as `Authorization: Bearer <token>` or `X-API-Key: <token>`.
//
// Roles: admin (everything), enroller (subjects), gate (its gates' passages), merchant (its
// tills), atm (its ATMs), border (its posts), auditor (audit log, stats: read only).
// Terminal roles are bound to terminal ids; a key bound to "*" acts for every terminal of its
// role. Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "facepay/common/status_or.h"
#include "facepay/payments/clock.h"
#include "facepay/service/service_store.h"

namespace facepay::service {

enum class Role { kAdmin, kEnroller, kGate, kMerchant, kAtm, kBorder, kAuditor };
const char* RoleName(Role r);
// InvalidArgument("invalid_role").
StatusOr<Role> ParseRole(std::string_view name);
// Gate, merchant, atm and border keys must be bound to at least one terminal.
bool RoleNeedsBinding(Role r);

struct Principal {
  std::string key_id;
  Role role = Role::kAuditor;
  std::vector<std::string> bindings;
  double rate_per_s = 0;
  std::string label;  // the operator's note; "paired:<kind>:<id>" for a paired screen
  bool BoundTo(const std::string& terminal) const;
};

struct NewApiKey {
  ApiKeyRecord record;
  std::string token;  // the only time the secret exists in clear
};

// InvalidArgument("invalid_role", "binding_required", "invalid_binding", "invalid_rate").
StatusOr<NewApiKey> MakeApiKey(Role role, std::vector<std::string> bindings, std::string label,
                               double rate_per_s, int64_t now_ms);
std::string HashKeySecret(std::string_view secret);
// `bytes` random bytes from libsodium, as lowercase hex (ids, request ids, challenge ids).
std::string RandomHex(size_t bytes);

// An ATM card for an account: the token ("fpc_" + 64 hex) is written to the card and shown
// once; the store keeps its BLAKE2b-256. The card, not the ATM, names the account an ATM may
// verify a face against.
struct NewAtmCard {
  CardRecord record;
  std::string token;
};
NewAtmCard MakeAtmCard(const std::string& account_id, int64_t now_ms);
// Whether `token` has the shape MakeAtmCard gives (checked before any store lookup).
bool LooksLikeAtmCard(std::string_view token);

// Verifies tokens against the store. Verified keys are cached for `cache_ms` of `clock` time,
// so a revocation takes effect on every node within that time (a clock that steps back
// refreshes the cache). Errors: Unauthenticated("missing_api_key",
// "invalid_api_key", "revoked_api_key"); store errors as Unavailable.
class Authenticator {
 public:
  Authenticator(ServiceStore& store, payments::Clock& clock, int64_t cache_ms = 1000)
      : store_(store), clock_(clock), cache_ms_(cache_ms) {}
  // `header` is the Authorization or X-API-Key header value ("" when absent).
  StatusOr<Principal> Authenticate(std::string_view header);
  void Forget(const std::string& key_id);

 private:
  struct Cached {
    ApiKeyRecord rec;
    int64_t at_ms = 0;
  };
  ServiceStore& store_;
  payments::Clock& clock_;
  const int64_t cache_ms_;
  std::mutex mu_;  // guards cache_
  std::unordered_map<std::string, Cached> cache_;
};

// Token buckets per key: `rate_per_s` sustained, bursts up to max(5, 2 x rate), refilled as
// `clock` moves (never by a clock that steps back).
class RateLimiter {
 public:
  RateLimiter(double default_rate_per_s, payments::Clock& clock)
      : default_rate_(default_rate_per_s), clock_(clock) {}
  // false when the key is over its rate (the caller answers 429).
  bool Allow(const std::string& key_id, double rate_per_s);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t last_ms = 0;
  };
  const double default_rate_;
  payments::Clock& clock_;
  std::mutex mu_;  // guards buckets_
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace facepay::service
