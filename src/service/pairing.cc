#include "facepay/service/pairing.h"

#include <sodium.h>

#include <cctype>

#include <nlohmann/json.hpp>

namespace facepay::service {

using nlohmann::json;

namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // Crockford: no I L O U

std::string ChallengeIdOf(const std::string& normalised) {
  unsigned char h[32];
  const std::string msg = "facepay-pairing-v1|" + normalised;
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                     nullptr, 0);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return std::string("pair_") + hex;
}

// Upper case, dashes and spaces removed, Crockford's look-alikes mapped; "" when malformed.
std::string Normalise(const std::string& code) {
  if (code.size() > 32) return "";
  std::string out;
  for (char ch : code) {
    if (ch == '-' || ch == ' ') continue;
    char c = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (c == 'O') c = '0';
    if (c == 'I' || c == 'L') c = '1';
    bool ok = false;
    for (const char* a = kAlphabet; *a; ++a) ok |= *a == c;
    if (!ok) return "";
    out.push_back(c);
  }
  return out.size() == 8 ? out : "";
}

StatusOr<Role> RoleOfKind(const Terminals& t, const PairingTarget& target) {
  auto known = [&](const auto& m) -> Status {
    if (m.count(target.id) == 0) {
      return NotFound("unknown_terminal", "no " + target.kind + " '" + target.id + "' is configured");
    }
    return Status::Ok();
  };
  if (target.kind == "gate") {
    FACEPAY_RETURN_IF_ERROR(known(t.gates));
    return Role::kGate;
  }
  if (target.kind == "till") {
    FACEPAY_RETURN_IF_ERROR(known(t.tills));
    return Role::kMerchant;
  }
  if (target.kind == "atm") {
    FACEPAY_RETURN_IF_ERROR(known(t.atms));
    return Role::kAtm;
  }
  if (target.kind == "border") {
    FACEPAY_RETURN_IF_ERROR(known(t.borders));
    return Role::kBorder;
  }
  if (target.kind == "kiosk") return Role::kEnroller;
  return InvalidArgument("invalid_terminal_kind",
                         "a terminal kind is gate, till, atm, border or kiosk, not '" + target.kind + "'");
}

}  // namespace

StatusOr<NewPairingCode> CreatePairingCode(ServiceStore& store, const Terminals& terminals,
                                           const PairingTarget& target, int64_t ttl_ms,
                                           int64_t now_ms) {
  if (ttl_ms <= 0 || ttl_ms > kMaxPairingTtlMs) {
    return InvalidArgument("invalid_ttl", "a pairing code lives 1 s .. 15 min");
  }
  if (target.id.empty() || target.id.size() > 64) {
    return InvalidArgument("unknown_terminal", "a terminal id is 1..64 characters");
  }
  FACEPAY_ASSIGN_OR_RETURN(Role role, RoleOfKind(terminals, target));
  NewPairingCode out;
  std::string raw;
  for (int i = 0; i < 8; ++i) raw.push_back(kAlphabet[randombytes_uniform(32)]);
  out.code = raw.substr(0, 4) + "-" + raw.substr(4);
  out.expires_at_ms = now_ms + ttl_ms;
  out.role = RoleName(role);
  Challenge c;
  c.id = ChallengeIdOf(raw);
  c.kind = "pairing";
  c.terminal = target.id;
  c.payload_json = json{{"kind", target.kind}, {"id", target.id}, {"role", out.role}}.dump();
  c.expires_at_ms = out.expires_at_ms;
  c.attempts_left = 1;
  FACEPAY_RETURN_IF_ERROR(store.PutChallenge(c));
  return out;
}

StatusOr<Pairing> RedeemPairingCode(ServiceStore& store, const std::string& code, int64_t now_ms) {
  const Status invalid = PermissionDenied(
      "pairing_code_invalid", "this pairing code is unknown, used or expired: ask for a new one");
  const std::string n = Normalise(code);
  if (n.empty()) return invalid;
  auto taken = store.TakeChallengeAttempt(ChallengeIdOf(n), now_ms, true);
  if (!taken.ok()) {
    if (taken.status().code() == StatusCode::kNotFound ||
        taken.status().code() == StatusCode::kFailedPrecondition) {
      return invalid;
    }
    return taken.status();
  }
  if (taken->kind != "pairing") return invalid;
  json p = json::parse(taken->payload_json, nullptr, false);
  if (p.is_discarded() || !p.is_object()) return Internal("bad_pairing_record", "pairing payload");
  Pairing out;
  out.target = {p.value("kind", ""), p.value("id", "")};
  FACEPAY_ASSIGN_OR_RETURN(Role role, ParseRole(p.value("role", "")));
  std::vector<std::string> bind;
  if (RoleNeedsBinding(role)) bind = {out.target.id};
  FACEPAY_ASSIGN_OR_RETURN(out.key, MakeApiKey(role, bind, "paired:" + out.target.kind + ":" +
                                                              out.target.id, 0, now_ms));
  FACEPAY_RETURN_IF_ERROR(store.PutKey(out.key.record));
  return out;
}

}  // namespace facepay::service
