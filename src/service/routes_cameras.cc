// Terminal cameras (flows/cameras.h): what each is judged with and whether it has drifted, and
// the guided calibration: staff stand at the terminal, the server draws random movements, and
// only passages that follow them count (a photo or a replayed video cannot).
#include "service_impl.h"

#include "facepay/flows/liveness_challenge_flow.h"

namespace facepay::service {

using nlohmann::json;

namespace {

json ViewJson(const flows::CameraView& v) {
  json j = {{"camera", v.camera},
            {"calibrated", v.profile.has_value()},
            {"source", v.source},
            {"judged_offset", v.judged_offset},
            {"refinements", v.refinements},
            {"confirmed_pending", v.confirmed_pending},
            {"calibration_in_progress",
             {{"passages", v.calibration_passages},
              {"frames", v.calibration_frames},
              {"passages_needed", flows::kMinCalibrationPassages},
              {"frames_needed", flows::kMinCalibrationFrames}}},
            {"drift",
             {{"bursts", v.bursts},
              {"min_bursts", flows::kDriftMinBursts},
              {"alert", v.drift_alert},
              {"alert_above_logits", flows::kDriftAlertLogits}}}};
  j["cnn_logit_offset"] = v.profile ? json(v.profile->cnn_logit_offset) : json(nullptr);
  j["base_offset"] = v.base_offset ? json(*v.base_offset) : json(nullptr);
  j["calibrated_at_ms"] = v.calibrated_at_ms > 0 ? json(v.calibrated_at_ms) : json(nullptr);
  j["drift"]["median_logit"] = v.median_logit ? json(*v.median_logit) : json(nullptr);
  j["drift"]["drift_logits"] = v.drift_logits ? json(*v.drift_logits) : json(nullptr);
  j["drift"]["target_logit"] = flows::kCalibrationTargetLogit;
  return j;
}

// The {camera} of the path: a camera the terminals config names ("gate:g1", ...).
StatusOr<std::string> CameraOf(const Call& c, const flows::CameraBook& book) {
  const std::string cam = c.Param(1);
  if (cam.size() > 200 || !book.Known(cam)) {
    return NotFound("unknown_camera",
                    "no terminal camera '" + cam.substr(0, 200) + "' (see GET /v1/cameras)");
  }
  return cam;
}

}  // namespace

void Service::Impl::AddCameraRoutes() {
  Register({"GET", "/v1/cameras", {Role::kAuditor}, TerminalKind::kNone,
            "Every terminal camera: its calibration (`source`: calibration, refinement, config or "
            "none), the offset it is judged with, a calibration in progress, and this node's "
            "drift monitor (median calibrated CNN logit of matched bursts against the target)",
            [this](Call&) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(auto views, cameras->Views());
              json items = json::array();
              for (const auto& v : views) items.push_back(ViewJson(v));
              return Reply{200, {{"items", items}}};
            }});
  Register({"GET", "/v1/cameras/{camera}", {Role::kAuditor}, TerminalKind::kNone,
            "One terminal camera (as in GET /v1/cameras)", [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(std::string cam, CameraOf(c, *cameras));
              FACEPAY_ASSIGN_OR_RETURN(auto v, cameras->View(cam));
              return Reply{200, ViewJson(v)};
            }});

