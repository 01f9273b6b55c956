#include "facepay/eval/identify_eval.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace facepay::eval {
namespace {

namespace fs = std::filesystem;

class IdentifyProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fp-ident-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  fs::path dir_;
};

TEST_F(IdentifyProtocolTest, SampleListsTakeIdentityTabPathOrTheFolderName) {
  auto list = Write("g.txt", "# gallery\nbob\tb/1.jpg\nalice/a1.jpg\n\nbob\tb/0.jpg\n");
  auto s = ReadSamples(list);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 3u);
  EXPECT_EQ((*s)[0].identity, "alice");
  EXPECT_EQ((*s)[0].path, (dir_ / "alice/a1.jpg").string()) << "relative to the list's folder";
  EXPECT_EQ((*s)[1].path, (dir_ / "b/0.jpg").string()) << "sorted by identity, then path";
  EXPECT_EQ(ReadSamples(Write("bad.txt", "\tx.jpg\n")).status().reason(), "samples_malformed");
  EXPECT_EQ(ReadSamples((dir_ / "none").string()).status().reason(), "dataset_missing");
}

TEST_F(IdentifyProtocolTest, ProbesAreMatedExactlyWhenTheirIdentityIsEnrolled) {
  std::vector<Sample> gallery = {{"a", "a1"}, {"a", "a2"}, {"b", "b1"}, {"z", "z1"}};
  std::vector<Sample> probes = {{"a", "a3"}, {"c", "c1"}, {"d", "d1"}, {"e", "e1"}, {"b", "b2"}};
  auto p = BuildIdentifyProtocol(gallery, probes);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->gallery_ids, (std::vector<std::string>{"a", "b", "z"})) << "first sample each";
  EXPECT_EQ(p->gallery_paths[0], "a1");
  EXPECT_EQ(p->distractors, 1u) << "z has no probe";
  int mated = 0, calib = 0;
  for (const auto& pr : p->probes) {
    mated += pr.mated;
    calib += pr.calibration;
    if (pr.mated) {
      EXPECT_FALSE(pr.calibration);
    }
  }
  EXPECT_EQ(mated, 2);
  EXPECT_EQ(calib, 2) << "non-mated identities c, e calibrate; d tests";
  EXPECT_EQ(BuildIdentifyProtocol({}, probes).status().reason(), "dataset_missing");
}

TEST_F(IdentifyProtocolTest, LeaveOneOutMakesEveryEnrolledImageANonMatedProbe) {
  auto p = BuildIdentifyProtocol({{"a", "a1"}, {"b", "b1"}}, {{"a", "a2"}, {"c", "c1"}});
  ASSERT_TRUE(p.ok());
  AddLeaveOneOutProbes(*p);
  int loo = 0;
  for (const auto& pr : p->probes) {
    if (!pr.exclude_own) continue;
    ++loo;
    EXPECT_FALSE(pr.mated);
  }
  EXPECT_EQ(loo, 3) << "a1, a2 (identity a) and b1";
  EXPECT_EQ(p->probes.size(), 5u);
}

TEST_F(IdentifyProtocolTest, SamePersonFileLinksEveryNameOnALine) {
  auto sp = ReadSamePerson(Write("sp.tsv", "# noise\nSepp_Blatter\tJoseph_Blatter\n"));
  ASSERT_TRUE(sp.ok());
  EXPECT_TRUE(sp->at("Sepp_Blatter").count("Joseph_Blatter"));
  EXPECT_TRUE(sp->at("Joseph_Blatter").count("Sepp_Blatter"));
  EXPECT_EQ(ReadSamePerson(Write("sp2.tsv", "alone\n")).status().reason(), "same_person_malformed");
}

}  // namespace
}  // namespace facepay::eval
