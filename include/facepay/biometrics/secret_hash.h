// Second factors (phone last-4 digits, PIN) at rest. A 4-digit secret has 10^4 values, so no
// password hash alone protects it from someone holding a copy of the database: the secret is
// first keyed with a server-side pepper (BLAKE2b keyed by TemplateKey::SecondFactorPepper(),
// which is not in the database), then hashed with Argon2id (crypto_pwhash_str, 2 passes,
// 16 MiB) to slow down whoever also has the key. Stored as "fp2$" + the Argon2id string.
// Hashes written before the pepper (a bare "$argon2id$..." at the library minimum cost) still
// verify; re-enrolling the factor replaces them. Guessing online is bounded by the step-up
// budgets (facepay/flows/factor_budget.h). Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "facepay/common/status_or.h"

namespace facepay::biometrics {

// `pepper`: 32 bytes (TemplateKey::SecondFactorPepper()). Reasons: secret_hash_failed (out of
// memory), invalid_pepper.
StatusOr<std::string> HashSecret(std::string_view secret, std::string_view pepper);
// True when `secret` matches `hash`; false for "" or a malformed hash.
bool VerifySecret(const std::string& hash, std::string_view secret, std::string_view pepper);

}  // namespace facepay::biometrics
