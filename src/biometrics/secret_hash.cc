#include "facepay/biometrics/secret_hash.h"

#include <sodium.h>

namespace facepay::biometrics {
namespace {

constexpr std::string_view kPeppered = "fp2$";
constexpr unsigned long long kOps = 2;
constexpr size_t kMemBytes = 16u << 20;

// BLAKE2b-256 of the secret keyed by the pepper, as hex (what Argon2id then hashes).
std::string Keyed(std::string_view secret, std::string_view pepper) {
  unsigned char mac[32];
  crypto_generichash(mac, sizeof mac, reinterpret_cast<const unsigned char*>(secret.data()),
                     secret.size(), reinterpret_cast<const unsigned char*>(pepper.data()),
                     pepper.size());
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return hex;
}

}  // namespace

StatusOr<std::string> HashSecret(std::string_view secret, std::string_view pepper) {
  static const int kInit = sodium_init();
  (void)kInit;
  if (pepper.size() != 32) return InvalidArgument("invalid_pepper", "the pepper must be 32 bytes");
  const std::string keyed = Keyed(secret, pepper);
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, keyed.data(), keyed.size(), kOps, kMemBytes) != 0) {
    return Internal("secret_hash_failed", "crypto_pwhash_str failed (out of memory)");
  }
  return std::string(kPeppered) + out;
}

bool VerifySecret(const std::string& hash, std::string_view secret, std::string_view pepper) {
  if (hash.empty() || hash.size() >= kPeppered.size() + crypto_pwhash_STRBYTES) return false;
  if (hash.compare(0, kPeppered.size(), kPeppered) == 0) {
    if (pepper.size() != 32) return false;
    const std::string keyed = Keyed(secret, pepper);
    return crypto_pwhash_str_verify(hash.c_str() + kPeppered.size(), keyed.data(), keyed.size()) == 0;
  }
  // Written before the pepper: the bare Argon2id string.
  return crypto_pwhash_str_verify(hash.c_str(), secret.data(), secret.size()) == 0;
}

}  // namespace facepay::biometrics
