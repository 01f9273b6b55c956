// Encryption of templates at rest (libsodium XChaCha20-Poly1305 IETF AEAD).
//
// The 32-byte template key comes from $FACEPAY_TEMPLATE_KEY (64 hex characters) or a key file
// (64 hex characters, created with mode 0600); it is never written to the database. Every
// sealed embedding is authenticated together with associated data naming its subject id,
// template id and model id, so a row moved to another subject, re-labelled or altered fails
// to open (reason template_tampered) and is never used. The store keeps a key check value so
// that a wrong key is refused at start-up (reason template_key_mismatch), not discovered later.
// TemplateKey is immutable and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "facepay/common/status_or.h"
#include "facepay/vision/face_types.h"

namespace facepay::biometrics {

inline constexpr const char* kTemplateKeyEnv = "FACEPAY_TEMPLATE_KEY";

class TemplateKey {
 public:
  // 64 hex characters. Reason: template_key_invalid.
  static StatusOr<TemplateKey> FromHex(std::string_view hex);
  // A fresh random key.
  static TemplateKey Generate();
  // $FACEPAY_TEMPLATE_KEY when set; else the key file at `path`. When the file is missing:
  // with `create`, writes a new key there (mode 0600) and sets *created; otherwise
  // FailedPrecondition("template_key_missing"). Malformed: template_key_invalid.
  static StatusOr<TemplateKey> Resolve(const std::string& path, bool create, bool* created);

  std::string Hex() const;
  // A 32-byte key derived from this one (libsodium KDF, context "fp2ndfac"): the server-side
  // pepper of the second-factor hashes (secret_hash.h), so every node that can open the
  // templates can check a PIN and a copied database alone cannot.
  std::string SecondFactorPepper() const;
  // nonce || ciphertext||tag of `plaintext`, authenticated with `ad`.
  std::string Seal(std::string_view plaintext, std::string_view ad) const;
  // DataLoss("template_tampered") when the ciphertext or `ad` does not authenticate.
  StatusOr<std::string> Open(std::string_view sealed, std::string_view ad) const;

 private:
  TemplateKey() = default;
  std::array<uint8_t, 32> key_{};
};

// Associated data binding a sealed embedding to its row.
std::string TemplateAd(std::string_view subject_id, int64_t template_id, std::string_view model_id);
// Associated data binding a kept source image to its template (never valid for an embedding).
std::string TemplateImageAd(std::string_view subject_id, int64_t template_id);

std::string SealEmbedding(const TemplateKey& key, const vision::Embedding& e, std::string_view ad);
// DataLoss("template_tampered") when it does not authenticate or has the wrong size.
StatusOr<vision::Embedding> OpenEmbedding(const TemplateKey& key, std::string_view sealed,
                                          std::string_view ad);

// Key check value: a sealed constant, stored once per store.
std::string MakeKeyCheck(const TemplateKey& key);
// FailedPrecondition("template_key_mismatch") when `check` was made with another key.
Status VerifyKeyCheck(const TemplateKey& key, std::string_view check);

// A random positive 63-bit template id.
int64_t NewTemplateId();

}  // namespace facepay::biometrics
