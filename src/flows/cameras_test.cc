// CameraBook on real stores and a manual clock: what a guided calibration, a stream of confirmed
// passages and a drifting camera do to the offset a camera is judged with. The challenge that
// admits a passage to a calibration is tested through the server (tests/service/cameras_test.cc).
#include "facepay/flows/cameras.h"

#include <cmath>

#include "facepay/vision/liveness.h"
#include "flows_test_fixture.h"

namespace facepay::flows::testing {
namespace {

const Caller kAdmin{"k_admin", ""};

// p such that Logit(p) == logit.
float P(float logit) { return 1.f / (1.f + std::exp(-logit)); }

class Cameras : public FlowsTest {
 protected:
  void SetUp() override {
    FlowsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    vision::CameraProfile webcam;
    webcam.camera = "webcam";
    webcam.cnn_logit_offset = 1.0f;
    terminals_.gates["g1"].camera = webcam;  // calibrated in the config
    GateConfig g2;
    g2.id = "g2";
    g2.station = "central";
    terminals_.gates["g2"] = g2;  // uncalibrated
    model_.uncalibrated_cnn_logit_offset = -7.0f;
    book_ = std::make_unique<CameraBook>(terminals_, *store_, clock_, audit_, &model_);
  }
  float OffsetOf(const std::string& cam) {
    auto p = book_->ProfileOf(cam);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() && *p ? (*p)->cnn_logit_offset : -100.f;
  }
  vision::SequenceModel model_;
  std::unique_ptr<CameraBook> book_;
};

TEST_P(Cameras, NamesEveryTerminalCameraAndTheConfigProfileHoldsUntilTheServerCalibrates) {
  EXPECT_EQ(book_->Names(), (std::vector<std::string>{"gate:g1", "gate:g2", "till:t1"}));
  EXPECT_FLOAT_EQ(OffsetOf("gate:g1"), 1.0f);
  auto none = book_->ProfileOf("gate:g2");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto v = book_->View("gate:g2");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->source, "");
  EXPECT_FLOAT_EQ(v->judged_offset, -7.0f);
  EXPECT_EQ(book_->View("gate:nope").status().code(), StatusCode::kNotFound);
}

TEST_P(Cameras, AGuidedCalibrationNeedsThreePassagesAndMovesTheMedianToTheTarget) {
  // Two passages are not enough: nothing changes.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(book_->AddCalibrationPassage(kAdmin, "gate:g2", std::vector<float>(10, P(-3.f))).ok());
  }
  auto early = book_->CommitCalibration(kAdmin, "gate:g2");
  EXPECT_EQ(early.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(early.status().reason(), "calibration_not_ready");
  EXPECT_FALSE(book_->ProfileOf("gate:g2")->has_value());
  auto p = book_->AddCalibrationPassage(kAdmin, "gate:g2", std::vector<float>(10, P(-3.f)));
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->ready());
  auto v = book_->CommitCalibration(kAdmin, "gate:g2");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->source, "calibration");
  EXPECT_NEAR(OffsetOf("gate:g2"), kCalibrationTargetLogit + 3.f, 1e-3);
  const auto audits = audit_.Of("camera_calibration");
  ASSERT_FALSE(audits.empty());
  EXPECT_EQ(audits.back().outcome, "calibrated");
  EXPECT_TRUE(audits.back().detail["previous_offset"].is_null());
  // The calibration in progress is spent: committing again needs new passages.
  EXPECT_EQ(book_->CommitCalibration(kAdmin, "gate:g2").status().reason(), "calibration_not_ready");
  // Reset: back to uncalibrated.
  ASSERT_TRUE(book_->ResetCalibration(kAdmin, "gate:g2").ok());
  EXPECT_FALSE(book_->ProfileOf("gate:g2")->has_value());
}

TEST_P(Cameras, ACalibrationInProgressLapses) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(book_->AddCalibrationPassage(kAdmin, "gate:g2", std::vector<float>(10, P(0.f))).ok());
  }
  clock_.AdvanceMs(kCalibrationTtlMs + 1);
  EXPECT_EQ(book_->CommitCalibration(kAdmin, "gate:g2").status().reason(), "calibration_not_ready");
  EXPECT_FALSE(book_->ProfileOf("gate:g2")->has_value());
}