  Register({"POST", "/v1/cameras/{camera}/calibration/challenges", {Role::kAdmin},
            TerminalKind::kNone,
            "Guided calibration, one passage: random movements for the person in front of the "
            "camera (as a kiosk challenge). The body is ignored",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(std::string cam, CameraOf(c, *cameras));
              FACEPAY_ASSIGN_OR_RETURN(flows::IssuedLivenessChallenge ch,
                                       flows::LivenessChallengeFlow(flow_deps).Issue({c.Actor(), cam}));
              return Reply{201,
                           {{"challenge_id", ch.id},
                            {"camera", cam},
                            {"actions", flows::ChallengeActionsJson(ch.actions)},
                            {"expires_at_ms", ch.expires_at_ms},
                            {"step_timeout_ms", ch.step_timeout_ms},
                            {"baseline_frames", ch.baseline_frames},
                            {"max_frames", ch.max_frames}}};
            }});

  Register({"POST", "/v1/cameras/{camera}/calibration/challenges/{challenge}/responses",
            {Role::kAdmin}, TerminalKind::kNone,
            "Guided calibration: the frames of one passage (`frames`, `frame_interval_ms`, as a "
            "kiosk challenge's response). Only a passed passage adds its frames; `calibration` "
            "says how many passages and frames it has and needs",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(std::string cam, CameraOf(c, *cameras));
              flows::ChallengeResponse r;
              r.challenge_id = c.Param(2);
              r.for_enrolment = false;
              if (r.challenge_id.size() > 64) {
                return NotFound("challenge_not_found", "no such challenge for this camera");
              }
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req, flows::kMaxChallengeFrames));
              if (auto it = in.images.find("frames"); it != in.images.end()) r.frames = std::move(it->second);
              if (in.images.size() > (in.images.contains("frames") ? 1u : 0u)) {
                return InvalidArgument("unexpected_images", "a response sends 'frames' only");
              }
              if (in.fields.contains("frame_interval_ms")) {
                if (!in.fields["frame_interval_ms"].is_number()) {
                  return InvalidArgument("invalid_frame_interval_ms", "frame_interval_ms is a number");
                }
                r.frame_interval_ms = in.fields["frame_interval_ms"].get<double>();
              }
              const flows::Caller who{c.Actor(), cam};
              FACEPAY_ASSIGN_OR_RETURN(flows::ChallengeOutcome o,
                                       flows::LivenessChallengeFlow(flow_deps).Respond(who, r));
              json body = {{"challenge_id", r.challenge_id},
                           {"result", flows::ChallengeResultName(o.result)},
                           {"failure", o.failure},
                           {"actions", flows::ChallengeActionsJson(o.actions)},
                           {"completed", o.completed},
                           {"frames", o.frames},
                           {"face_frames", o.face_frames}};
              if (o.result == flows::ChallengeResult::kPassed) {
                FACEPAY_ASSIGN_OR_RETURN(auto p, cameras->AddCalibrationPassage(who, cam, o.cnn_p_live));
                body["calibration"] = {{"passages", p.passages},         {"frames", p.frames},
                                       {"passages_needed", p.passages_needed},
                                       {"frames_needed", p.frames_needed}, {"ready", p.ready()}};
              } else {
                FACEPAY_ASSIGN_OR_RETURN(auto v, cameras->View(cam));
                body["calibration"] = {{"passages", v.calibration_passages},
                                       {"frames", v.calibration_frames},
                                       {"passages_needed", flows::kMinCalibrationPassages},
                                       {"frames_needed", flows::kMinCalibrationFrames},
                                       {"ready", false}};
              }
              return Reply{200, body};
            }});

  Register({"POST", "/v1/cameras/{camera}/calibration", {Role::kAdmin}, TerminalKind::kNone,
            "Guided calibration, finish: writes the camera's profile from the passed passages "
            "(409 calibration_not_ready with too few). The body is ignored",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(std::string cam, CameraOf(c, *cameras));
              FACEPAY_ASSIGN_OR_RETURN(auto v, cameras->CommitCalibration({c.Actor(), cam}, cam));
              return Reply{200, ViewJson(v)};
            }});

  Register({"DELETE", "/v1/cameras/{camera}/calibration", {Role::kAdmin}, TerminalKind::kNone,
            "Forgets the server's calibration of the camera (and one in progress): it is judged "
            "with its config profile again, or uncalibrated",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(std::string cam, CameraOf(c, *cameras));
              FACEPAY_RETURN_IF_ERROR(cameras->ResetCalibration({c.Actor(), cam}, cam));
              FACEPAY_ASSIGN_OR_RETURN(auto v, cameras->View(cam));
              return Reply{200, ViewJson(v)};
            }});
}

}  // namespace facepay::service
