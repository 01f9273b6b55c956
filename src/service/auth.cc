#include "facepay/service/auth.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdio>

namespace facepay::service {
namespace {

constexpr std::array<const char*, 7> kRoleNames = {"admin",  "enroller", "gate",   "merchant",
                                                   "atm",    "border",   "auditor"};

std::string Hex(const unsigned char* p, size_t n) {
  std::string s(n * 2 + 1, '\0');
  sodium_bin2hex(s.data(), s.size(), p, n);
  s.pop_back();
  return s;
}

bool ValidBinding(const std::string& b) {
  if (b.empty() || b.size() > 64) return false;
  if (b == "*") return true;
  return std::all_of(b.begin(), b.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
           c == ':';
  });
}

}  // namespace

const char* RoleName(Role r) { return kRoleNames[static_cast<size_t>(r)]; }

StatusOr<Role> ParseRole(std::string_view name) {
  for (size_t i = 0; i < kRoleNames.size(); ++i) {
    if (name == kRoleNames[i]) return static_cast<Role>(i);
  }
  return InvalidArgument("invalid_role",
                         "role must be admin, enroller, gate, merchant, atm, border or auditor");
}

bool RoleNeedsBinding(Role r) {
  return r == Role::kGate || r == Role::kMerchant || r == Role::kAtm || r == Role::kBorder;
}

bool Principal::BoundTo(const std::string& terminal) const {
  return std::any_of(bindings.begin(), bindings.end(),
                     [&](const std::string& b) { return b == "*" || b == terminal; });
}

std::string RandomHex(size_t bytes) {
  std::vector<unsigned char> b(bytes);
  randombytes_buf(b.data(), b.size());
  return Hex(b.data(), b.size());
}

NewAtmCard MakeAtmCard(const std::string& account_id, int64_t now_ms) {
  NewAtmCard c;
  // Formatted, not "literal" + string: GCC 12 warns falsely (-Wrestrict) on the latter.
  char buf[80];
  std::snprintf(buf, sizeof buf, "fpc_%s", RandomHex(32).c_str());
  c.token = buf;
  std::snprintf(buf, sizeof buf, "c%s", RandomHex(8).c_str());
  c.record.card_id = buf;
  c.record.token_hash = HashKeySecret(c.token);
  c.record.account_id = account_id;
  c.record.created_at_ms = now_ms;
  return c;
}

bool LooksLikeAtmCard(std::string_view token) {
  return token.size() == 68 && token.substr(0, 4) == "fpc_" &&
         std::all_of(token.begin() + 4, token.end(), [](char ch) {
           return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
         });
}

std::string HashKeySecret(std::string_view secret) {
  unsigned char out[32];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(secret.data()),
                     secret.size(), nullptr, 0);
  return Hex(out, sizeof out);
}

StatusOr<NewApiKey> MakeApiKey(Role role, std::vector<std::string> bindings, std::string label,
                               double rate_per_s, int64_t now_ms) {
  if (sodium_init() < 0) return Internal("sodium_init_failed", "libsodium failed to start");
  if (RoleNeedsBinding(role) && bindings.empty()) {
    std::string msg = "a ";
    msg += RoleName(role);
    msg += " key must be bound to terminal ids (or '*')";
    return InvalidArgument("binding_required", msg);
  }
  if (bindings.size() > 256) return InvalidArgument("invalid_binding", "at most 256 bindings");
  for (const auto& b : bindings) {
    if (!ValidBinding(b)) {
      return InvalidArgument("invalid_binding", "binding '" + b + "' is not a terminal id");
    }
  }
  if (!(rate_per_s >= 0 && rate_per_s <= 100000)) {
    return InvalidArgument("invalid_rate", "rate must be 0..100000 requests/s (0 = default)");
  }
  if (label.size() > 128) return InvalidArgument("invalid_label", "label is at most 128 bytes");
  NewApiKey k;
  k.record.key_id = "k";
  k.record.key_id += RandomHex(8);
  const std::string secret = RandomHex(32);
  k.record.secret_hash = HashKeySecret(secret);
  k.record.role = RoleName(role);
  k.record.bindings = std::move(bindings);
  k.record.label = std::move(label);
  k.record.rate_per_s = rate_per_s;
  k.record.created_at_ms = now_ms;
  k.token = k.record.key_id;
  k.token += '.';
  k.token += secret;
  return k;
}

StatusOr<Principal> Authenticator::Authenticate(std::string_view header) {
  std::string_view token = header;
  if (token.substr(0, 7) == "Bearer ") token.remove_prefix(7);
  if (token.empty()) {
    return Unauthenticated("missing_api_key",
                           "send the API key as 'Authorization: Bearer <key>' or 'X-API-Key'");
  }
  const auto dot = token.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 64 || token.size() > 200) {
    return Unauthenticated("invalid_api_key", "the API key is not valid");
  }
  const std::string key_id(token.substr(0, dot));
  const std::string hash = HashKeySecret(token.substr(dot + 1));
  std::optional<ApiKeyRecord> rec;
  const int64_t now_ms = clock_.NowMs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key_id);
    if (it != cache_.end() && now_ms >= it->second.at_ms && now_ms - it->second.at_ms < cache_ms_) {
      rec = it->second.rec;
    }
  }
  if (!rec) {
    auto got = store_.GetKey(key_id);
    if (!got.ok()) return Unavailable("store_unavailable", "cannot check the API key now");
    if (!*got) return Unauthenticated("invalid_api_key", "the API key is not valid");
    rec = **got;
    std::lock_guard<std::mutex> lock(mu_);
    if (cache_.size() > 10000) cache_.clear();
    cache_[key_id] = {*rec, now_ms};
  }
  if (rec->secret_hash.size() != hash.size() ||
      sodium_memcmp(rec->secret_hash.data(), hash.data(), hash.size()) != 0) {
    return Unauthenticated("invalid_api_key", "the API key is not valid");
  }
  if (rec->revoked_at_ms != 0) {
    return Unauthenticated("revoked_api_key", "the API key has been revoked");
  }
  FACEPAY_ASSIGN_OR_RETURN(Role role, ParseRole(rec->role));
  return Principal{rec->key_id, role, rec->bindings, rec->rate_per_s, rec->label};
}

void Authenticator::Forget(const std::string& key_id) {
  std::lock_guard<std::mutex> lock(mu_);
  cache_.erase(key_id);
}

bool RateLimiter::Allow(const std::string& key_id, double rate_per_s) {
  const double rate = rate_per_s > 0 ? rate_per_s : default_rate_;
  if (rate <= 0) return true;
  const double burst = std::max(5.0, 2 * rate);
  const int64_t now_ms = clock_.NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, fresh] = buckets_.try_emplace(key_id);
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = burst;
  } else {
    const double dt = static_cast<double>(std::max<int64_t>(0, now_ms - b.last_ms)) / 1000.0;
    b.tokens = std::min(burst, b.tokens + dt * rate);
  }
  b.last_ms = std::max(b.last_ms, now_ms);
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

}  // namespace facepay::service
