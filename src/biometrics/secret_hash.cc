#include "facepay/biometrics/secret_hash.h"

#include <sodium.h>

namespace facepay::biometrics {

StatusOr<std::string> HashSecret(std::string_view secret) {
  static const int kInit = sodium_init();
  (void)kInit;
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, secret.data(), secret.size(), crypto_pwhash_OPSLIMIT_MIN,
                        crypto_pwhash_MEMLIMIT_MIN) != 0) {
    return Internal("secret_hash_failed", "crypto_pwhash_str failed (out of memory)");
  }
  return std::string(out);
}

bool VerifySecret(const std::string& hash, std::string_view secret) {
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return false;
  return crypto_pwhash_str_verify(hash.c_str(), secret.data(), secret.size()) == 0;
}

}  // namespace facepay::biometrics
