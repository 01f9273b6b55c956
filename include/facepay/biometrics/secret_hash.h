// Second factors (phone last-4 digits, PIN) stored as libsodium password hashes
// (crypto_pwhash_str, Argon2id). The cost is the library's minimum (ops 1, 8 KiB): a 4-digit
// secret has only 10^4 values, so hardness comes from the face match and attempt limits, not
// from the hash; the hash only keeps the digits out of a plain database dump. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "facepay/common/status_or.h"

namespace facepay::biometrics {

// Reason: secret_hash_failed (out of memory).
StatusOr<std::string> HashSecret(std::string_view secret);
// True when `secret` matches `hash`; false for "" or a malformed hash.
bool VerifySecret(const std::string& hash, std::string_view secret);

}  // namespace facepay::biometrics
