// The face engine on real photos with the real model pack.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "../support/test_data.h"
#include "facepay/eval/datasets.h"
#include "facepay/eval/metrics.h"
#include "facepay/vision/image_decode.h"
#include "pipeline_fixture.h"

#include <opencv2/imgproc.hpp>

namespace facepay::testing {
namespace {

using vision::AnalyzeOptions;
using vision::FaceStatus;

std::string Lfw(const std::string& root, const std::string& name, int n) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d", n);
  return root + "/images/" + name + "/" + name + "_" + buf + ".jpg";
}

class FaceEngine : public RealPipeline {};

TEST_F(FaceEngine, FindsTheCentredFaceOfLfwPhotosWithinTolerance) {
  FACEPAY_DATA_PATH_OR_RETURN(lfw, "lfw-view1");
  // LFW deep-funneled photos are 250x250, framed on the named person: face centre near
  // (125, 125), about 80-130 px wide. Tolerances: 25 px for the centre, 55..150 px width.
  for (const auto& [name, n] : {std::pair<std::string, int>{"Abdullah_Gul", 13},
                                {"Abdullah_Gul", 14}, {"Janica_Kostelic", 1},
                                {"Gordon_Brown", 4}, {"Diane_Green", 2}}) {
    AnalyzeOptions opt;
    opt.selection = vision::FaceSelection::kCentral;
    auto a = pipeline().AnalyzeFile(Lfw(lfw, name, n), opt);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    ASSERT_EQ(a->status, FaceStatus::kOk) << name;
    const cv::Rect2f b = a->faces[0].detection.box;
    EXPECT_NEAR(b.x + b.width / 2, 125, 25) << name;
    EXPECT_NEAR(b.y + b.height / 2, 125, 25) << name;
    EXPECT_GT(b.width, 55) << name;
    EXPECT_LT(b.width, 150) << name;
    EXPECT_GT(a->faces[0].detection.score, 0.9f) << name;
    // Eyes above the nose, nose above the mouth, eye A left of eye B.
    const auto& p = a->faces[0].five;
    EXPECT_LT(p[0].x, p[1].x);
    EXPECT_LT(std::max(p[0].y, p[1].y), p[2].y);
    EXPECT_LT(p[2].y, std::min(p[3].y, p[4].y));
    ASSERT_EQ(a->faces[0].embedding.size(), 512u);
    double norm = 0;
    for (float v : a->faces[0].embedding) norm += double{v} * v;
    EXPECT_NEAR(norm, 1.0, 1e-3);
  }
}

TEST_F(FaceEngine, HonoursExifOrientationOfARealPhoto) {
  FACEPAY_DATA_PATH_OR_RETURN(img, "pad-samples/image_T1.jpg");
  auto a = pipeline().AnalyzeFile(img, {});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  // Stored 640x480 with an EXIF rotation: the upright picture is portrait.
  EXPECT_EQ(a->image_width, 480);
  EXPECT_EQ(a->image_height, 640);
  ASSERT_EQ(a->status, FaceStatus::kOk);
  const auto& p = a->faces[0].five;
  EXPECT_LT((p[0].y + p[1].y) / 2, (p[3].y + p[4].y) / 2) << "face should be upright";
}

TEST_F(FaceEngine, SamePersonPairsScoreAboveDifferentPersonPairs) {
  FACEPAY_DATA_PATH_OR_RETURN(lfw, "lfw-view1");
  auto pairs = eval::ReadLfwPairs(lfw + "/pairsDevTest.txt", lfw + "/images");
  ASSERT_TRUE(pairs.ok()) << pairs.status().ToString();
  // Every 10th pair of each class: 50 genuine + 50 impostor pairs.
  std::vector<eval::LfwPair> pick;
  for (size_t i = 0; i < pairs->size(); i += 10) pick.push_back((*pairs)[i]);
  std::vector<float> gen, imp;
  AnalyzeOptions opt;
  opt.selection = vision::FaceSelection::kCentral;
  opt.liveness = false;
  for (const auto& p : pick) {
    auto a = pipeline().AnalyzeFile(p.a, opt);
    auto b = pipeline().AnalyzeFile(p.b, opt);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_FALSE(a->faces.empty() || b->faces.empty()) << p.a << " " << p.b;
    const float s = vision::CosineSimilarity(a->faces[0].embedding, b->faces[0].embedding);
    (p.same ? gen : imp).push_back(s);
  }
  ASSERT_EQ(gen.size(), 50u);
  ASSERT_EQ(imp.size(), 50u);
  const auto mean = [](const std::vector<float>& v) {
    double s = 0;
    for (float x : v) s += x;
    return s / static_cast<double>(v.size());
  };
  EXPECT_GT(mean(gen), mean(imp) + 0.35);
  EXPECT_GT(eval::AreaUnderCurve(eval::ComputeRoc(gen, imp)), 0.98);
}

TEST_F(FaceEngine, LivenessSeparatesNuaaLiveFromPrintedPhotos) {
  FACEPAY_DATA_PATH_OR_RETURN(nuaa, "nuaa-train/labels.txt");
  auto samples = eval::ReadPadLabels(nuaa);
  ASSERT_TRUE(samples.ok()) << samples.status().ToString();
  std::vector<float> live, print;
  AnalyzeOptions opt;
  opt.embed = false;
  for (size_t i = 0; i < samples->size(); i += 6) {  // 120 of 720, both classes, all subjects
    const auto& s = (*samples)[i];
    auto a = pipeline().AnalyzeFile(s.path, opt);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    ASSERT_FALSE(a->faces.empty()) << s.path;
    (s.label == "live" ? live : print).push_back(a->faces[0].liveness.score);
  }
  ASSERT_GE(live.size(), 50u);
  ASSERT_GE(print.size(), 50u);
  const float t = pipeline().pack().params().liveness_live;
  const auto pad = eval::PadAt(live, print, t);
  EXPECT_LE(pad.apcer, 0.02) << "printed photos accepted as live";
  EXPECT_LE(pad.bpcer, 0.05) << "live NUAA captures refused";
  EXPECT_GT(eval::AreaUnderCurve(eval::ComputeRoc(live, print)), 0.99);
}

TEST_F(FaceEngine, ReportsMultipleFacesForASingleSubjectRequest) {
  FACEPAY_DATA_PATH_OR_RETURN(lfw, "lfw-view1");
  // Two people side by side, both large.
  const std::string img = Lfw(lfw, "Tammy_Lynn_Michaels", 2);
  AnalyzeOptions opt;
  opt.single_subject = true;
  auto a = pipeline().AnalyzeFile(img, opt);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->status, FaceStatus::kMultipleFaces);
  EXPECT_GE(a->detections.size(), 2u);
  opt.single_subject = false;
  a = pipeline().AnalyzeFile(img, opt);
  EXPECT_EQ(a->status, FaceStatus::kOk);
}

