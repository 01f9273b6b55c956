#include "facepay/flows/erasure_by_face.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "facepay/flows/enrolment_flow.h"
#include "facepay/flows/factor_budget.h"
#include "facepay/flows/guess_budgets.h"
#include "facepay/flows/identifier.h"

namespace facepay::flows {

const char* ErasureByFaceResultName(ErasureByFaceResult r) {
  switch (r) {
    case ErasureByFaceResult::kErased: return "erased";
    case ErasureByFaceResult::kNotRecognised: return "not_recognised";
    case ErasureByFaceResult::kLocked: return "locked";
  }
  return "not_recognised";
}

StatusOr<ErasureByFaceOutcome> ErasureByFaceFlow::Run(const Caller& who, const Sighting& sighting,
                                                      const std::string& pin,
                                                      int64_t now_ms) const {
  if (pin.size() < 4 || pin.size() > 12 ||
      !std::all_of(pin.begin(), pin.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return InvalidArgument("invalid_pin", "'pin' is 4 to 12 digits");
  }
  ErasureByFaceOutcome out;
  auto finish = [&](const std::string& target, nlohmann::json detail) {
    detail["result"] = ErasureByFaceResultName(out.result);
    deps_.audit->Audit(who, now_ms, "erase_by_face", target,
                       out.result == ErasureByFaceResult::kErased ? "ok" : "refused", detail);
    return out;
  };
  const GuessBudgets budgets(deps_);
  const std::string key_scope = KeyScope(who.actor);
  FACEPAY_ASSIGN_OR_RETURN(bool key_locked, budgets.Locked(key_scope, now_ms));
  if (key_locked) {
    out.result = ErasureByFaceResult::kLocked;
    return finish("", {{"scope", "key"}});
  }
  const Identifier identifier(deps_);
  FACEPAY_ASSIGN_OR_RETURN(Probe probe, identifier.ProbeOf(sighting, "kiosk:" + who.terminal));
  RefuseUnsure(probe);
  if (probe.state != biometrics::ProbeState::kOk) {
    return finish("", {{"probe", probe.ToJson()}});
  }
  // Who the face alone names: the PIN is a guess against each of them.
  FACEPAY_ASSIGN_OR_RETURN(Identification face_only, identifier.Identify(probe));
  std::vector<std::string> named;
  if (face_only.decision.outcome == biometrics::Outcome::kAccept) {
    named.push_back(face_only.decision.subject_id);
  } else if (face_only.decision.outcome == biometrics::Outcome::kStepUp) {
    for (const auto& c : face_only.decision.candidates) named.push_back(c.subject_id);
  }
  for (const auto& s : named) {
    FACEPAY_ASSIGN_OR_RETURN(bool locked, budgets.Locked(SubjectScope(s), now_ms));
    if (locked) {
      out.result = ErasureByFaceResult::kLocked;
      return finish(s, {{"scope", "subject"}});
    }
  }
  const SecondFactor factor{"", pin};
  const std::function<bool(const std::string&)> has_pin = [&](const std::string& subject) {
    return identifier.HasSecondFactor(subject, factor);
  };
  FACEPAY_ASSIGN_OR_RETURN(Identification with_pin, identifier.Identify(probe, &has_pin));
  const auto& d = with_pin.decision;
  if (d.outcome != biometrics::Outcome::kAccept || named.empty()) {
    for (const auto& s : named) budgets.CountFailure(who, SubjectScope(s), false, now_ms);
    budgets.CountFailure(who, key_scope, true, now_ms);
    return finish("", {{"decision", d.rule}, {"named", named.size()}});
  }
  budgets.CountSuccess(SubjectScope(d.subject_id), now_ms);
  FACEPAY_ASSIGN_OR_RETURN(out.templates_removed, ErasureFlow(deps_).Erase(who, d.subject_id));
  out.result = ErasureByFaceResult::kErased;
  out.subject_id = d.subject_id;
  return finish(d.subject_id, {{"templates_removed", out.templates_removed}});
}

}  // namespace facepay::flows
