#include "facepay/node/node.h"

#include <sodium.h>

#include <iostream>
#include <sstream>

#include "facepay/biometrics/gallery_follower.h"
#include "facepay/common/env.h"
#include "facepay/node/biometrics_open.h"
#include "facepay/payments/clock.h"
#include "facepay/service/auth.h"
#include "facepay/storage/biometric_stores.h"
#include "facepay/storage/ledger_stores.h"
#include "facepay/storage/service_stores.h"

namespace facepay::node {

using nlohmann::json;

// Declared in the order they are built; destroyed in reverse (the service before what it uses).
struct Node::Parts {
  NodeConfig config;
  std::string location;  // the store: SQLite file or postgres:// URL
  payments::SystemClock system_clock;
  payments::Clock* clock = nullptr;
  std::unique_ptr<payments::PaymentProvider> provider;
  std::unique_ptr<service::ServiceStore> svc_store;
  std::unique_ptr<payments::LedgerStore> ledger_store;
  BioContext bio;
  std::unique_ptr<biometrics::BiometricStore> wl_store;
  std::unique_ptr<biometrics::Gallery> watchlist;
  std::optional<vision::SequenceModel> sequence;
  std::unique_ptr<payments::Ledger> ledger;
  std::unique_ptr<service::Service> service;
  std::unique_ptr<biometrics::GalleryFollower> follower;
  std::unique_ptr<biometrics::GalleryFollower> wl_follower;
  std::string first_admin_token;
  bool closed = false;
};

namespace {

StatusOr<std::string> MakeFirstAdminKey(service::ServiceStore& store, payments::Clock& clock) {
  FACEPAY_ASSIGN_OR_RETURN(int64_t active, store.CountActiveKeys());
  if (active != 0) return std::string();
  FACEPAY_ASSIGN_OR_RETURN(auto k, service::MakeApiKey(service::Role::kAdmin, {}, "first admin",
                                                       0, clock.NowMs()));
  FACEPAY_RETURN_IF_ERROR(store.PutKey(k.record));
  service::AuditRecord rec{0, clock.NowMs(), "system", "key_create", k.record.key_id, "ok",
                           json{{"role", "admin"}, {"reason", "first start"}}.dump()};
  (void)store.AppendAudit(rec);  // the key exists either way; the audit line is best effort
  return k.token;
}

}  // namespace

StatusOr<std::unique_ptr<Node>> Node::Open(NodeConfig config) {
  if (sodium_init() < 0) return Internal("sodium_init_failed", "libsodium failed to start");
  auto p = std::make_unique<Parts>();
  p->config = std::move(config);
  const NodeConfig& c = p->config;
  const std::string& data = c.data_dir;
  p->location = c.store.empty() ? data + "/facepay.db" : c.store;
  const bool pg = IsPostgresLocation(p->location);
  p->clock = c.clock != nullptr ? c.clock : &p->system_clock;

  // Card accounts charge through a PaymentProvider. facepay ships no PSP integration, only the
  // simulated one (approves every capture, charges no real card): without it card accounts
  // are declined with "no_provider" instead of silently pretending to charge.
  if (c.card_provider == "simulated") {
    p->provider = std::make_unique<payments::SimulatedProvider>();
  } else if (c.card_provider != "none") {
    return InvalidArgument("invalid_card_provider", "card provider must be none or simulated, not '" +
                                                        c.card_provider + "'");
  }
  FACEPAY_RETURN_IF_ERROR(SecureDataFolder(data));
  FACEPAY_ASSIGN_OR_RETURN(p->svc_store, storage::OpenServiceStore(p->location));
  FACEPAY_ASSIGN_OR_RETURN(p->ledger_store, storage::OpenLedgerStore(p->location));

  BioConfig bc;
  bc.store = p->location;
  bc.key_file = data + "/template.key";
  // Each node of a shared PostgreSQL store keeps its own snapshot of what it followed.
  bc.snapshot = data + (pg ? "/gallery-node.faiss" : "/gallery.faiss");
  bc.index = c.index;
  bc.ef_search = c.ef_search;
  bc.models = c.models;
  bc.create_key = true;
  bc.need_pipeline = c.pipeline == nullptr;
  bc.instances = c.pipelines;
  bc.init_key_check = c.init_key_check;
  bc.shared_pipeline = c.pipeline;
  FACEPAY_ASSIGN_OR_RETURN(p->bio, OpenBiometrics(bc));
  if (c.thresholds) p->bio.policy.thresholds = *c.thresholds;

  // The border watchlist: a second gallery, followed like the subjects.
  if (pg) {
    FACEPAY_ASSIGN_OR_RETURN(p->wl_store,
                             storage::OpenPgBiometricStore(p->location, "facepay_watchlist"));
  } else {
    FACEPAY_ASSIGN_OR_RETURN(p->wl_store, storage::OpenSqliteBiometricStore(data + "/watchlist.db"));
  }
  biometrics::GalleryOptions wo = p->bio.gallery->options();
  wo.snapshot_path = "";
  // Exact search: a watchlist is small, and starts empty (an IVF/PCA index could not train).
  wo.index_factory = "Flat";
  wo.init_key_check = true;
  FACEPAY_ASSIGN_OR_RETURN(p->watchlist, biometrics::Gallery::Open(*p->wl_store, *p->bio.key, wo));

  FACEPAY_ASSIGN_OR_RETURN(std::string border_key, SecretFile(data + "/border.key"));
  FACEPAY_ASSIGN_OR_RETURN(std::string offline_secret, SecretFile(data + "/offline.key"));
  std::string terminals_path = c.terminals;
  if (terminals_path.empty()) {
    terminals_path = GetEnvOr("FACEPAY_TERMINALS", ConfigDir() + "/terminals/demo.json");
  }
  FACEPAY_ASSIGN_OR_RETURN(auto terminals, service::LoadTerminals(terminals_path));
  if (const auto cams = flows::UncalibratedCameras(terminals); !cams.empty()) {
    std::string list;
    for (const auto& cam : cams) (list.empty() ? list : list.append(", ")).append(cam);
    std::cerr << "facepay: warning: liveness: " << cams.size()
              << " terminal camera(s) have no calibration profile in the terminals config (" << list
              << "): unless the server holds a calibration for them (GET /v1/cameras), they are "
                 "judged at the conservative offset, so their unsure bursts step up to a second "
                 "factor and genuine users meet more step-ups; calibrate them (the dashboard's "
                 "Cameras panel, POST /v1/cameras/{camera}/calibration..., docs/liveness.md)\n";
  }

  const vision::SequenceModel* sequence = c.sequence;
  if (sequence == nullptr) {
    auto m = vision::SequenceModelFromJson(p->bio.manifest.value("sequence_liveness", json::object()));
    if (m.ok()) {
      p->sequence = *m;
      sequence = &*p->sequence;
    }
  }
  p->ledger = std::make_unique<payments::Ledger>(*p->ledger_store, *p->clock, p->provider.get());
  if (c.make_first_admin_key) {
    FACEPAY_ASSIGN_OR_RETURN(p->first_admin_token, MakeFirstAdminKey(*p->svc_store, *p->clock));
  }

  service::ServiceDeps deps;
  deps.pipeline = p->bio.pipeline_in_use;
  deps.sequence = sequence;
  deps.bio_store = p->bio.store.get();
  deps.gallery = p->bio.gallery.get();
  deps.template_key = p->bio.key.get();
  deps.policy = p->bio.policy;
  deps.watchlist = p->watchlist.get();
  deps.ledger = p->ledger.get();
  deps.store = p->svc_store.get();
  deps.clock = p->clock;
  deps.terminals = std::move(terminals);
  deps.border_hash_key = border_key;
  deps.offline_secret = offline_secret;
  deps.challenge_order = c.challenge_order;
  FACEPAY_ASSIGN_OR_RETURN(p->service, service::Service::Create(std::move(deps), c.service));

  biometrics::GalleryFollowerOptions fo;
  fo.interval_ms = c.follow_ms;
  p->follower = std::make_unique<biometrics::GalleryFollower>(*p->bio.gallery, fo);
  p->follower->Start();
  p->wl_follower = std::make_unique<biometrics::GalleryFollower>(*p->watchlist, fo);
  p->wl_follower->Start();
  return std::unique_ptr<Node>(new Node(std::move(p)));
}

Node::Node(std::unique_ptr<Parts> parts) : p_(std::move(parts)) {}

Node::~Node() {
  Status s = Close();
  if (!s.ok()) std::cerr << "facepay: " << s.ToString() << "\n";
}

StatusOr<int> Node::Listen(const std::string& host, int port) {
  if (p_->closed) return FailedPrecondition("node_closed", "the node is closed");
  return p_->service->Listen(host, port);
}

void Node::Run() {
  if (!p_->closed) p_->service->Run();
}

void Node::Stop() { p_->service->Stop(); }

Status Node::Close() {
  if (p_->closed) return Status::Ok();
  p_->closed = true;
  p_->service->Stop();
  p_->follower->Stop();
  p_->wl_follower->Stop();
  if (postgres()) return Status::Ok();
  Status s = p_->bio.gallery->SaveSnapshot();
  if (!s.ok()) return Status(s.code(), "snapshot_not_saved", "snapshot not saved: " + s.ToString());
  return Status::Ok();
}

const std::string& Node::first_admin_token() const { return p_->first_admin_token; }

std::string Node::Summary() const {
  std::ostringstream o;
  const auto& g = *p_->bio.gallery;
  o << "store " << p_->ledger_store->Backend() << ", " << g.subject_count() << " subjects, "
    << g.template_count() << " templates" << (g.load_report().from_snapshot ? ", from snapshot" : "");
  if (p_->provider) o << ", card provider " << p_->provider->Name();
  if (p_->config.service.keep_enrollment_images) o << ", keeping enrolment images";
  return o.str();
}

bool Node::postgres() const { return IsPostgresLocation(p_->location); }
service::ServiceStore& Node::store() { return *p_->svc_store; }
biometrics::Gallery& Node::gallery() { return *p_->bio.gallery; }
biometrics::Gallery& Node::watchlist() { return *p_->watchlist; }
payments::Ledger& Node::ledger() { return *p_->ledger; }
const vision::FacePipeline& Node::pipeline() { return *p_->bio.pipeline_in_use; }
payments::PaymentProvider* Node::provider() { return p_->provider.get(); }
const NodeConfig& Node::config() const { return p_->config; }

}  // namespace facepay::node
