#include "facepay/biometrics/template_crypto.h"

#include <sodium.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "facepay/common/env.h"

namespace facepay::biometrics {
namespace {

constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::string_view kKeyCheckPlain = "facepay template key check v1";
constexpr std::string_view kKeyCheckAd = "facepay-key-check";

void InitSodium() {
  static const int kInit = sodium_init();
  (void)kInit;
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

}  // namespace

StatusOr<TemplateKey> TemplateKey::FromHex(std::string_view hex) {
  InitSodium();
  TemplateKey k;
  size_t len = 0;
  if (hex.size() != 64 ||
      sodium_hex2bin(k.key_.data(), k.key_.size(), hex.data(), hex.size(), nullptr, &len,
                     nullptr) != 0 ||
      len != k.key_.size()) {
    return InvalidArgument("template_key_invalid",
                           "template key must be 64 hex characters (32 bytes)");
  }
  return k;
}

TemplateKey TemplateKey::Generate() {
  InitSodium();
  TemplateKey k;
  crypto_aead_xchacha20poly1305_ietf_keygen(k.key_.data());
  return k;
}

StatusOr<TemplateKey> TemplateKey::Resolve(const std::string& path, bool create, bool* created) {
  if (created) *created = false;
  std::string env = GetEnvOr(kTemplateKeyEnv, "");
  if (!env.empty()) {
    auto k = FromHex(Trim(env));
    if (!k.ok()) {
      return InvalidArgument("template_key_invalid",
                             std::string("$") + kTemplateKeyEnv + ": " +
                                 std::string(k.status().message()));
    }
    return k;
  }
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (!create) {
      return FailedPrecondition("template_key_missing",
                                "no template key: set $" + std::string(kTemplateKeyEnv) +
                                    " or provide the key file " + path +
                                    " (created by the first enroll)");
    }
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    TemplateKey k = Generate();
    mode_t old = umask(077);
    std::ofstream out(path, std::ios::trunc);
    out << k.Hex() << "\n";
    out.close();
    umask(old);
    if (!out) return Unavailable("template_key_write_failed", "cannot write key file " + path);
    std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                           std::filesystem::perms::owner_write,
                                 ec);
    if (created) *created = true;
    return k;
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto k = FromHex(Trim(ss.str()));
  if (!k.ok()) {
    return InvalidArgument("template_key_invalid",
                           "key file " + path + ": " + std::string(k.status().message()));
  }
  return k;
}

std::string TemplateKey::SecondFactorPepper() const {
  std::string out(32, '\0');
  crypto_kdf_derive_from_key(reinterpret_cast<unsigned char*>(out.data()), out.size(), 1,
                             "fp2ndfac", key_.data());
  return out;
}

std::string TemplateKey::Hex() const {
  std::string out(key_.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), key_.data(), key_.size());
  out.pop_back();
  return out;
}

std::string TemplateKey::Seal(std::string_view plaintext, std::string_view ad) const {
  InitSodium();
  std::string out(kNonce + plaintext.size() + kTag, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(p, kNonce);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      p + kNonce, &clen, reinterpret_cast<const unsigned char*>(plaintext.data()),
      plaintext.size(), reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr, p,
      key_.data());
  out.resize(kNonce + clen);
  return out;
}

StatusOr<std::string> TemplateKey::Open(std::string_view sealed, std::string_view ad) const {
  InitSodium();
  if (sealed.size() < kNonce + kTag) {
    return DataLoss("template_tampered", "sealed template is truncated");
  }
  std::string out(sealed.size() - kNonce - kTag, '\0');
  const auto* p = reinterpret_cast<const unsigned char*>(sealed.data());
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(out.data()), &mlen, nullptr, p + kNonce,
          sealed.size() - kNonce, reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), p,
          key_.data()) != 0) {
    return DataLoss("template_tampered",
                    "sealed template failed authentication (altered, moved or wrong key)");
  }
  out.resize(mlen);
  return out;
}

std::string TemplateAd(std::string_view subject_id, int64_t template_id,
                       std::string_view model_id) {
  return "facepay-template-v1|" + std::string(subject_id) + "|" + std::to_string(template_id) +
         "|" + std::string(model_id);
}

std::string TemplateImageAd(std::string_view subject_id, int64_t template_id) {
  return "facepay-template-image-v1|" + std::string(subject_id) + "|" +
         std::to_string(template_id);
}

std::string SealEmbedding(const TemplateKey& key, const vision::Embedding& e,
                          std::string_view ad) {
  std::string_view bytes(reinterpret_cast<const char*>(e.data()), e.size() * sizeof(float));
  return key.Seal(bytes, ad);
}

StatusOr<vision::Embedding> OpenEmbedding(const TemplateKey& key, std::string_view sealed,
                                          std::string_view ad) {
  FACEPAY_ASSIGN_OR_RETURN(std::string plain, key.Open(sealed, ad));
  if (plain.empty() || plain.size() % sizeof(float) != 0) {
    return DataLoss("template_tampered", "sealed template has a bad length");
  }
  vision::Embedding e(plain.size() / sizeof(float));
  std::memcpy(e.data(), plain.data(), plain.size());
  return e;
}

std::string MakeKeyCheck(const TemplateKey& key) { return key.Seal(kKeyCheckPlain, kKeyCheckAd); }

Status VerifyKeyCheck(const TemplateKey& key, std::string_view check) {
  auto plain = key.Open(check, kKeyCheckAd);
  if (!plain.ok() || *plain != kKeyCheckPlain) {
    return FailedPrecondition("template_key_mismatch",
                              "the template key does not match the one this store was created "
                              "with; refusing to start (no template could be decrypted)");
  }
  return Status::Ok();
}

int64_t NewTemplateId() {
  InitSodium();
  uint64_t v = 0;
  do {
    randombytes_buf(&v, sizeof(v));
    v &= 0x7fffffffffffffffULL;
  } while (v == 0);
  return static_cast<int64_t>(v);
}

}  // namespace facepay::biometrics
