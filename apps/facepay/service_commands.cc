// facepay serve (the HTTP service) and facepay keys (API keys).
#include <signal.h>
#include <sodium.h>

#include <cstdlib>
#include <mutex>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "biometrics_cli.h"
#include "cli_common.h"
#include "commands.h"
#include "facepay/biometrics/gallery_follower.h"
#include "facepay/common/env.h"
#include "facepay/payments/clock.h"
#include "facepay/payments/ledger.h"
#include "facepay/service/auth.h"
#include "facepay/service/service.h"
#include "facepay/storage/biometric_stores.h"
#include "facepay/storage/ledger_stores.h"
#include "facepay/storage/service_stores.h"

namespace facepay::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

bool IsPostgres(const std::string& loc) {
  return loc.rfind("postgres://", 0) == 0 || loc.rfind("postgresql://", 0) == 0;
}

// A 32-byte random secret in a 0600 file, created on first use.
// The data folder holds the template key, the border key, the databases and the gallery
// snapshots: anyone who can read it can decrypt templates and try second factors offline.
// At start-up the folder must be 0700 and its files 0600; looser modes are tightened, each
// named on stderr, and a folder facepay cannot tighten (another owner) is refused.
Status SecureDataFolder(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return FailedPrecondition("data_folder_unusable", "cannot create " + dir + ": " + ec.message());
  const auto tighten = [](const fs::path& p, fs::perms want) -> Status {
    std::error_code e;
    const fs::perms have = fs::status(p, e).permissions();
    if (e) return FailedPrecondition("data_folder_unusable", "cannot stat " + p.string());
    if ((have & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none) {
      return Status::Ok();
    }
    fs::permissions(p, want, e);
    if (e) {
      return FailedPrecondition("data_folder_permissions",
                                p.string() + " is readable by others and cannot be tightened (" +
                                    e.message() + "): chmod it yourself");
    }
    std::cerr << "facepay: warning: " << p.string() << " was readable by group/others; now "
              << (want == fs::perms::owner_all ? "0700" : "0600") << "\n";
    return Status::Ok();
  };
  FACEPAY_RETURN_IF_ERROR(tighten(dir, fs::perms::owner_all));
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_symlink()) continue;
    if (entry.is_regular_file()) {
      FACEPAY_RETURN_IF_ERROR(tighten(entry.path(), fs::perms::owner_read | fs::perms::owner_write));
    } else if (entry.is_directory()) {
      FACEPAY_RETURN_IF_ERROR(tighten(entry.path(), fs::perms::owner_all));
    }
  }
  return Status::Ok();
}

StatusOr<std::string> SecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::string hex((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' ')) hex.pop_back();
    if (hex.size() < 32) return FailedPrecondition("secret_invalid", path + " is too short");
    return hex;
  }
  unsigned char b[32];
  randombytes_buf(b, sizeof b);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, b, sizeof b);
  const fs::path tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << hex << "\n";
    if (!out) return Internal("secret_write_failed", "cannot write " + path);
  }
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write);
  fs::rename(tmp, path);
  return std::string(hex);
}

struct StoreArgs {
  std::string data = "data";
  std::string store;  // "" = <data>/facepay.db
  std::string Location() const { return store.empty() ? data + "/facepay.db" : store; }
};

void AddStoreArgs(CLI::App* cmd, StoreArgs& a) {
  cmd->add_option("--data", a.data, "Data folder: SQLite file, keys, snapshots (default data)");
  cmd->add_option("--store", a.store,
                  "SQLite file or postgres://user@host:port/db (default <data>/facepay.db)");
}

StatusOr<std::unique_ptr<service::ServiceStore>> OpenServiceStoreAt(const StoreArgs& a) {
  std::error_code ec;
  fs::create_directories(a.data, ec);
  return storage::OpenServiceStore(a.Location());
}

