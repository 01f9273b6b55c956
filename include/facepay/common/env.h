// Where facepay finds its model pack and evaluation data.
// Both are resolved from an environment variable first, then a default compiled into the build
// (the source tree's models/ and ../shared/data). Thread-safe (reads the environment only).
#pragma once

#include <string>

namespace facepay {

// $FACEPAY_MODELS_DIR, else the build's default (<source>/models).
std::string ModelsDir();

// $FACEPAY_DATA_DIR, else the build's default (<source>/../shared/data). The folder may not
// exist (a fresh clone has no ../shared); callers check and say so clearly.
std::string DataDir();
// The shipped configuration (fares, terminals, camera profiles): $FACEPAY_CONFIG_DIR, else
// the checkout's config/ folder.
std::string ConfigDir();
// The terminal screens and the dashboard (web/): $FACEPAY_WEB_DIR, else the checkout's web/.
std::string WebDir();

// Value of environment variable `name`, or `fallback` when it is unset or empty.
std::string GetEnvOr(const char* name, const std::string& fallback);

}  // namespace facepay
