// Opening the biometric side of a node in one call: store, template key, model pack (and the
// pipeline when asked for), gallery and calibrated policy. Used by node::Node::Open and by the
// CLI's biometrics commands (enroll, identify, eval), so both open it the same way.
#pragma once

#include <memory>
#include <string>

#include "facepay/biometrics/biometric_store.h"
#include "facepay/biometrics/gallery.h"
#include "facepay/biometrics/template_crypto.h"
#include "facepay/common/status_or.h"
#include "facepay/vision/face_pipeline.h"

namespace facepay::node {

struct BioConfig {
  std::string store = "data/facepay.db";  // SQLite file (its folder is created) or postgres://
  std::string key_file = "data/template.key";
  std::string snapshot = "data/gallery.faiss";
  std::string index = "Flat";
  int ef_search = 0;
  std::string models;            // "" = ModelsDir()
  bool create_key = false;       // make key_file (0600) when absent, saying so on stderr
  bool need_pipeline = false;    // load the vision pipeline (else only the pack's parameters)
  int instances = 1;
  bool init_key_check = true;    // see GalleryOptions::init_key_check (defaults to create_key)
  // When set, used instead of loading a pipeline from `models` (must outlive the context).
  const vision::FacePipeline* shared_pipeline = nullptr;
};

struct BioContext {
  std::unique_ptr<biometrics::BiometricStore> store;
  std::unique_ptr<vision::FacePipeline> pipeline;  // null unless loaded here
  const vision::FacePipeline* pipeline_in_use = nullptr;  // pipeline or the shared one
  std::unique_ptr<biometrics::TemplateKey> key;
  std::unique_ptr<biometrics::Gallery> gallery;
  biometrics::StoredPolicy policy;  // calibrated for model_id, or the defaults
  std::string model_id;
  std::string second_factor_pepper;  // TemplateKey::SecondFactorPepper() of the key in use
  nlohmann::json manifest;           // the model pack's manifest
};

StatusOr<BioContext> OpenBiometrics(const BioConfig& c);

}  // namespace facepay::node
