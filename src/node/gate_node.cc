#include "facepay/node/gate_node.h"

#include <optional>
#include <sstream>

#include "facepay/common/env.h"
#include "facepay/vision/model_pack.h"

namespace facepay::node {

using nlohmann::json;

struct GateNode::Parts {
  GateNodeConfig config;
  std::unique_ptr<vision::FacePipeline> own_pipeline;
  std::optional<vision::SequenceModel> own_sequence;
  std::optional<vision::CameraProfile> profile;
  payments::SystemClock system_clock;
  std::unique_ptr<FrameSource> source;
  std::unique_ptr<ServerLink> link;
  std::vector<std::unique_ptr<Turnstile>> outputs;
  std::unique_ptr<GateReplica> replica;
  std::unique_ptr<GateSync> sync;
  std::unique_ptr<Gate> gate;
  std::unique_ptr<GateStatusServer> status;
};

StatusOr<std::unique_ptr<GateNode>> GateNode::Open(GateNodeConfig config) {
  auto p = std::make_unique<Parts>();
  p->config = std::move(config);
  GateNodeConfig& c = p->config;
  std::vector<Turnstile*> outputs;
  for (const auto& spec : c.outputs) {
    FACEPAY_ASSIGN_OR_RETURN(auto t, MakeTurnstile(spec, *c.json_out));
    outputs.push_back(t.get());
    p->outputs.push_back(std::move(t));
  }
  if (!c.camera_profile.empty()) {
    FACEPAY_ASSIGN_OR_RETURN(auto prof, vision::LoadCameraProfile(c.camera_profile));
    p->profile = prof;
  }
  const vision::FacePipeline* pipeline = c.pipeline;
  const vision::SequenceModel* sequence = c.sequence;
  if (pipeline == nullptr) {
    FACEPAY_ASSIGN_OR_RETURN(auto pack, vision::ModelPack::Load(c.models.empty() ? ModelsDir() : c.models));
    vision::PipelineOptions po;
    po.max_instances = 1;  // one camera, one frame at a time
    FACEPAY_ASSIGN_OR_RETURN(p->own_pipeline, vision::FacePipeline::Create(pack, po));
    FACEPAY_ASSIGN_OR_RETURN(auto m, vision::SequenceModelFromJson(
                                         pack->manifest().value("sequence_liveness", json::object())));
    p->own_sequence = m;
    pipeline = p->own_pipeline.get();
    sequence = &*p->own_sequence;
  }
  if (!p->profile) {
    std::cerr << "facepay gate: WARNING: camera " << c.camera
              << " has no calibration profile: liveness is judged at the model's most "
                 "conservative offset ("
              << (sequence ? vision::CnnLogitOffsetFor(*sequence, nullptr) : 0.f)
              << "), which refuses many genuine people; calibrate it with `facepay liveness "
                 "calibrate` (docs/liveness.md)\n";
  }
  FACEPAY_ASSIGN_OR_RETURN(p->source, OpenVideoSource(c.camera, c.from_ms, c.realtime, c.loop));
  p->link = std::make_unique<ServerLink>(c.link);
  if (!c.state_dir.empty()) {
    payments::Clock& clock = c.clock ? *c.clock : p->system_clock;
    FACEPAY_ASSIGN_OR_RETURN(p->replica, GateReplica::Open(c.state_dir, c.gate.gate_id, clock));
    p->sync = std::make_unique<GateSync>(*p->replica, *p->link, c.gate.gate_id);
    FACEPAY_ASSIGN_OR_RETURN(auto first, p->sync->SyncOnce());
    if (!first.reachable) std::cerr << "facepay gate: server unreachable at start: offline\n";
    p->sync->Start(c.sync_ms);
  } else {
    std::cerr << "facepay gate: no state folder: no offline operation (an unreachable server "
                 "keeps the turnstile closed)\n";
  }
  p->gate = std::make_unique<Gate>(c.gate, *pipeline, sequence, p->profile ? &*p->profile : nullptr,
                                   *p->link, outputs, p->replica.get());
  if (!c.status_host.empty()) {
    FACEPAY_ASSIGN_OR_RETURN(p->status, GateStatusServer::Start(*p->gate, c.status_host,
                                                                c.status_port, 5000, c.watchdog_ms));
  }
  return std::unique_ptr<GateNode>(new GateNode(std::move(p)));
}

GateNode::GateNode(std::unique_ptr<Parts> p) : p_(std::move(p)) {}

GateNode::~GateNode() {
  p_->status.reset();
  if (p_->sync) {
    p_->sync->Stop();
    (void)p_->sync->SyncOnce();  // a last replay of what was queued, if the server answers
  }
}

Status GateNode::Run() { return p_->gate->Run(*p_->source); }
void GateNode::RequestStop() { p_->gate->RequestStop(); }
Gate& GateNode::gate() { return *p_->gate; }
GateReplica* GateNode::replica() { return p_->replica.get(); }
int GateNode::status_port() const { return p_->status ? p_->status->port() : 0; }

std::string GateNode::Summary() const {
  std::ostringstream s;
  s << "gate " << p_->config.gate.gate_id << ": camera " << p_->source->Describe()
    << (p_->profile ? " (calibrated)" : " (NOT calibrated)") << ", server " << p_->config.link.server;
  if (p_->replica) {
    s << ", replica " << p_->replica->template_count() << " templates (sequence "
      << p_->replica->cursor() << "), " << p_->replica->counts().pending << " offline passage(s) queued";
  }
  if (p_->status) s << ", status on http://" << p_->config.status_host << ":" << p_->status->port() << "/status";
  return s.str();
}

StatusOr<ReplayReport> ReplayQueue(const std::string& state_dir, const std::string& gate_id,
                                   const LinkConfig& link) {
  payments::SystemClock clock;
  FACEPAY_ASSIGN_OR_RETURN(auto replica, GateReplica::Open(state_dir, gate_id, clock));
  ServerLink l(link);
  FACEPAY_ASSIGN_OR_RETURN(auto round, GateSync(*replica, l, gate_id).SyncOnce());
  ReplayReport r;
  r.reachable = round.reachable;
  r.replayed = round.replayed;
  r.queue = replica->counts();
  return r;
}

}  // namespace facepay::node
