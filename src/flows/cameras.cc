#include "facepay/flows/cameras.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "facepay/vision/liveness.h"

namespace facepay::flows {
namespace {

using nlohmann::json;

float Median(std::vector<float> v) {
  const auto mid = v.begin() + static_cast<long>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

float Round3(float x) { return std::round(x * 1000.f) / 1000.f; }

// The stored state (FlowStore::UpdateCameraState), read leniently: a malformed field is absent.
struct State {
  std::optional<float> offset;  // the server's calibration
  std::string source;           // "calibration" | "refinement"
  std::optional<float> base_offset;
  int refinements = 0, frames_used = 0;
  int64_t calibrated_at_ms = 0;
  std::vector<float> confirmed;  // raw median logits since the last refinement step
  // A calibration in progress: raw logits of challenge-passed passages' face frames.
  std::vector<float> pending;
  int pending_passages = 0;
  int64_t pending_started_ms = 0;
};

std::vector<float> Floats(const json& j) {
  std::vector<float> out;
  if (!j.is_array()) return out;
  for (const auto& x : j) {
    if (x.is_number() && std::isfinite(x.get<float>())) out.push_back(x.get<float>());
  }
  return out;
}

std::optional<float> Offset(const json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number()) return std::nullopt;
  const float v = j[key].get<float>();
  if (!std::isfinite(v) || std::abs(v) > vision::kMaxCnnLogitOffset) return std::nullopt;
  return v;
}

State Parse(const std::string& text) {
  State s;
  if (text.empty()) return s;
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return s;
  s.offset = Offset(j, "cnn_logit_offset");
  s.source = j.value("source", json("")).is_string() ? j.value("source", "") : "";
  s.base_offset = Offset(j, "base_offset");
  auto int_of = [&](const char* k) -> int64_t {
    return j.contains(k) && j[k].is_number_integer() ? j[k].get<int64_t>() : 0;
  };
  s.refinements = static_cast<int>(std::clamp<int64_t>(int_of("refinements"), 0, 1 << 30));
  s.frames_used = static_cast<int>(std::clamp<int64_t>(int_of("frames_used"), 0, 1 << 30));
  s.calibrated_at_ms = int_of("calibrated_at_ms");
  s.confirmed = Floats(j.value("confirmed", json::array()));
  if (j.contains("pending") && j["pending"].is_object()) {
    const json& p = j["pending"];
    s.pending = Floats(p.value("logits", json::array()));
    s.pending_passages = p.value("passages", json(0)).is_number_integer() ? p.value("passages", 0) : 0;
    s.pending_started_ms =
        p.value("started_at_ms", json(0)).is_number_integer() ? p.value("started_at_ms", int64_t{0}) : 0;
  }
  return s;
}

std::string Dump(const State& s) {
  json j = json::object();
  if (s.offset) {
    j["cnn_logit_offset"] = *s.offset;
    j["source"] = s.source;
    j["frames_used"] = s.frames_used;
    j["calibrated_at_ms"] = s.calibrated_at_ms;
  }
  if (s.base_offset) j["base_offset"] = *s.base_offset;
  j["refinements"] = s.refinements;
  j["confirmed"] = s.confirmed;
  if (s.pending_passages > 0) {
    j["pending"] = {{"logits", s.pending},
                    {"passages", s.pending_passages},
                    {"started_at_ms", s.pending_started_ms}};
  }
  return j.dump();
}

// A calibration in progress older than kCalibrationTtlMs is dropped.
void Lapse(State& s, int64_t now_ms) {
  if (s.pending_passages > 0 && now_ms - s.pending_started_ms > kCalibrationTtlMs) {
    s.pending.clear();
    s.pending_passages = 0;
  }
}

Status Unknown(const std::string& camera) {
  return NotFound("unknown_camera", "no terminal camera '" + camera + "' in the terminals config");
}

}  // namespace

std::optional<float> RawMedianLogit(const std::vector<vision::FrameCue>& cues) {
  std::vector<float> l;
  for (const auto& c : cues) {
    if (c.has_face) l.push_back(vision::Logit(c.cnn_p_live));
  }
  if (l.empty()) return std::nullopt;
  return Median(std::move(l));
}

CameraBook::CameraBook(const Terminals& terminals, FlowStore& store, payments::Clock& clock,
                       AuditSink& audit, const vision::SequenceModel* sequence)
    : store_(store), clock_(clock), audit_(audit), sequence_(sequence) {
  for (const auto& [id, g] : terminals.gates) {
    if (!g.edge) configured_["gate:" + id] = g.camera;  // an edge gate judges its own camera
  }
  for (const auto& [id, c] : terminals.tills) configured_["till:" + id] = c.camera;
  for (const auto& [id, c] : terminals.atms) configured_["atm:" + id] = c.camera;
  for (const auto& [id, c] : terminals.borders) configured_["border:" + id] = c.camera;
  for (const auto& [id, c] : terminals.kiosks) configured_["kiosk:" + id] = c.camera;
  for (const auto& [name, p] : configured_) names_.push_back(name);
}

bool CameraBook::Known(const std::string& camera) const { return configured_.count(camera) > 0; }

StatusOr<std::optional<vision::CameraProfile>> CameraBook::ProfileOf(const std::string& camera) const {
  const auto it = configured_.find(camera);
  if (it == configured_.end()) return std::optional<vision::CameraProfile>();
  FACEPAY_ASSIGN_OR_RETURN(std::string text, store_.GetCameraState(camera));
  const State s = Parse(text);
  if (s.offset) {
    vision::CameraProfile p;
    p.camera = camera;
    p.cnn_logit_offset = *s.offset;
    p.frames_used = s.frames_used;
    return std::optional<vision::CameraProfile>(p);
  }
  return it->second;
}

StatusOr<CalibrationProgress> CameraBook::AddCalibrationPassage(const Caller& who,
                                                                const std::string& camera,
                                                                const std::vector<float>& p_live) {
  if (!Known(camera)) return Unknown(camera);
  if (p_live.empty()) {
    return InvalidArgument("calibration_no_frames", "the passage had no frame with a face");
  }
  const int64_t now_ms = clock_.NowMs();
  CalibrationProgress out;
  bool started = false;
  FACEPAY_RETURN_IF_ERROR(store_.UpdateCameraState(camera, now_ms, [&](std::string cur) {
    State s = Parse(cur);
    Lapse(s, now_ms);
    started = s.pending_passages == 0;
    if (started) s.pending_started_ms = now_ms;
    if (s.pending_passages < kMaxCalibrationPassages) {
      ++s.pending_passages;
      for (float p : p_live) {
        if (static_cast<int>(s.pending.size()) >= kMaxCalibrationFrames) break;
        s.pending.push_back(Round3(vision::Logit(p)));
      }
    }
    out.passages = s.pending_passages;
    out.frames = static_cast<int>(s.pending.size());
    return Dump(s);
  }).status());
  audit_.Audit(who, now_ms, "camera_calibration", camera, started ? "started" : "passage",
               {{"passages", out.passages}, {"frames", out.frames}});
  return out;
}

StatusOr<CameraView> CameraBook::CommitCalibration(const Caller& who, const std::string& camera) {
  if (!Known(camera)) return Unknown(camera);
  FACEPAY_ASSIGN_OR_RETURN(const auto before, ProfileOf(camera));
  const int64_t now_ms = clock_.NowMs();
  CalibrationProgress progress;
  std::optional<float> offset;
  FACEPAY_RETURN_IF_ERROR(store_.UpdateCameraState(camera, now_ms, [&](std::string cur) {
    State s = Parse(cur);
    Lapse(s, now_ms);
    progress.passages = s.pending_passages;
    progress.frames = static_cast<int>(s.pending.size());
    offset.reset();
    if (!progress.ready()) return Dump(s);
    const float o = std::clamp(kCalibrationTargetLogit - Median(s.pending),
                               -vision::kMaxCnnLogitOffset, vision::kMaxCnnLogitOffset);
    offset = o;
    s.offset = o;
    s.base_offset = o;
    s.source = "calibration";
    s.frames_used = progress.frames;
    s.calibrated_at_ms = now_ms;
    s.refinements = 0;
    s.confirmed.clear();
    s.pending.clear();
    s.pending_passages = 0;
    return Dump(s);
  }).status());
  if (!offset) {
    return FailedPrecondition(
        "calibration_not_ready",
        "a calibration needs " + std::to_string(kMinCalibrationPassages) +
            " passages that passed the movement check and " +
            std::to_string(kMinCalibrationFrames) + " face frames; it has " +
            std::to_string(progress.passages) + " and " + std::to_string(progress.frames));
  }
  {
    std::lock_guard lock(mu_);
    drift_.erase(camera);  // a new calibration starts a new drift window
  }
  json detail = {{"cnn_logit_offset", *offset},
                 {"passages", progress.passages},
                 {"frames", progress.frames}};
  detail["previous_offset"] = before ? json(before->cnn_logit_offset) : json(nullptr);
  audit_.Audit(who, now_ms, "camera_calibration", camera, "calibrated", detail);
  return View(camera);
}

Status CameraBook::ResetCalibration(const Caller& who, const std::string& camera) {
  if (!Known(camera)) return Unknown(camera);
  FACEPAY_ASSIGN_OR_RETURN(const auto before, ProfileOf(camera));
  const int64_t now_ms = clock_.NowMs();
  FACEPAY_RETURN_IF_ERROR(
      store_.UpdateCameraState(camera, now_ms, [](std::string) { return Dump(State{}); }).status());
  {
    std::lock_guard lock(mu_);
    drift_.erase(camera);
  }
  json detail = json::object();
  detail["previous_offset"] = before ? json(before->cnn_logit_offset) : json(nullptr);
  audit_.Audit(who, now_ms, "camera_calibration", camera, "reset", detail);
  return Status::Ok();
}

Status CameraBook::Confirmed(const Caller& who, const std::string& camera, float raw_median_logit) {
  if (!Known(camera) || !std::isfinite(raw_median_logit)) return Status::Ok();
  const std::optional<vision::CameraProfile> configured = configured_.at(camera);
  const int64_t now_ms = clock_.NowMs();
  std::optional<std::pair<float, float>> step;  // before, after
  FACEPAY_RETURN_IF_ERROR(store_.UpdateCameraState(camera, now_ms, [&](std::string cur) {
    State s = Parse(cur);
    step.reset();
    const std::optional<float> current =
        s.offset ? s.offset : configured ? std::optional<float>(configured->cnn_logit_offset)
                                         : std::nullopt;
    if (!current) return cur;  // uncalibrated: only a guided calibration starts one
    const float base = s.base_offset.value_or(*current);
    s.confirmed.push_back(Round3(raw_median_logit));
    if (static_cast<int>(s.confirmed.size()) >= kRefineEvery) {
      // Where these passages say the offset should be, approached by at most one step, and
      // never further than the bound from the operator's calibration.
      const float wanted = kCalibrationTargetLogit - Median(s.confirmed);
      float next = *current + std::clamp(wanted - *current, -kRefineStepLogits, kRefineStepLogits);
      next = std::clamp(next, base - kRefineBoundLogits, base + kRefineBoundLogits);
      s.confirmed.clear();
      if (next != *current) {
        step = {*current, next};
        s.offset = next;
        s.base_offset = base;
        s.source = "refinement";
        s.frames_used = std::max(s.frames_used, configured ? configured->frames_used : 0);
        s.calibrated_at_ms = now_ms;
        ++s.refinements;
      }
    }
    return Dump(s);
  }).status());
  if (step) {
    audit_.Audit(who, now_ms, "camera_calibration", camera, "refined",
                 {{"previous_offset", step->first},
                  {"cnn_logit_offset", step->second},
                  {"passages", kRefineEvery}});
  }
  return Status::Ok();
}

void CameraBook::Observe(const std::string& camera, float logit, bool matched) {
  if (!Known(camera) || !std::isfinite(logit)) return;
  std::lock_guard lock(mu_);
  Drift& d = drift_[camera];
  if (matched) {
    d.matched.push_back(logit);
    if (static_cast<int>(d.matched.size()) > kDriftWindow) d.matched.pop_front();
    return;
  }
  size_t b = 0;
  while (b < kLogitBuckets.size() && logit > kLogitBuckets[b]) ++b;
  ++d.histogram[b];
  ++d.total;
  d.sum += logit;
}

void CameraBook::FillDrift(CameraView& v) const {
  std::lock_guard lock(mu_);
  const auto it = drift_.find(v.camera);
  if (it == drift_.end()) return;
  const Drift& d = it->second;
  v.bursts = static_cast<int>(d.matched.size());
  v.histogram = d.histogram;
  v.bursts_total = d.total;
  v.logit_sum = d.sum;
  if (d.matched.empty()) return;
  v.median_logit = Median({d.matched.begin(), d.matched.end()});
  // Uncalibrated cameras are judged at an offset chosen to be safe, not centred: no drift.
  if (v.profile && v.bursts >= kDriftMinBursts) {
    v.drift_logits = *v.median_logit - kCalibrationTargetLogit;
    v.drift_alert = std::abs(*v.drift_logits) > kDriftAlertLogits;
  }
}

StatusOr<CameraView> CameraBook::View(const std::string& camera) const {
  if (!Known(camera)) return Unknown(camera);
  FACEPAY_ASSIGN_OR_RETURN(std::string text, store_.GetCameraState(camera));
  State s = Parse(text);
  Lapse(s, clock_.NowMs());
  CameraView v;
  v.camera = camera;
  FACEPAY_ASSIGN_OR_RETURN(v.profile, ProfileOf(camera));
  v.source = s.offset ? s.source : v.profile ? "config" : "";
  if (sequence_ != nullptr) {
    v.judged_offset = vision::CnnLogitOffsetFor(*sequence_, v.profile ? &*v.profile : nullptr);
  } else {
    v.judged_offset = v.profile ? v.profile->cnn_logit_offset : 0;
  }
  v.base_offset = s.base_offset;
  v.refinements = s.refinements;
  v.confirmed_pending = static_cast<int>(s.confirmed.size());
  v.calibrated_at_ms = s.calibrated_at_ms;
  v.calibration_passages = s.pending_passages;
  v.calibration_frames = static_cast<int>(s.pending.size());
  FillDrift(v);
  return v;
}

StatusOr<std::vector<CameraView>> CameraBook::Views() const {
  std::vector<CameraView> out;
  for (const auto& name : names_) {
    FACEPAY_ASSIGN_OR_RETURN(auto v, View(name));
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace facepay::flows
