// A real SQLite biometric store in a fresh temporary folder, and helpers to enroll synthetic
// subjects into a Gallery.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>

#include "facepay/biometrics/gallery.h"
#include "facepay/storage/biometric_stores.h"
#include "test_vectors.h"

namespace facepay::biometrics::testing {

class GalleryFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("fp-gallery-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    db_path_ = (dir_ / "bio.db").string();
    auto s = storage::OpenSqliteBiometricStore(db_path_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  GalleryOptions Options(std::string factory = "Flat") const {
    GalleryOptions o;
    o.index_factory = std::move(factory);
    o.model_id = "test-model";
    o.snapshot_path = (dir_ / "gallery.faiss").string();
    o.init_key_check = true;
    return o;
  }
  std::unique_ptr<Gallery> OpenGallery(const TemplateKey& key, GalleryOptions o) {
    auto g = Gallery::Open(*store_, key, std::move(o));
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    return g.ok() ? std::move(g).value() : nullptr;
  }
  static Subject MakeSubject(const std::string& id) {
    Subject s;
    s.id = id;
    s.display_name = "Subject " + id;
    s.consent = {"consent-v1", 1'000, "test"};
    s.created_at_ms = 1'000;
    return s;
  }
  std::filesystem::path dir_;
  std::string db_path_;
  std::unique_ptr<BiometricStore> store_;
  std::mt19937 rng_{5};
  TemplateKey key_ = TemplateKey::Generate();
};

}  // namespace facepay::biometrics::testing
