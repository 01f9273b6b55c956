#include "facepay/common/env.h"

#include <cstdlib>

namespace facepay {

std::string GetEnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read-only use
  if (v == nullptr || *v == '\0') return fallback;
  return v;
}

std::string ModelsDir() { return GetEnvOr("FACEPAY_MODELS_DIR", FACEPAY_DEFAULT_MODELS_DIR); }

std::string WebDir() { return GetEnvOr("FACEPAY_WEB_DIR", FACEPAY_DEFAULT_WEB_DIR); }

std::string ConfigDir() { return GetEnvOr("FACEPAY_CONFIG_DIR", FACEPAY_DEFAULT_CONFIG_DIR); }

std::string DataDir() { return GetEnvOr("FACEPAY_DATA_DIR", FACEPAY_DEFAULT_DATA_DIR); }

}  // namespace facepay
