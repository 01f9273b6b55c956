// Shared fixture: one real FacePipeline (real model pack) for all integration tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "facepay/common/env.h"
#include "facepay/vision/face_pipeline.h"

namespace facepay::testing {

class RealPipeline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto pack = vision::ModelPack::Load(ModelsDir());
    ASSERT_TRUE(pack.ok()) << pack.status().ToString() << " (run scripts/setup)";
    vision::PipelineOptions opt;
    opt.max_instances = 4;
    auto p = vision::FacePipeline::Create(*pack, opt);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    pipeline_ = std::move(p).value().release();
  }
  static void TearDownTestSuite() {
    delete pipeline_;
    pipeline_ = nullptr;
  }
  static const vision::FacePipeline& pipeline() { return *pipeline_; }

 private:
  static inline vision::FacePipeline* pipeline_ = nullptr;
};

}  // namespace facepay::testing
