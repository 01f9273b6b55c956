#include "facepay/flows/identifier.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "facepay/biometrics/secret_hash.h"
#include "facepay/flows/cameras.h"

namespace facepay::flows {
namespace {

using SteadyClock = std::chrono::steady_clock;

double MsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

}  // namespace

StatusOr<Probe> Identifier::ProbeOf(const Sighting& s, const std::string& camera) const {
  if (s.edge) return *s.edge;
  std::optional<vision::CameraProfile> profile;
  if (deps_.cameras != nullptr) {
    FACEPAY_ASSIGN_OR_RETURN(profile, deps_.cameras->ProfileOf(camera));
  }
  ProbeContext ctx;
  ctx.pipeline = deps_.pipeline;
  ctx.sequence = deps_.sequence;
  ctx.camera = profile ? &*profile : nullptr;
  ctx.frame_interval_ms = s.frame_interval_ms;
  FACEPAY_ASSIGN_OR_RETURN(Probe p, ProbeFromFrames(ctx, s.frames));
  if (deps_.cameras != nullptr && p.cnn_raw_median) {
    deps_.cameras->Observe(camera, *p.cnn_raw_median + p.cnn_offset, false);
  }
  return p;
}

void Identifier::ObserveMatched(const std::string& camera, const Probe& p) const {
  if (deps_.cameras != nullptr && p.cnn_raw_median) {
    deps_.cameras->ObserveMatched(camera, *p.cnn_raw_median + p.cnn_offset);
  }
}

StatusOr<Identification> Identifier::Identify(
    Probe probe, const std::function<bool(const std::string&)>* second_factor) const {
  Identification id;
  const auto t0 = SteadyClock::now();
  const auto& th = deps_.policy.thresholds;
  if (probe.state == biometrics::ProbeState::kOk || probe.state == biometrics::ProbeState::kSpoof ||
      probe.state == biometrics::ProbeState::kLowQuality) {
    FACEPAY_ASSIGN_OR_RETURN(id.top,
                             deps_.gallery->Search(probe.embedding, std::max(10, th.max_candidates)));
  }
  id.search_ms = MsSince(t0);
  const auto t1 = SteadyClock::now();
  id.decision = second_factor ? biometrics::DecideWithSecondFactor(probe.state, id.top, th,
                                                                   *second_factor)
                              : biometrics::Decide(probe.state, id.top, th);
  if (probe.liveness_unsure && id.decision.outcome == biometrics::Outcome::kAccept &&
      !id.decision.second_factor) {
    // Liveness unsure (an uncalibrated camera): the face matched, but it pays only with a second
    // factor, never silently.
    id.decision.outcome = biometrics::Outcome::kStepUp;
    id.decision.candidates = {{id.decision.subject_id, id.decision.score}};
    id.decision.subject_id.clear();
    id.decision.rule = "liveness_unsure";
  }
  id.decide_ms = MsSince(t1);
  id.probe = std::move(probe);
  return id;
}

StatusOr<std::optional<float>> Identifier::Verify(const std::string& subject_id,
                                                  const vision::Embedding& probe) const {
  std::optional<float> best;
  for (int64_t tid : deps_.gallery->TemplatesOf(subject_id)) {
    FACEPAY_ASSIGN_OR_RETURN(auto rec, deps_.bio_store->GetTemplate(tid));
    if (!rec) continue;  // erased meanwhile
    auto e = biometrics::OpenEmbedding(
        *deps_.template_key, rec->sealed,
        biometrics::TemplateAd(rec->subject_id, rec->template_id, rec->model_id));
    if (!e.ok()) {
      spdlog::error("template {} of {} failed authentication: not used", tid, subject_id);
      continue;
    }
    const float s = vision::CosineSimilarity(*e, probe);
    if (!best || s > *best) best = s;
  }
  return best;
}

bool Identifier::HasSecondFactor(const std::string& subject, const SecondFactor& f) const {
  auto s = deps_.bio_store->GetSubject(subject);
  if (!s.ok() || !*s) return false;  // erased since
  const std::string pepper = deps_.template_key->SecondFactorPepper();
  return f.phone_last4.empty() ? biometrics::VerifySecret((*s)->pin_hash, f.pin, pepper)
                               : biometrics::VerifySecret((*s)->phone_last4_hash, f.phone_last4,
                                                          pepper);
}

}  // namespace facepay::flows
