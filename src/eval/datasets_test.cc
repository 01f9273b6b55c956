#include "facepay/eval/datasets.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace facepay::eval {
namespace {

std::string WriteTemp(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / "facepay_datasets_test";
  std::filesystem::create_directories(dir);
  const auto p = (dir / name).string();
  std::ofstream(p) << text;
  return p;
}

TEST(ReadLfwPairs, ParsesSameAndDifferentLines) {
  const auto p = WriteTemp("pairs.txt", "2\nAlice\t1\t2\nAlice\t1\tBob\t3\n");
  auto pairs = ReadLfwPairs(p, "/img");
  ASSERT_TRUE(pairs.ok()) << pairs.status().ToString();
  ASSERT_EQ(pairs->size(), 2u);
  EXPECT_EQ((*pairs)[0].a, "/img/Alice/Alice_0001.jpg");
  EXPECT_EQ((*pairs)[0].b, "/img/Alice/Alice_0002.jpg");
  EXPECT_TRUE((*pairs)[0].same);
  EXPECT_EQ((*pairs)[1].b, "/img/Bob/Bob_0003.jpg");
  EXPECT_FALSE((*pairs)[1].same);
}

TEST(ReadLfwPairs, MalformedLineNamesItsLineNumber) {
  const auto p = WriteTemp("bad.txt", "1\nAlice\tx\t2\n");
  auto pairs = ReadLfwPairs(p, "/img");
  ASSERT_FALSE(pairs.ok());
  EXPECT_EQ(pairs.status().reason(), "pairs_malformed");
  EXPECT_NE(pairs.status().message().find(":2:"), std::string::npos);
  EXPECT_EQ(ReadLfwPairs("/no/such/pairs.txt", "/img").status().reason(), "file_not_found");
}

TEST(ReadPadLabels, ResolvesPathsAgainstTheLabelsFolder) {
  const auto p = WriteTemp("labels.txt", "live/a.jpg\tlive\nprint/b.jpg\tPrint\n");
  auto s = ReadPadLabels(p);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[1].label, "print");
  EXPECT_EQ((*s)[0].path, std::filesystem::path(p).parent_path().string() + "/live/a.jpg");
  const auto bad = WriteTemp("labels_bad.txt", "no tab here\n");
  EXPECT_EQ(ReadPadLabels(bad).status().reason(), "labels_malformed");
}

TEST(ParseSampleSpec, ReadsLabelCameraPathAndTimeRange) {
  auto s = ParseSampleSpec("replay@webcam:/v/replay.webm#500-2500", "attack");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->label, "replay");
  EXPECT_EQ(s->camera, "webcam");
  EXPECT_EQ(s->path, "/v/replay.webm");
  EXPECT_DOUBLE_EQ(s->from_ms, 500);
  EXPECT_DOUBLE_EQ(s->to_ms, 2500);
  auto plain = ParseSampleSpec("/data/x:y/live", "live");  // ':' inside a path is not a prefix
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->path, "/data/x:y/live");
  EXPECT_EQ(plain->camera, "default");
  EXPECT_EQ(ParseSampleSpec("@:/a.webm", "live").status().reason(), "sample_spec_invalid");
  EXPECT_EQ(ParseSampleSpec("/a.webm#9-3", "live").status().reason(), "sample_spec_invalid");
  EXPECT_EQ(ParseSampleSpec("/a.webm#x", "live").status().reason(), "sample_spec_invalid");
}

TEST(ReadPadSources, ReadsSourceSpecAndOptionsWithPathsUnderTheDataFolder) {
  const auto p = WriteTemp("sources.txt",
                           "# development sources\n"
                           "msu  live@msu:pad-dev/msu/live  fps=30   # frames of a video\n"
                           "siwm print@siwm:pad-dev/siwm/print stills\n"
                           "\n"
                           "web  @webcam:videos/a.webm#0-3500\n");
  auto s = ReadPadSources(p, "/data");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 3u);
  EXPECT_EQ((*s)[0].source, "msu");
  EXPECT_EQ((*s)[0].path, "/data/pad-dev/msu/live");
  EXPECT_DOUBLE_EQ((*s)[0].fps, 30);
  EXPECT_FALSE((*s)[0].stills);
  EXPECT_EQ((*s)[1].label, "print");
  EXPECT_TRUE((*s)[1].stills);
  EXPECT_EQ((*s)[2].label, "live");
  EXPECT_EQ((*s)[2].camera, "webcam");
  EXPECT_DOUBLE_EQ((*s)[2].to_ms, 3500);
  EXPECT_EQ(ReadPadSources(WriteTemp("s1.txt", "only-a-source\n"), "/d").status().reason(),
            "sources_malformed");
  EXPECT_EQ(ReadPadSources(WriteTemp("s2.txt", "a live:x fps=0\n"), "/d").status().reason(),
            "sources_malformed");
  EXPECT_EQ(ReadPadSources(WriteTemp("s3.txt", "a live:x loud\n"), "/d").status().reason(),
            "sources_malformed");
  EXPECT_EQ(ReadPadSources(WriteTemp("s4.txt", "# nothing\n"), "/d").status().reason(),
            "sources_malformed");
}

}  // namespace
}  // namespace facepay::eval