struct ServeArgs {
  StoreArgs where;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string port_file;
  std::string terminals;
  std::string models;
  std::string index = "Flat";
  int ef_search = 0;
  int threads = 8;
  int header_timeout_ms = 10'000, request_timeout_ms = 60'000, max_connections = 512;
  bool no_access_log = false;
  int pipelines = 0;
  double rate = 100;
  int follow_ms = 250;
  std::string tls_cert, tls_key;
  std::string card_provider = "none";
  bool keep_enrollment_images = false;
};

int Serve(const ServeArgs& a) {
  if (sodium_init() < 0) return Fail(Internal("sodium_init_failed", "libsodium"));
  // Block the stop signals in every thread; one thread waits for them and stops the server.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // Started first, so a signal during a long start-up (a gallery rebuild) still ends the
  // process; once serving, it stops the server gracefully instead.
  std::mutex serving_mu;  // guards serving and done
  service::Service* serving = nullptr;
  bool done = false;
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::lock_guard<std::mutex> lock(serving_mu);
    if (done) return;
    service::Service* s = serving;
    if (s == nullptr) {
      std::cerr << "facepay: signal " << sig << " during start-up: exiting\n";
      std::_Exit(128 + sig);
    }
    std::cerr << "facepay: signal " << sig << ": finishing in-flight requests\n";
    s->Stop();
  });
  struct JoinWaiter {
    std::thread& t;
    std::mutex& mu;
    bool& done;
    ~JoinWaiter() {
      {
        std::lock_guard<std::mutex> lock(mu);
        done = true;
      }
      pthread_kill(t.native_handle(), SIGTERM);  // wakes sigwait when no signal came
      t.join();
    }
  } join_waiter{waiter, serving_mu, done};

  const std::string loc = a.where.Location();
  std::error_code ec;
  if (Status s = SecureDataFolder(a.where.data); !s.ok()) return Fail(s);
  service::InstallCrashLog();
  auto svc_store = OpenServiceStoreAt(a.where);
  if (!svc_store.ok()) return Fail(svc_store.status());
  auto ledger_store = storage::OpenLedgerStore(loc);
  if (!ledger_store.ok()) return Fail(ledger_store.status());

  BioCommon bc;
  bc.store = loc;
  bc.key_file = a.where.data + "/template.key";
  bc.snapshot = IsPostgres(loc) ? a.where.data + "/gallery-node.faiss" : a.where.data + "/gallery.faiss";
  bc.index = a.index;
  bc.ef_search = a.ef_search;
  bc.models = a.models;
  const int instances = ResolveThreads(a.pipelines);
  ConfigureThreads(instances);
  auto bio = OpenBio(bc, /*create_key=*/true, /*need_pipeline=*/true, instances);
  if (!bio.ok()) return Fail(bio.status());
  bool created = false;
  auto key = biometrics::TemplateKey::Resolve(bc.key_file, false, &created);
  if (!key.ok()) return Fail(key.status());

  // The border watchlist: a second gallery. On PostgreSQL it lives in the schema
  // facepay_watchlist of the same database, shared and followed by every node like the
  // subjects; on SQLite it is watchlist.db in the data folder.
  auto wl_store = IsPostgres(loc)
                      ? storage::OpenPgBiometricStore(loc, "facepay_watchlist")
                      : storage::OpenSqliteBiometricStore(a.where.data + "/watchlist.db");
  if (!wl_store.ok()) return Fail(wl_store.status());
  biometrics::GalleryOptions wo = bio->gallery->options();
  wo.snapshot_path = "";
  // Exact search: a watchlist is small, and starts empty (an IVF/PCA index could not train).
  wo.index_factory = "Flat";
  wo.init_key_check = true;
  auto watchlist = biometrics::Gallery::Open(**wl_store, *key, wo);
  if (!watchlist.ok()) return Fail(watchlist.status());

  auto border_key = SecretFile(a.where.data + "/border.key");
  if (!border_key.ok()) return Fail(border_key.status());
  std::string terminals_path = a.terminals;
  if (terminals_path.empty()) {
    const char* env = std::getenv("FACEPAY_TERMINALS");  // NOLINT(concurrency-mt-unsafe)
    terminals_path = env ? env : ConfigDir() + "/terminals/demo.json";
  }
  auto terminals = service::LoadTerminals(terminals_path);
  if (!terminals.ok()) return Fail(terminals.status());

  auto seq_model = vision::SequenceModelFromJson(
      bio->pipeline->pack().manifest().value("sequence_liveness", json::object()));

  // Card accounts charge through a PaymentProvider. facepay ships no PSP integration, only the
  // simulated one (approves every capture, charges no real card): without it card accounts
  // are declined with "no_provider" instead of silently pretending to charge.
  std::unique_ptr<payments::PaymentProvider> provider;
  if (a.card_provider == "simulated") {
    provider = std::make_unique<payments::SimulatedProvider>();
  } else if (a.card_provider != "none") {
    return Fail(InvalidArgument("invalid_card_provider",
                                "--card-provider must be none or simulated, not '" +
                                    a.card_provider + "'"));
  }
  payments::SystemClock clock;
  payments::Ledger ledger(**ledger_store, clock, provider.get());

  // First start: no key at all -> one admin key, printed once.
  auto active = (*svc_store)->CountActiveKeys();
  if (!active.ok()) return Fail(active.status());
  if (*active == 0) {
    auto k = service::MakeApiKey(service::Role::kAdmin, {}, "first admin", 0, clock.NowMs());
    if (!k.ok()) return Fail(k.status());
    Status s = (*svc_store)->PutKey(k->record);
    if (!s.ok()) return Fail(s);
    std::cout << "facepay: first start: admin API key (shown once, store it now):\n"
              << k->token << "\n"
              << std::flush;
    service::AuditRecord rec{0, clock.NowMs(), "system", "key_create", k->record.key_id, "ok",
                             json{{"role", "admin"}, {"reason", "first start"}}.dump()};
    (void)(*svc_store)->AppendAudit(rec);
  }

  service::ServiceDeps deps;
  deps.pipeline = bio->pipeline.get();
  deps.sequence = seq_model.ok() ? &*seq_model : nullptr;
  deps.bio_store = bio->store.get();
  deps.gallery = bio->gallery.get();
  deps.template_key = &*key;
  deps.policy = bio->policy;
  deps.watchlist = watchlist->get();
  deps.ledger = &ledger;
  deps.store = svc_store->get();
  deps.clock = &clock;
  deps.terminals = std::move(*terminals);
  deps.border_hash_key = *border_key;
  service::ServiceOptions so;
  so.threads = a.threads;
  so.header_timeout_ms = a.header_timeout_ms;
  so.request_timeout_ms = a.request_timeout_ms;
  so.max_connections = a.max_connections;
  so.access_log = !a.no_access_log;
  so.default_rate_per_s = a.rate;
  so.tls_cert = a.tls_cert;
  so.tls_key = a.tls_key;
  so.keep_enrollment_images = a.keep_enrollment_images;
  auto svc = service::Service::Create(std::move(deps), so);
  if (!svc.ok()) return Fail(svc.status());
  auto port = (*svc)->Listen(a.host, a.port);
  if (!port.ok()) return Fail(port.status());

  biometrics::GalleryFollowerOptions fo;
  fo.interval_ms = a.follow_ms;
  biometrics::GalleryFollower follower(*bio->gallery, fo);
  follower.Start();
  biometrics::GalleryFollower watchlist_follower(**watchlist, fo);
  watchlist_follower.Start();

  const std::string scheme = a.tls_cert.empty() ? "http" : "https";
  std::cerr << "facepay: serving " << scheme << "://" << a.host << ":" << *port << " (store "
            << (*ledger_store)->Backend() << ", " << bio->gallery->subject_count()
            << " subjects, " << bio->gallery->template_count() << " templates"
            << (bio->gallery->load_report().from_snapshot ? ", from snapshot" : "")
            << (provider ? ", card provider " + provider->Name() : std::string())
            << (a.keep_enrollment_images ? ", keeping enrolment images" : "")
            << "); Ctrl-C stops\n";
  if (!a.port_file.empty()) {
    std::ofstream pf(a.port_file + ".tmp");
    pf << *port << "\n";
    pf.close();
    fs::rename(a.port_file + ".tmp", a.port_file, ec);
  }
  {
    std::lock_guard<std::mutex> lock(serving_mu);
    serving = svc->get();
  }
  (*svc)->Run();
  {
    std::lock_guard<std::mutex> lock(serving_mu);
    done = true;  // a late signal no longer touches the server
  }
  follower.Stop();
  watchlist_follower.Stop();
  if (!IsPostgres(loc)) {
    Status s = bio->gallery->SaveSnapshot();
    if (!s.ok()) std::cerr << "facepay: snapshot not saved: " << s.ToString() << "\n";
  }
  std::cerr << "facepay: stopped\n";
  return 0;
}

}  // namespace

