// Terminal pairing (docs/terminals.md): a terminal page holds no key in its source or URL. An
// operator makes a short-lived, single-use pairing code for one terminal (CLI `facepay pairing
// create` or `POST /v1/pairing-codes`); the screen sends it once (`POST /v1/pairing`, no key)
// and gets that terminal's own bound key back, which it keeps in the browser's storage.
// Revoking that key un-pairs the screen within the authenticator's cache time (1 s).
//
// A code is 8 characters of Crockford base32 (40 bits), shown as XXXX-XXXX; the store keeps
// only its BLAKE2b-256 (as a challenge of kind "pairing", one attempt, marked used atomically
// on redemption, so two screens racing with one code get one key). Thread-safe.
#pragma once

#include <string>

#include "facepay/common/status_or.h"
#include "facepay/service/auth.h"
#include "facepay/service/service_store.h"
#include "facepay/service/terminals.h"

namespace facepay::service {

inline constexpr int64_t kDefaultPairingTtlMs = 5 * 60 * 1000;
inline constexpr int64_t kMaxPairingTtlMs = 15 * 60 * 1000;

// What a code pairs: a terminal kind ("gate", "till", "atm", "border", "kiosk") and its id.
// A kiosk (enrolment desk) gets an enroller key labelled with the id; the others a key of their
// role bound to the id, which must be a configured terminal of that kind.
struct PairingTarget {
  std::string kind;
  std::string id;
};

struct NewPairingCode {
  std::string code;  // XXXX-XXXX: shown once
  int64_t expires_at_ms = 0;
  std::string role;
};

// Errors: invalid_terminal_kind, unknown_terminal, invalid_ttl; store errors.
StatusOr<NewPairingCode> CreatePairingCode(ServiceStore& store, const Terminals& terminals,
                                           const PairingTarget& target, int64_t ttl_ms,
                                           int64_t now_ms);

struct Pairing {
  NewApiKey key;
  PairingTarget target;
};
// Redeems `code` (case, spaces and dashes ignored) once. Every failure is one answer,
// PermissionDenied("pairing_code_invalid"): unknown, used, expired or malformed codes are not
// told apart (no oracle for guessing).
StatusOr<Pairing> RedeemPairingCode(ServiceStore& store, const std::string& code, int64_t now_ms);

}  // namespace facepay::service
