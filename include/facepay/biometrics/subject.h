// Subjects and their templates: the people facepay can recognise. Plain values; thread-compatible.
//
// A subject has an id, a display name or an external reference, a consent record and optional
// second factors (phone last-4 digits, PIN), stored only as libsodium password hashes. A
// template is one embedding of the subject's face, sealed (encrypted + authenticated) with the
// template key: the store never holds a plaintext embedding.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "facepay/common/status.h"

namespace facepay::biometrics {

inline constexpr size_t kMaxSubjectIdLength = 64;
inline constexpr size_t kMaxDisplayNameLength = 128;

struct Consent {
  std::string text_version;  // version of the consent text the subject agreed to
  int64_t at_ms = 0;         // when (Unix ms)
  std::string channel;       // "kiosk", "cli", "web", ...
};

struct Subject {
  std::string id;
  std::string display_name;  // or external reference
  std::string external_ref;
  Consent consent;
  std::string phone_last4_hash;  // crypto_pwhash_str of the 4 digits; "" = not set
  std::string pin_hash;          // crypto_pwhash_str of the PIN; "" = not set
  int64_t created_at_ms = 0;
};

struct TemplateRecord {
  int64_t template_id = 0;  // random positive 63-bit id; also the gallery index label
  std::string subject_id;
  std::string model_id;  // embedder model id/version that produced the embedding
  float quality = 0;     // enrollment quality score, 0..1
  std::string sealed;    // nonce || AEAD ciphertext of the embedding
  int64_t created_at_ms = 0;
  // nonce || AEAD ciphertext of the source image, when the operator keeps enrolment images
  // ("" = not kept). Written by EnrollSubject/AddTemplates; ListTemplates and GetTemplate leave
  // it empty (BiometricStore::GetTemplateImage reads it).
  std::string sealed_image;
};

// [A-Za-z0-9_.:-], 1..64 characters. Reason: invalid_subject_id.
Status ValidateSubjectId(std::string_view id);
// Exactly 4 ASCII digits. Reason: invalid_phone_last4.
Status ValidatePhoneLast4(std::string_view digits);
// 4..8 ASCII digits. Reason: invalid_pin.
Status ValidatePin(std::string_view pin);
// Printable, at most 128 bytes. Reason: invalid_display_name.
Status ValidateDisplayName(std::string_view name);

}  // namespace facepay::biometrics
