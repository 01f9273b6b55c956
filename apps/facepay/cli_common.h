// Small helpers shared by the CLI command groups: loading the engine, printing JSON/errors.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "facepay/common/status.h"
#include "facepay/vision/face_pipeline.h"

namespace facepay::cli {

// Loads the model pack from `models_dir` (empty = default) and builds a pipeline allowing
// `instances` concurrent analyses. On error prints it to stderr and returns nullptr.
std::unique_ptr<vision::FacePipeline> LoadPipeline(const std::string& models_dir, int instances,
                                                   bool flip_embedding);

// Prints "facepay: <reason>: <message>" to stderr; returns exit code 1.
int Fail(const Status& s);
// One JSON document on stdout (pretty when `pretty`).
void PrintJson(const nlohmann::json& j, bool pretty = true);

// Single-threaded OpenCV inside each worker when running several workers (2 cores: one
// network per core beats two networks fighting for both).
void ConfigureThreads(int workers);
// `requested` workers, or every hardware thread when requested <= 0.
int ResolveThreads(int requested);
// "a,b,,c" -> {"a", "b", "c"}.
std::vector<std::string> SplitCommas(const std::string& text);

}  // namespace facepay::cli
