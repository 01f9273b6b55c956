#include "facepay/biometrics/template_crypto.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "facepay/biometrics/secret_hash.h"
#include "facepay/biometrics/subject.h"

namespace facepay::biometrics {
namespace {

vision::Embedding Vec() {
  vision::Embedding e(512, 0.0f);
  e[3] = 1.0f;
  return e;
}

TEST(TemplateCrypto, SealedEmbeddingOpensOnlyWithItsOwnRowBinding) {
  TemplateKey key = TemplateKey::Generate();
  const std::string ad = TemplateAd("alice", 42, "model-a");
  std::string sealed = SealEmbedding(key, Vec(), ad);
  auto e = OpenEmbedding(key, sealed, ad);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, Vec());
  // Moved to another subject, another template id, or another model: refused.
  for (const auto& other : {TemplateAd("mallory", 42, "model-a"), TemplateAd("alice", 43, "model-a"),
                            TemplateAd("alice", 42, "model-b")}) {
    auto r = OpenEmbedding(key, sealed, other);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().reason(), "template_tampered");
  }
  // One flipped bit anywhere: refused.
  for (size_t i : {size_t{0}, size_t{30}, sealed.size() - 1}) {
    std::string bad = sealed;
    bad[i] = static_cast<char>(bad[i] ^ 1);
    EXPECT_EQ(OpenEmbedding(key, bad, ad).status().reason(), "template_tampered") << i;
  }
  EXPECT_EQ(OpenEmbedding(TemplateKey::Generate(), sealed, ad).status().reason(),
            "template_tampered");
  EXPECT_EQ(OpenEmbedding(key, sealed.substr(0, 10), ad).status().reason(), "template_tampered");
}

TEST(TemplateCrypto, KeyCheckRefusesAnotherKey) {
  TemplateKey a = TemplateKey::Generate();
  std::string check = MakeKeyCheck(a);
  EXPECT_TRUE(VerifyKeyCheck(a, check).ok());
  EXPECT_EQ(VerifyKeyCheck(TemplateKey::Generate(), check).reason(), "template_key_mismatch");
}

TEST(TemplateCrypto, KeyFileIsCreatedOwnerOnlyAndReadBack) {
  unsetenv(kTemplateKeyEnv);
  auto dir = std::filesystem::temp_directory_path() / ("fp-key-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  const std::string path = (dir / "template.key").string();
  bool created = false;
  auto missing = TemplateKey::Resolve(path, false, &created);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().reason(), "template_key_missing");
  auto k = TemplateKey::Resolve(path, true, &created);
  ASSERT_TRUE(k.ok());
  EXPECT_TRUE(created);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = TemplateKey::Resolve(path, true, &created);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(again->Hex(), k->Hex());
  std::ofstream(path, std::ios::trunc) << "not-hex\n";
  EXPECT_EQ(TemplateKey::Resolve(path, false, &created).status().reason(),
            "template_key_invalid");
  setenv(kTemplateKeyEnv, k->Hex().c_str(), 1);
  auto from_env = TemplateKey::Resolve(path, false, &created);
  unsetenv(kTemplateKeyEnv);
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env->Hex(), k->Hex());
  std::filesystem::remove_all(dir);
}

TEST(SecretHash, VerifiesOnlyTheSameDigits) {
  const std::string pepper = TemplateKey::Generate().SecondFactorPepper();
  auto h = HashSecret("1234", pepper);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->find("1234"), std::string::npos);
  EXPECT_TRUE(VerifySecret(*h, "1234", pepper));
  EXPECT_FALSE(VerifySecret(*h, "1235", pepper));
  EXPECT_FALSE(VerifySecret("", "1234", pepper));
}

// Issue 13 row 6: with 8 KiB / 1 pass and no key, a copied database gave up a 4-digit PIN in
// 0.14 s. Keyed by a pepper that is not in the database, no guess verifies without the key.
TEST(SecretHash, ACopiedHashCannotBeBruteForcedWithoutTheServerKey) {
  const std::string pepper = TemplateKey::Generate().SecondFactorPepper();
  auto h = HashSecret("4821", pepper);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->rfind("fp2$", 0), 0u);
  EXPECT_NE(h->find("m=16384,t=2"), std::string::npos) << *h;
  const std::string other_key = TemplateKey::Generate().SecondFactorPepper();
  EXPECT_FALSE(VerifySecret(*h, "4821", other_key));
  EXPECT_FALSE(VerifySecret(*h, "4821", ""));
  // The Argon2id part alone does not verify the bare digits either.
  EXPECT_FALSE(VerifySecret(h->substr(4), "4821", pepper));
  EXPECT_TRUE(VerifySecret(*h, "4821", pepper));
  EXPECT_EQ(HashSecret("4821", "short").status().reason(), "invalid_pepper");
}

TEST(SubjectValidation, BoundsEveryInput) {
  EXPECT_TRUE(ValidateSubjectId("alice_01.x:y-z").ok());
  EXPECT_EQ(ValidateSubjectId("").reason(), "invalid_subject_id");
  EXPECT_EQ(ValidateSubjectId(std::string(65, 'a')).reason(), "invalid_subject_id");
  EXPECT_EQ(ValidateSubjectId("a b").reason(), "invalid_subject_id");
  EXPECT_EQ(ValidateSubjectId("a/../b").reason(), "invalid_subject_id");
  EXPECT_TRUE(ValidatePhoneLast4("0042").ok());
  for (const char* bad : {"123", "12345", "12a4", "", "-123"})
    EXPECT_EQ(ValidatePhoneLast4(bad).reason(), "invalid_phone_last4") << bad;
  EXPECT_EQ(ValidatePin("12").reason(), "invalid_pin");
  EXPECT_EQ(ValidateDisplayName(std::string("a\nb")).reason(), "invalid_display_name");
}

}  // namespace
}  // namespace facepay::biometrics
