#include "request_io.h"

#include <gtest/gtest.h>

namespace facepay::service {
namespace {

std::string Nested(int depth) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += "{\"x\":";
  s += "1";
  for (int i = 0; i < depth; ++i) s += "}";
  return s;
}

TEST(BoundedJson, RefusesNestingPastTheLimitWithoutRecursing) {
  EXPECT_TRUE(ParseBoundedJson(Nested(kMaxJsonDepth), 1u << 20).ok());
  EXPECT_EQ(ParseBoundedJson(Nested(kMaxJsonDepth + 1), 1u << 20).status().reason(), "json_too_deep");
  EXPECT_EQ(ParseBoundedJson(Nested(100'000), 1u << 20).status().reason(), "json_too_deep");
  EXPECT_EQ(ParseBoundedJson("{\"a\":" + std::string(1'000'000, '[') + std::string(1'000'000, ']') + "}",
                             4u << 20).status().reason(),
            "json_too_deep");
}

TEST(BoundedJson, RefusesDuplicateKeysAtAnyDepth) {
  EXPECT_EQ(ParseBoundedJson(R"({"a": 5, "a": 500000})", 1024).status().reason(), "json_duplicate_key");
  EXPECT_EQ(ParseBoundedJson(R"({"o": {"b": 1, "b": 2}})", 1024).status().reason(), "json_duplicate_key");
  EXPECT_TRUE(ParseBoundedJson(R"({"o": {"b": 1}, "p": {"b": 2}})", 1024).ok());
}

TEST(BoundedJson, RefusesTooManyValuesTooManyBytesAndMalformedText) {
  std::string wide = "[";
  for (size_t i = 0; i < kMaxJsonValues + 1; ++i) wide += "0,";
  wide += "0]";
  EXPECT_EQ(ParseBoundedJson(wide, 1u << 20).status().reason(), "json_too_large");
  EXPECT_EQ(ParseBoundedJson("{}", 1).status().reason(), "json_too_large");
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "nul", "{\"a\":1}x"}) {
    EXPECT_EQ(ParseBoundedJson(bad, 1024).status().reason(), "malformed_json") << bad;
  }
}

}  // namespace
}  // namespace facepay::service
