// Fuzz target: an edge gate's template (ProbeFromTemplate, src/service/probe.h). The first
// byte picks the embedding dimension (1, 4, 128 or 512); the rest is parsed as JSON with
// nlohmann's non-throwing parser, as the request reader does. Inputs nested deeper than 64
// are skipped: they only exercise nlohmann's recursion, and the server bounds nesting itself.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "probe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr int kDims[] = {1, 4, 128, 512};
  const int dim = kDims[data[0] % 4];
  const std::string_view text = facepay::fuzz::AsText(data + 1, size - 1);
  if (facepay::fuzz::JsonDepth(text) > 64) return 0;
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  auto p = facepay::service::ProbeFromTemplate(j, dim);
  if (!p.ok()) {
    if (p.status().reason().empty()) __builtin_trap();
    return 0;
  }
  // Accepted: `dim` finite values, normalised to unit length, liveness from the edge.
  if (p->embedding.size() != static_cast<size_t>(dim)) __builtin_trap();
  double n2 = 0;
  for (float v : p->embedding) {
    if (!std::isfinite(v)) __builtin_trap();
    n2 += static_cast<double>(v) * v;
  }
  if (std::abs(n2 - 1) > 1e-3) __builtin_trap();
  if (p->liveness_mode != "edge") __builtin_trap();
  return 0;
}
