#include "cli_common.h"

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <system_error>
#include <thread>

#include <opencv2/core/utility.hpp>

#include "facepay/common/env.h"

namespace facepay::cli {
namespace {

// An installed facepay (<prefix>/bin/facepay, e.g. the .deb's /usr/bin/facepay) uses the model
// pack installed beside it (<prefix>/share/facepay/models) unless $FACEPAY_MODELS_DIR is set. A
// binary in the build tree has no such folder and keeps the build's default (<source>/models).
// Done once before main through the variable ModelsDir() reads, so every command and the
// systemd units find the models without a flag.
bool PreferInstalledModels() noexcept {
  const char* set = std::getenv("FACEPAY_MODELS_DIR");  // NOLINT(concurrency-mt-unsafe)
  if (set != nullptr && *set != '\0') return false;
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return false;
  std::filesystem::path dir =
      (exe.parent_path() / FACEPAY_INSTALLED_MODELS_RELDIR).lexically_normal();
  if (!std::filesystem::is_regular_file(dir / "manifest.json", ec)) return false;
  return ::setenv("FACEPAY_MODELS_DIR", dir.c_str(), 0) == 0;  // NOLINT(concurrency-mt-unsafe)
}
[[maybe_unused]] const bool kPreferInstalledModels = PreferInstalledModels();

}  // namespace

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

int ResolveThreads(int requested) {
  return requested > 0 ? requested : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos <= text.size();) {
    size_t e = text.find(',', pos);
    if (e == std::string::npos) e = text.size();
    if (e > pos) out.push_back(text.substr(pos, e - pos));
    pos = e + 1;
  }
  return out;
}

}  // namespace facepay::cli
