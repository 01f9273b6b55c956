#include "cli_common.h"

#include <cstdio>
#include <iostream>

#include <opencv2/core/utility.hpp>

#include "facepay/common/env.h"

namespace facepay::cli {

std::unique_ptr<vision::FacePipeline> LoadPipeline(const std::string& models_dir, int instances,
                                                   bool flip_embedding) {
  auto pack = vision::ModelPack::Load(models_dir.empty() ? ModelsDir() : models_dir);
  if (!pack.ok()) {
    Fail(pack.status());
    return nullptr;
  }
  vision::PipelineOptions opt;
  opt.max_instances = instances;
  opt.flip_embedding = flip_embedding;
  auto p = vision::FacePipeline::Create(*pack, opt);
  if (!p.ok()) {
    Fail(p.status());
    return nullptr;
  }
  return std::move(p).value();
}

int Fail(const Status& s) {
  std::fprintf(stderr, "facepay: %s\n", s.ToString().c_str());
  return 1;
}

void PrintJson(const nlohmann::json& j, bool pretty) {
  std::cout << (pretty ? j.dump(2) : j.dump()) << std::endl;
}

void ConfigureThreads(int workers) {
  if (workers > 1) cv::setNumThreads(1);
}

}  // namespace facepay::cli
