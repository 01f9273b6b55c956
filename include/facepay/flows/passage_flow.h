// A gate passage (1:N): the gate's sighting -> decision -> fare (accept) or a step-up challenge.
// The fare is idempotent on the gate's event id; answering a retried request again is the
// caller's (the service replays its stored answer). Thread-safe.
#pragma once

#include <string>

#include "facepay/flows/paying.h"

namespace facepay::flows {

struct PassageRequest {
  std::string gate;  // a configured gate
  std::string event_id;
  Sighting sighting;  // frames, or an edge gate's probe
};

class PassageFlow {
 public:
  explicit PassageFlow(const FlowDeps& deps) : deps_(deps) {}
  StatusOr<PaidIdentification> Run(const Caller& who, const PassageRequest& r) const;

 private:
  const FlowDeps& deps_;
};

}  // namespace facepay::flows
