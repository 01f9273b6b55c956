// Fuzz target: the model manifest. ModelPack::Load (include/facepay/vision/model_pack.h) only
// reads a folder, so the bytes become <scratch>/manifest.json; no model files exist there, so
// a manifest that parses ends at model_file_missing. The same bytes, parsed as JSON, feed the
// manifest's "sequence_liveness" section to SequenceModelFromJson and a fused window.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "facepay/vision/model_pack.h"
#include "facepay/vision/sequence_liveness.h"
#include "fuzz_util.h"

namespace {

void CheckSequenceModel(const nlohmann::json& j) {
  auto m = facepay::vision::SequenceModelFromJson(j);
  if (!m.ok()) {
    if (m.status().reason().empty()) __builtin_trap();
    return;
  }
  if (!(m->threshold > 0 && m->threshold < 1)) __builtin_trap();
  for (const auto& [name, w] : m->weight) {
    if (!m->mean.count(name) || !m->stddev.count(name) || !(m->stddev.at(name) >= 1e-6f)) {
      __builtin_trap();
    }
  }
  facepay::vision::WindowSignals s;
  s.face_frames = 3;
  for (const auto& name : facepay::vision::SignalNames()) s.values[name] = 0.5f;
  (void)facepay::vision::FuseWindow(*m, s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = facepay::fuzz::AsText(data, size);
  static const std::string dir = facepay::fuzz::ScratchDir("model_manifest");
  if (!facepay::fuzz::WriteFile(dir + "/manifest.json", text)) return 0;
  auto pack = facepay::vision::ModelPack::Load(dir);
  if (pack.ok()) __builtin_trap();  // no model file exists in the scratch folder
  if (pack.status().reason().empty()) __builtin_trap();

  if (facepay::fuzz::JsonDepth(text) > 64) return 0;
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  CheckSequenceModel(j);
  if (j.is_object()) CheckSequenceModel(j.value("sequence_liveness", nlohmann::json::object()));
  return 0;
}
