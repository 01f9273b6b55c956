// Shared wiring of the biometrics commands: options naming the store, key and gallery, and
// opening all of them (plus the pipeline when needed) in one call.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "facepay/biometrics/biometric_store.h"
#include "facepay/biometrics/gallery.h"
#include "facepay/node/biometrics_open.h"
#include "facepay/vision/face_pipeline.h"

namespace facepay::cli {

struct BioCommon {
  std::string store = "data/facepay.db";
  std::string key_file = "data/template.key";
  std::string snapshot = "data/gallery.faiss";
  std::string index = "Flat";
  int ef_search = 0;  // 0 = the index's default
  std::string models;
};
void AddBioOptions(CLI::App* cmd, BioCommon& c);

using BioContext = node::BioContext;

// Opens the store, resolves the template key (creating the key file with 0600 when
// `create_key`, and saying so on stderr), loads the model pack and opens the gallery.
StatusOr<BioContext> OpenBio(const BioCommon& c, bool create_key, bool need_pipeline,
                             int instances = 1);

void AddBiometricsMeasureCommands(CLI::App& app, int& exit_code);  // eval identify, bench search

}  // namespace facepay::cli