// An attacker who can confirm passages (stolen PINs) and shows attacks that score low: each
// refinement step is bounded, and all of them together stay within the bound of the operator's
// calibration.
TEST_P(Cameras, ConfirmedAttackPassagesMoveTheOffsetOnlyByBoundedStepsWithinTheBound) {
  const float base = OffsetOf("gate:g1");
  float last = base;
  for (int i = 1; i <= 20 * kRefineEvery; ++i) {
    ASSERT_TRUE(book_->Confirmed(kAdmin, "gate:g1", -9.0f).ok());  // wants offset +11
    const float now = OffsetOf("gate:g1");
    EXPECT_LE(now - last, kRefineStepLogits + 1e-4) << i;
    if (i % kRefineEvery != 0) {
      EXPECT_FLOAT_EQ(now, last) << i;
    }
    last = now;
  }
  EXPECT_NEAR(last, base + kRefineBoundLogits, 1e-4);
  const auto refined = audit_.Of("camera_calibration");
  ASSERT_EQ(refined.size(), static_cast<size_t>(kRefineBoundLogits / kRefineStepLogits + 0.5));
  EXPECT_EQ(refined[0].outcome, "refined");
  EXPECT_FLOAT_EQ(refined[0].detail["previous_offset"].get<float>(), base);
  // Genuine passages pull it back the same way.
  for (int i = 0; i < 3 * kRefineEvery; ++i) {
    ASSERT_TRUE(book_->Confirmed(kAdmin, "gate:g1", kCalibrationTargetLogit - base).ok());
  }
  EXPECT_NEAR(OffsetOf("gate:g1"), base + kRefineBoundLogits - 3 * kRefineStepLogits, 1e-4);
}

TEST_P(Cameras, AnUncalibratedCameraIsNeverRefinedByConfirmedPassages) {
  for (int i = 0; i < 5 * kRefineEvery; ++i) ASSERT_TRUE(book_->Confirmed(kAdmin, "gate:g2", -9.f).ok());
  EXPECT_FALSE(book_->ProfileOf("gate:g2")->has_value());
  EXPECT_TRUE(audit_.Of("camera_calibration").empty());
}

TEST_P(Cameras, DriftIsFlaggedWhenMatchedBurstsMoveFromTheTarget) {
  for (int i = 0; i < kDriftMinBursts - 1; ++i) book_->ObserveMatched("gate:g1", kCalibrationTargetLogit - 3.f);
  auto v = book_->View("gate:g1");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->drift_logits.has_value());  // too few bursts to say
  book_->ObserveMatched("gate:g1", kCalibrationTargetLogit - 3.f);
  v = book_->View("gate:g1");
  ASSERT_TRUE(v->drift_logits.has_value());
  EXPECT_NEAR(*v->drift_logits, -3.f, 1e-4);
  EXPECT_TRUE(v->drift_alert);
  // Normal bursts push the drift window back.
  for (int i = 0; i < kDriftWindow; ++i) book_->ObserveMatched("gate:g1", kCalibrationTargetLogit + 0.5f);
  v = book_->View("gate:g1");
  EXPECT_FALSE(v->drift_alert);
  // Uncalibrated cameras are judged at a safe offset, not a centred one: never "drifted".
  for (int i = 0; i < kDriftWindow; ++i) book_->ObserveMatched("gate:g2", -6.f);
  EXPECT_FALSE(book_->View("gate:g2")->drift_alert);
  // The histogram counts judged bursts (Observe), cumulative buckets are the metrics' job.
  book_->Observe("gate:g1", -5.f, false);
  book_->Observe("gate:g1", 9.f, false);
  v = book_->View("gate:g1");
  EXPECT_EQ(v->bursts_total, 2);
  EXPECT_EQ(v->histogram[2], 1);                    // (-6, -4]
  EXPECT_EQ(v->histogram[kLogitBuckets.size()], 1);  // > 8
}

INSTANTIATE_TEST_SUITE_P(Stores, Cameras, ::testing::Values("sqlite", "postgres"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace facepay::flows::testing
