// Reading an edge gate's probe from its request. The probe itself (and the frames' path through
// the face pipeline) belongs to the flows: facepay/flows/probe.h.
#pragma once

#include <nlohmann/json.hpp>

#include "facepay/flows/probe.h"

namespace facepay::service {

using flows::kMinSequenceFrames;
using flows::Probe;
using flows::ProbeContext;
using flows::ProbeFromFrames;

// An edge gate's template: {"template": [512 floats], "liveness": {"live": bool, "score": s}}.
// InvalidArgument("invalid_template") unless `dim` finite values with a norm in [0.5, 2]
// (normalised here); missing liveness is refused (missing_liveness): the edge must attest it.
StatusOr<Probe> ProbeFromTemplate(const nlohmann::json& fields, int dim);

}  // namespace facepay::service
