// A kiosk's active liveness challenge (flows/liveness_challenge_flow.h): the server draws the
// order, the kiosk shows the prompts and sends the frames it recorded, the server says whether
// the person followed them. The enrolment then names the passed challenge (POST /v1/subjects,
// `challenge_id`).
#include "facepay/biometrics/subject.h"
#include "service_impl.h"

namespace facepay::service {

using nlohmann::json;

namespace {

// The {kiosk} of the path, which a kiosk's own key (paired, or bound) must name.
Status KioskOf(Call& c) {
  c.terminal = c.Param(1);
  if (!biometrics::ValidateSubjectId(c.terminal).ok()) {
    return InvalidArgument("invalid_kiosk", "a kiosk id is 1..64 of [A-Za-z0-9_.:-]");
  }
  if (!c.who) return Status::Ok();
  const std::string& label = c.who->label;
  const bool paired = label.rfind("paired:kiosk:", 0) == 0;
  if ((paired && label.substr(13) != c.terminal) ||
      (!c.who->bindings.empty() && !c.who->BoundTo(c.terminal))) {
    return PermissionDenied("not_bound_to_terminal", "this key belongs to another kiosk");
  }
  return Status::Ok();
}

}  // namespace

void Service::Impl::AddChallengeRoutes() {
  Register({"POST", "/v1/kiosks/{kiosk}/challenges", {Role::kEnroller}, TerminalKind::kNone,
            "Start an active liveness challenge at a kiosk: a random order of `actions` (blink, "
            "turn_left, turn_right, smile) for the kiosk to prompt, answerable once by this key "
            "within `expires_at_ms`. The body is ignored",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_RETURN_IF_ERROR(KioskOf(c));
              FACEPAY_ASSIGN_OR_RETURN(flows::IssuedLivenessChallenge ch,
                                       flows::LivenessChallengeFlow(flow_deps).Issue(c.Who()));
              return Reply{201,
                           {{"challenge_id", ch.id},
                            {"actions", flows::ChallengeActionsJson(ch.actions)},
                            {"expires_at_ms", ch.expires_at_ms},
                            {"step_timeout_ms", ch.step_timeout_ms},
                            {"baseline_frames", ch.baseline_frames},
                            {"max_frames", ch.max_frames}}};
            }});

  Register({"POST", "/v1/kiosks/{kiosk}/challenges/{challenge}/responses", {Role::kEnroller},
            TerminalKind::kNone,
            "Answer a challenge: the `frames` recorded while its prompts were shown (a neutral "
            "pose first, then each action; up to 48, JSON base64 or multipart) and "
            "`frame_interval_ms` (20..1000, default 100). `result` is passed or failed (with "
            "`failure`: timeout, face_lost, wrong_action, incomplete, multiple_faces); one "
            "answer per challenge",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_RETURN_IF_ERROR(KioskOf(c));
              flows::ChallengeResponse r;
              r.challenge_id = c.Param(2);
              if (r.challenge_id.size() > 64) {
                return NotFound("challenge_not_found", "no such challenge for this kiosk");
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
              FACEPAY_ASSIGN_OR_RETURN(flows::ChallengeOutcome o,
                                       flows::LivenessChallengeFlow(flow_deps).Respond(c.Who(), r));
              return Reply{200,
                           {{"challenge_id", r.challenge_id},
                            {"result", flows::ChallengeResultName(o.result)},
                            {"failure", o.failure},
                            {"actions", flows::ChallengeActionsJson(o.actions)},
                            {"completed", o.completed},
                            {"frames", o.frames},
                            {"face_frames", o.face_frames}}};
            }});
}

}  // namespace facepay::service