void AddServiceCommands(CLI::App& app, int& exit_code) {
  auto sa = std::make_shared<ServeArgs>();
  auto* serve = app.add_subcommand("serve", "Run the HTTP service (API under /v1; see docs/api.md)");
  AddStoreArgs(serve, sa->where);
  serve->add_option("--host", sa->host, "Listen address (default 127.0.0.1)");
  serve->add_option("--port", sa->port, "Port (default 8080; 0 = any free port)");
  serve->add_option("--port-file", sa->port_file, "Write the bound port to this file");
  serve->add_option("--terminals", sa->terminals,
                    "Terminals config (default $FACEPAY_TERMINALS, else the checkout's "
                    "config/terminals/demo.json)");
  serve->add_option("--models", sa->models, "Model pack folder (default $FACEPAY_MODELS_DIR)");
  serve->add_option("--index", sa->index,
                    "Gallery index: Flat (exact, default) | HNSW32 | PCA128,HNSW48,RFlat (large "
                    "galleries of real faces; fits its projection on the enrolled templates at "
                    "start-up); Shards<N>: before any of them splits the gallery over N indexes "
                    "searched at once");
  serve->add_option("--ef-search", sa->ef_search,
                    "Search effort of an HNSW/IVF gallery index (efSearch / nprobe; default 64; "
                    "~384 for a million templates, docs/benchmarks.md)")
      ->check(CLI::Range(1, 4096));
  serve->add_option("--threads", sa->threads,
                    "Requests handled at once (default 8; each connection has its own thread)");
  serve->add_option("--header-timeout-ms", sa->header_timeout_ms,
                    "A request's headers must arrive within this of its first byte (default 10000)")
      ->check(CLI::Range(100, 600'000));
  serve->add_option("--request-timeout-ms", sa->request_timeout_ms,
                    "A request's body must arrive within this of its first byte (default 60000)")
      ->check(CLI::Range(100, 3'600'000));
  serve->add_option("--max-connections", sa->max_connections,
                    "Open connections at most; more get 503 at once (default 512)")
      ->check(CLI::Range(1, 65'536));
  serve->add_flag("--no-access-log", sa->no_access_log,
                  "No per-request access log line on stderr (on by default)");
  serve->add_option("--pipelines", sa->pipelines,
                    "Concurrent face analyses (default: one per core)");
  serve->add_option("--rate", sa->rate, "Default per-key rate limit, requests/s (default 100)");
  serve->add_option("--follow-ms", sa->follow_ms,
                    "How often to follow the template change log (default 250 ms)");
  serve->add_option("--tls-cert", sa->tls_cert, "TLS certificate (PEM); with --tls-key: HTTPS");
  serve->add_option("--tls-key", sa->tls_key, "TLS private key (PEM)");
  serve->add_option("--card-provider", sa->card_provider,
                    "Payment provider for card accounts: none (card payments declined with "
                    "no_provider) | simulated (approves every capture; demos only, no real card "
                    "is charged). Default none");
  serve->add_flag("--keep-enrollment-images", sa->keep_enrollment_images,
                  "Keep each enrolled template's source image, sealed with the template key, for "
                  "auditors (GET /v1/subjects/{id}/images/{template_id}); erased with the "
                  "subject. Default off: no raw image is stored");
  serve->callback([sa, &exit_code] { exit_code = Serve(*sa); });

  auto* keys = app.add_subcommand("keys", "API keys: create, list, revoke");
  keys->require_subcommand(1);
  auto ka = std::make_shared<StoreArgs>();
  auto role = std::make_shared<std::string>();
  auto bind = std::make_shared<std::string>();
  auto label = std::make_shared<std::string>();
  auto rate = std::make_shared<double>(0);
  auto* create = keys->add_subcommand("create", "Create a key; prints the token once");
  AddStoreArgs(create, *ka);
  create->add_option("--role", *role,
                     "admin | enroller | gate | merchant | atm | border | auditor")
      ->required();
  create->add_option("--bind", *bind, "Terminal ids the key acts for, comma-separated ('*' = all)");
  create->add_option("--label", *label, "Free text");
  create->add_option("--rate", *rate, "Requests/s for this key (0 = server default)");
  create->callback([=, &exit_code] {
    auto st = OpenServiceStoreAt(*ka);
    if (!st.ok()) return void(exit_code = Fail(st.status()));
    auto r = service::ParseRole(*role);
    if (!r.ok()) return void(exit_code = Fail(r.status()));
    payments::SystemClock clock;
    auto k = service::MakeApiKey(*r, SplitCommas(*bind), *label, *rate, clock.NowMs());
    if (!k.ok()) return void(exit_code = Fail(k.status()));
    Status s = (*st)->PutKey(k->record);
    if (!s.ok()) return void(exit_code = Fail(s));
    (void)(*st)->AppendAudit({0, clock.NowMs(), "cli", "key_create", k->record.key_id, "ok",
                              json{{"role", *role}, {"bindings", k->record.bindings}}.dump()});
    PrintJson({{"key_id", k->record.key_id},
               {"role", k->record.role},
               {"bindings", k->record.bindings},
               {"token", k->token}});
    std::cerr << "facepay: the token is shown once; send it as 'Authorization: Bearer <token>'\n";
  });
  auto* list = keys->add_subcommand("list", "List keys (never secrets)");
  auto la = std::make_shared<StoreArgs>();
  AddStoreArgs(list, *la);
  list->callback([=, &exit_code] {
    auto st = OpenServiceStoreAt(*la);
    if (!st.ok()) return void(exit_code = Fail(st.status()));
    auto all = (*st)->ListKeys();
    if (!all.ok()) return void(exit_code = Fail(all.status()));
    json out = json::array();
    for (const auto& k : *all) {
      out.push_back({{"key_id", k.key_id},
                     {"role", k.role},
                     {"bindings", k.bindings},
                     {"label", k.label},
                     {"rate_per_s", k.rate_per_s},
                     {"created_at_ms", k.created_at_ms},
                     {"revoked", k.revoked_at_ms != 0}});
    }
    PrintJson(out);
  });
  auto* revoke = keys->add_subcommand("revoke", "Revoke a key (takes effect within 1 s)");
  auto ra = std::make_shared<StoreArgs>();
  auto key_id = std::make_shared<std::string>();
  AddStoreArgs(revoke, *ra);
  revoke->add_option("key_id", *key_id, "Key id (the part before the dot)")->required();
  revoke->callback([=, &exit_code] {
    auto st = OpenServiceStoreAt(*ra);
    if (!st.ok()) return void(exit_code = Fail(st.status()));
    payments::SystemClock clock;
    Status s = (*st)->RevokeKey(*key_id, clock.NowMs());
    if (!s.ok()) return void(exit_code = Fail(s));
    (void)(*st)->AppendAudit({0, clock.NowMs(), "cli", "key_revoke", *key_id, "ok", "{}"});
    PrintJson({{"key_id", *key_id}, {"revoked", true}});
  });
}

}  // namespace facepay::cli
