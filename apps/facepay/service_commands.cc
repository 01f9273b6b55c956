// facepay serve (the HTTP service) and facepay keys (API keys).
#include <signal.h>
#include <sodium.h>

#include <cstdlib>
#include <mutex>
#include <optional>
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
#include "facepay/service/pairing.h"
#include "facepay/service/terminals.h"
#include "facepay/node/node.h"
#include "facepay/service/service.h"
#include "facepay/storage/biometric_stores.h"
#include "facepay/storage/ledger_stores.h"
#include "facepay/storage/service_stores.h"

namespace facepay::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

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
  int header_timeout_ms = 10'000, request_timeout_ms = 60'000, max_connections = 512,
      max_connections_per_address = 128;
  bool no_access_log = false;
  int pipelines = 0;
  double rate = 100;
  int follow_ms = 250;
  std::string tls_cert, tls_key;
  std::string card_provider = "none";
  bool keep_enrollment_images = false;
  std::string web_dir = WebDir();
  flows::OfflineLimits offline;
  std::string fixed_challenge_order;
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
  node::Node* serving = nullptr;
  bool done = false;
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::lock_guard<std::mutex> lock(serving_mu);
    if (done) return;
    node::Node* s = serving;
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

  node::NodeConfig nc;
  nc.data_dir = a.where.data;
  nc.store = a.where.store;
  nc.models = a.models;
  nc.terminals = a.terminals;
  nc.index = a.index;
  nc.ef_search = a.ef_search;
  nc.pipelines = ResolveThreads(a.pipelines);
  ConfigureThreads(nc.pipelines);
  nc.card_provider = a.card_provider;
  nc.follow_ms = a.follow_ms;
  service::ServiceOptions& so = nc.service;
  so.threads = a.threads;
  so.header_timeout_ms = a.header_timeout_ms;
  so.request_timeout_ms = a.request_timeout_ms;
  so.max_connections = a.max_connections;
  so.max_connections_per_address = a.max_connections_per_address;
  so.access_log = !a.no_access_log;
  so.default_rate_per_s = a.rate;
  so.tls_cert = a.tls_cert;
  so.tls_key = a.tls_key;
  so.keep_enrollment_images = a.keep_enrollment_images;
  so.web_dir = a.web_dir == "none" ? "" : a.web_dir;
  if (!so.web_dir.empty() && a.web_dir == WebDir() && !fs::is_directory(so.web_dir)) {
    // The default folder (an installed binary far from a checkout): the API alone, said loudly.
    std::cerr << "facepay: warning: no pages folder at " << so.web_dir
              << "; serving the API only (--web-dir DIR or $FACEPAY_WEB_DIR)\n";
    so.web_dir.clear();
  }
  so.offline_limits = a.offline;
  std::optional<flows::FixedChallengeOrder> fixed_order;
  if (!a.fixed_challenge_order.empty()) {
    auto order = flows::ParseChallengeOrder(a.fixed_challenge_order);
    if (!order.ok()) return Fail(order.status());
    fixed_order.emplace(*order);
    nc.challenge_order = &*fixed_order;
    std::cerr << "facepay: WARNING: every active liveness challenge asks for the same order ("
              << a.fixed_challenge_order
              << "): a recorded video can pass it. For tests and demos only, never at a real "
                 "kiosk (--fixed-challenge-order)\n";
  }
  service::InstallCrashLog();
  auto node = node::Node::Open(std::move(nc));
  if (!node.ok()) return Fail(node.status());
  if (!(*node)->first_admin_token().empty()) {
    std::cout << "facepay: first start: admin API key (shown once, store it now):\n"
              << (*node)->first_admin_token() << "\n"
              << std::flush;
  }
  auto port = (*node)->Listen(a.host, a.port);
  if (!port.ok()) return Fail(port.status());
  const std::string scheme = a.tls_cert.empty() ? "http" : "https";
  std::cerr << "facepay: serving " << scheme << "://" << a.host << ":" << *port << " ("
            << (*node)->Summary() << "); Ctrl-C stops\n";
  if (!a.port_file.empty()) {
    std::error_code ec;
    std::ofstream pf(a.port_file + ".tmp");
    pf << *port << "\n";
    pf.close();
    fs::rename(a.port_file + ".tmp", a.port_file, ec);
  }
  {
    std::lock_guard<std::mutex> lock(serving_mu);
    serving = node->get();
  }
  (*node)->Run();
  {
    std::lock_guard<std::mutex> lock(serving_mu);
    done = true;  // a late signal no longer touches the server
  }
  Status closed = (*node)->Close();
  if (!closed.ok()) std::cerr << "facepay: " << closed.ToString() << "\n";
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
  serve->add_option("--max-connections-per-address", sa->max_connections_per_address,
                    "Open connections one client address may hold; more get 503 (default 128)")
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
  serve->add_option("--offline-person-per-day", sa->offline.per_person_per_day,
                    "Edge gates: offline passages of one person at one gate settled per day "
                    "(default 4; more are refused as over_limit)")
      ->check(CLI::Range(0, 1'000'000));
  serve->add_option("--offline-gate-per-day", sa->offline.per_gate_per_day,
                    "Edge gates: offline passages of one gate settled per day (default 5000)")
      ->check(CLI::Range(0, 100'000'000));
  serve->add_option("--web-dir", sa->web_dir,
                    "The terminal screens and dashboard (default $FACEPAY_WEB_DIR, else the "
                    "checkout's web/); 'none' serves the API only");
  serve->add_flag("--keep-enrollment-images", sa->keep_enrollment_images,
                  "Keep each enrolled template's source image, sealed with the template key, for "
                  "auditors (GET /v1/subjects/{id}/images/{template_id}); erased with the "
                  "subject. Default off: no raw image is stored");
  serve->add_option("--fixed-challenge-order", sa->fixed_challenge_order,
                    "TESTS AND DEMOS ONLY: every kiosk's active liveness challenge asks for this "
                    "order (e.g. blink), so that a recorded video can answer it; warned at "
                    "start. Default: a random order per challenge");
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
  // facepay pairing create: a one-time code a terminal screen exchanges for its own key.
  auto* pairing = app.add_subcommand("pairing", "Terminal pairing codes (docs/terminals.md)");
  auto pa = std::make_shared<StoreArgs>();
  auto kind = std::make_shared<std::string>();
  auto tid = std::make_shared<std::string>();
  auto terminals = std::make_shared<std::string>();
  auto ttl_s = std::make_shared<int>(300);
  auto* pcreate = pairing->add_subcommand("create", "A one-time pairing code for a terminal screen");
  AddStoreArgs(pcreate, *pa);
  pcreate->add_option("--kind", *kind, "gate | till | atm | border | kiosk")->required();
  pcreate->add_option("--id", *tid, "The terminal's id (a kiosk: a name for the desk)")->required();
  pcreate->add_option("--terminals", *terminals,
                      "Terminals config (default $FACEPAY_TERMINALS, else the demo config)");
  pcreate->add_option("--ttl-s", *ttl_s, "Seconds the code lives (default 300)")
      ->check(CLI::Range(1, 900));
  pcreate->callback([=, &exit_code] {
    auto st = OpenServiceStoreAt(*pa);
    if (!st.ok()) return void(exit_code = Fail(st.status()));
    const std::string path = terminals->empty()
                                 ? GetEnvOr("FACEPAY_TERMINALS", ConfigDir() + "/terminals/demo.json")
                                 : *terminals;
    auto t = service::LoadTerminals(path);
    if (!t.ok()) return void(exit_code = Fail(t.status()));
    payments::SystemClock clock;
    auto code = service::CreatePairingCode(**st, *t, {*kind, *tid}, int64_t{*ttl_s} * 1000, clock.NowMs());
    if (!code.ok()) return void(exit_code = Fail(code.status()));
    (void)(*st)->AppendAudit({0, clock.NowMs(), "cli", "pairing_code_create", *tid, "ok",
                              json{{"kind", *kind}, {"role", code->role}}.dump()});
    PrintJson({{"code", code->code}, {"kind", *kind}, {"id", *tid}, {"role", code->role},
               {"expires_at_ms", code->expires_at_ms}});
    std::cerr << "facepay: enter the code on the terminal's screen within " << *ttl_s
              << " s; it works once\n";
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
