#include "facepay/common/env.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace facepay {
namespace {

TEST(Env, EnvironmentVariableOverridesDefault) {
  ::setenv("FACEPAY_TEST_ENV_X", "/some/where", 1);
  EXPECT_EQ(GetEnvOr("FACEPAY_TEST_ENV_X", "/default"), "/some/where");
  ::setenv("FACEPAY_TEST_ENV_X", "", 1);
  EXPECT_EQ(GetEnvOr("FACEPAY_TEST_ENV_X", "/default"), "/default");
  ::unsetenv("FACEPAY_TEST_ENV_X");
  EXPECT_EQ(GetEnvOr("FACEPAY_TEST_ENV_X", "/default"), "/default");
}

TEST(Env, ModelsDirFollowsEnvironment) {
  ::setenv("FACEPAY_MODELS_DIR", "/tmp/models-here", 1);
  EXPECT_EQ(ModelsDir(), "/tmp/models-here");
  ::unsetenv("FACEPAY_MODELS_DIR");
  EXPECT_FALSE(ModelsDir().empty());
}

}  // namespace
}  // namespace facepay