TEST_F(FaceEngine, ReportsNoFaceOnAnImageWithoutFaces) {
  cv::Mat flat(480, 640, CV_8UC3, cv::Scalar(90, 120, 150));
  auto a = pipeline().Analyze(flat, {});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->status, FaceStatus::kNoFace);
  EXPECT_TRUE(a->faces.empty());
}

TEST_F(FaceEngine, MalformedBytesGetTheirSpecificReasonAndNeverCrash) {
  FACEPAY_DATA_PATH_OR_RETURN(img, "pad-samples/image_T1.jpg");
  auto bytes = vision::ReadFileBounded(img, 1 << 24);
  ASSERT_TRUE(bytes.ok());
  const std::vector<uint8_t> full(bytes->begin(), bytes->end());
  auto reason = [&](std::vector<uint8_t> b) {
    auto a = pipeline().AnalyzeBytes(b, {});
    return a.ok() ? std::string("ok") : std::string(a.status().reason());
  };
  EXPECT_EQ(reason(full), "ok");
  EXPECT_EQ(reason({}), "image_empty");
  EXPECT_EQ(reason({full.begin(), full.begin() + static_cast<long>(full.size() / 2)}), "image_truncated");
  EXPECT_EQ(reason({full.begin(), full.begin() + 2}), "image_truncated");
  std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0};
  EXPECT_EQ(reason(gif), "image_unsupported_format");
  std::vector<uint8_t> header_only(full.begin(), full.begin() + 600);
  EXPECT_EQ(reason(header_only), "image_truncated");
}

TEST_F(FaceEngine, GivesIdenticalResultsFromConcurrentThreads) {
  FACEPAY_DATA_PATH_OR_RETURN(lfw, "lfw-view1");
  const std::string imgs[] = {Lfw(lfw, "Abdullah_Gul", 13), Lfw(lfw, "Janica_Kostelic", 1)};
  std::vector<vision::Embedding> ref;
  for (const auto& p : imgs) ref.push_back(pipeline().AnalyzeFile(p, {})->faces[0].embedding);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> th;
  for (int t = 0; t < 6; ++t) {
    th.emplace_back([&, t] {
      for (int k = 0; k < 4; ++k) {
        const int i = (t + k) % 2;
        auto a = pipeline().AnalyzeFile(imgs[i], {});
        if (!a.ok() || a->faces.empty() ||
            vision::CosineSimilarity(a->faces[0].embedding, ref[i]) < 0.9999f) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& x : th) x.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_F(FaceEngine, QualityFlagsATinyDarkBlurredFace) {
  FACEPAY_DATA_PATH_OR_RETURN(img, "pad-samples/image_T1.jpg");
  auto good = vision::ReadImageFile(img, {});
  ASSERT_TRUE(good.ok());
  auto a = pipeline().Analyze(*good, {});
  ASSERT_TRUE(a.ok() && !a->faces.empty());
  EXPECT_TRUE(a->faces[0].quality.ok()) << a->faces[0].quality.reasons.size();
  // Darken and blur heavily: the same face must now fail quality with named reasons.
  cv::Mat bad;
  const cv::Mat dark = *good * 0.12;
  cv::GaussianBlur(dark, bad, cv::Size(0, 0), 6);
  auto b = pipeline().Analyze(bad, {});
  ASSERT_TRUE(b.ok());
  if (!b->faces.empty()) {
    const auto& r = b->faces[0].quality.reasons;
    EXPECT_FALSE(b->faces[0].quality.ok());
    EXPECT_TRUE(std::find(r.begin(), r.end(), "too_dark") != r.end() ||
                std::find(r.begin(), r.end(), "blurry") != r.end());
  }
}

}  // namespace
}  // namespace facepay::testing
