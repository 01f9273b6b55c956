// Test helpers for real data (../shared/data) and the model pack.
//
// FACEPAY_DATA_DIR (default ../shared/data) locates the data; when it is absent, tests SKIP
// with a clear message, or FAIL when FACEPAY_REQUIRE_DATA=1 (CI sets it) so that a missing
// data set can never turn a CI run green by skipping.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "facepay/common/env.h"

namespace facepay::testing {

inline bool DataRequired() {
  const char* v = std::getenv("FACEPAY_REQUIRE_DATA");  // NOLINT(concurrency-mt-unsafe)
  return v != nullptr && std::string(v) == "1";
}

// Returns "<data dir>/<sub>" or "" after skipping/failing the current test.
#define FACEPAY_DATA_PATH_OR_RETURN(var, sub)                                                   \
  std::string var = ::facepay::DataDir() + "/" + (sub);                                        \
  if (!std::filesystem::exists(var)) {                                                         \
    const std::string msg_ = "test data not found at " + var +                                  \
                             " (set FACEPAY_DATA_DIR to the folder holding lfw-view1, "         \
                             "nuaa-train, pad-samples, videos)";                                \
    if (::facepay::testing::DataRequired()) {                                                  \
      FAIL() << msg_ << "; FACEPAY_REQUIRE_DATA=1 makes this an error";                        \
    } else {                                                                                    \
      GTEST_SKIP() << msg_;                                                                     \
    }                                                                                           \
  }

}  // namespace facepay::testing
