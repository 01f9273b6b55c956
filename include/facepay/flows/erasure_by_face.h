// Self-service erasure at a kiosk: a person looks at the camera and types their PIN; when the
// face is recognised among the subjects whose PIN it is, that subject is erased (ErasureFlow:
// templates and index entries everywhere, payments history kept). A PIN alone, or a face
// alone, erases nobody. Every wrong PIN counts against the calling key's guess budget and
// against the subjects the face alone would have named (guess_budgets.h), like a step-up, so a
// kiosk cannot be used to guess PINs. Thread-safe; holds no state.
#pragma once

#include <string>

#include "facepay/flows/flow_deps.h"
#include "facepay/flows/probe.h"

namespace facepay::flows {

enum class ErasureByFaceResult {
  kErased,
  kNotRecognised,  // no live, good face, or no subject with that face and PIN
  kLocked,         // the key's or the subject's guess budget is spent
};
const char* ErasureByFaceResultName(ErasureByFaceResult r);  // "erased", "not_recognised", "locked"

struct ErasureByFaceOutcome {
  ErasureByFaceResult result = ErasureByFaceResult::kNotRecognised;
  std::string subject_id;  // erased only
  size_t templates_removed = 0;
};

class ErasureByFaceFlow {
 public:
  explicit ErasureByFaceFlow(const FlowDeps& deps) : deps_(deps) {}
  // `pin` must be 4..12 digits (InvalidArgument("invalid_pin") otherwise). Errors: decode
  // errors of the frames, store errors. Audited as erase_by_face (with the result).
  StatusOr<ErasureByFaceOutcome> Run(const Caller& who, const Sighting& sighting,
                                     const std::string& pin, int64_t now_ms) const;

 private:
  const FlowDeps& deps_;
};

}  // namespace facepay::flows
