// `facepay account|charge|refund|ledger|fares|bench ledger`: wiring of the payments module.
// JSON results on stdout; errors ("error: <reason>: <message>") and progress on stderr.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "facepay/payments/fare_config.h"
#include "facepay/payments/ledger.h"
#include "facepay/bench/ledger_bench.h"
#include "facepay/payments/result_json.h"
#include "facepay/storage/ledger_stores.h"

namespace facepay::cli {
namespace {

using nlohmann::json;
namespace p = facepay::payments;

struct Common {
  std::string store = "data/facepay.db";
};

int Fail(const Status& s) {
  std::cerr << "error: " << s.reason() << ": " << s.message() << "\n";
  return 1;
}

// Opens the store named by --store (creating data/ for the default SQLite file).
StatusOr<std::unique_ptr<p::LedgerStore>> Open(const Common& c) {
  if (c.store.rfind("postgres", 0) != 0) {
    auto parent = std::filesystem::path(c.store).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  }
  return storage::OpenLedgerStore(c.store);
}

void AddStoreOption(CLI::App* cmd, Common& c) {
  cmd->add_option("--store", c.store,
                  "SQLite file path or postgres:// URL (default data/facepay.db)");
}

// Runs `fn` with an open ledger; prints its JSON on success.
template <typename Fn>
int WithLedger(const Common& c, Fn fn) {
  auto store = Open(c);
  if (!store.ok()) return Fail(store.status());
  p::SystemClock clock;
  p::SimulatedProvider provider;  // card accounts in the CLI use the simulated provider
  p::Ledger ledger(**store, clock, &provider);
  StatusOr<json> out = fn(ledger);
  if (!out.ok()) return Fail(out.status());
  std::cout << out->dump(2) << "\n";
  return 0;
}

void AddAccountCommands(CLI::App& app, int& exit_code) {
  auto* account = app.add_subcommand("account", "Create, show and top up accounts");
  account->require_subcommand(1);

  auto c = std::make_shared<Common>();
  auto spec = std::make_shared<p::Account>();
  auto kind = std::make_shared<std::string>("stored_value");
  auto floor = std::make_shared<int64_t>(0);
  auto* create = account->add_subcommand("create", "Create an account");
  AddStoreOption(create, *c);
  create->add_option("--id", spec->id, "Account id ([A-Za-z0-9_.:-], up to 64)")->required();
  create->add_option("--kind", *kind, "stored_value|card|revenue|merchant|cash|clearing");
  create->add_option("--currency", spec->currency, "ISO 4217 code, e.g. EUR")->required();
  create->add_option("--floor", *floor, "Lowest balance allowed, minor units <= 0 (stored value)");
  create->add_option("--daily-limit", spec->daily_limit_minor, "Daily spend limit (0 = none)");
  create->add_option("--concession", spec->concession, "Fare concession class, e.g. senior");
  create->add_option("--card-token", spec->card_token, "Provider token (card / auto top-up)");
  create->add_option("--card-last4", spec->card_last4, "Last 4 digits (card accounts)");
  create->add_option("--card-brand", spec->card_brand, "Card brand (card accounts)");
  create->add_option("--auto-topup", spec->auto_topup_minor, "Auto top-up amount (0 = off)");
  create->add_option("--auto-topup-threshold", spec->auto_topup_threshold_minor,
                     "Top up when a charge would go below this");
  create->callback([=, &exit_code] {
    exit_code = WithLedger(*c, [&](p::Ledger& l) -> StatusOr<json> {
      p::Account a = *spec;
      FACEPAY_ASSIGN_OR_RETURN(a.kind, p::ParseAccountKind(*kind));
      if (a.kind == p::AccountKind::kStoredValue) a.floor_minor = *floor;
      FACEPAY_ASSIGN_OR_RETURN(p::Account made, l.CreateAccount(a));
      return p::AccountToJson(made);
    });
  });

  auto cs = std::make_shared<Common>();
  auto show_id = std::make_shared<std::string>();
  auto show_n = std::make_shared<int>(10);
  auto* show = account->add_subcommand("show", "Show an account and its recent transactions");
  AddStoreOption(show, *cs);
  show->add_option("--id", *show_id, "Account id")->required();
  show->add_option("--transactions", *show_n, "How many recent transactions (0..1000)")
      ->check(CLI::Range(0, 1000));
  show->callback([=, &exit_code] {
    exit_code = WithLedger(*cs, [&](p::Ledger& l) -> StatusOr<json> {
      FACEPAY_ASSIGN_OR_RETURN(p::Account a, l.GetAccount(*show_id));
      json j = p::AccountToJson(a);
      FACEPAY_ASSIGN_OR_RETURN(auto txns, l.store().ListTransactions(a.id, *show_n));
      j["transactions"] = json::array();
      for (const auto& t : txns) j["transactions"].push_back(p::TxnToJson(t));
      return j;
    });
  });

  auto ct = std::make_shared<Common>();
  auto top = std::make_shared<p::TopUpRequest>();
  top->source_id = "cash:desk";
  auto* topup = account->add_subcommand("topup", "Top up a stored-value account");
  AddStoreOption(topup, *ct);
  topup->add_option("--id", top->account_id, "Account id")->required();
  topup->add_option("--amount", top->amount_minor, "Amount in minor units")->required();
  topup->add_option("--currency", top->currency, "ISO 4217 code")->required();
  topup->add_option("--source", top->source_id, "Cash or clearing account (default cash:desk)");
  topup->add_option("--key", top->idempotency_key, "Idempotency key")->required();
  topup->callback([=, &exit_code] {
    exit_code = WithLedger(*ct, [&](p::Ledger& l) -> StatusOr<json> {
      FACEPAY_ASSIGN_OR_RETURN(p::ChargeResult r, l.TopUp(*top));
      return p::ChargeResultToJson(r);
    });
  });
}

void AddMoneyCommands(CLI::App& app, int& exit_code) {
  auto c = std::make_shared<Common>();
  auto req = std::make_shared<p::ChargeRequest>();
  auto kind = std::make_shared<std::string>("charge");
  auto* charge = app.add_subcommand("charge", "Charge a customer account (idempotent by --key)");
  AddStoreOption(charge, *c);
  charge->add_option("--account", req->account_id, "Customer account")->required();
  charge->add_option("--payee", req->payee_id, "Revenue or merchant account")->required();
  charge->add_option("--amount", req->amount_minor, "Amount in minor units")->required();
  charge->add_option("--currency", req->currency, "ISO 4217 code")->required();
  charge->add_option("--key", req->idempotency_key, "Idempotency key (event / order id)")
      ->required();
  charge->add_option("--kind", *kind, "charge|purchase|fare");
  charge->add_option("--memo", req->memo, "Free text (order id, gate)");
  charge->callback([=, &exit_code] {
    exit_code = WithLedger(*c, [&](p::Ledger& l) -> StatusOr<json> {
      p::ChargeRequest r = *req;
      FACEPAY_ASSIGN_OR_RETURN(r.kind, p::ParseTxnKind(*kind));
      FACEPAY_ASSIGN_OR_RETURN(p::ChargeResult res, l.Charge(r));
      return p::ChargeResultToJson(res);
    });
  });

  auto cr = std::make_shared<Common>();
  auto rr = std::make_shared<p::RefundRequest>();
  auto* refund = app.add_subcommand("refund", "Refund (part of) a charge, fare or purchase");
  AddStoreOption(refund, *cr);
  refund->add_option("--txn", rr->original_txn_id, "Original transaction id")->required();
  refund->add_option("--amount", rr->amount_minor, "Amount (default: all that is left)");
  refund->add_option("--key", rr->idempotency_key, "Idempotency key")->required();
  refund->add_option("--memo", rr->memo, "Reason");
  refund->callback([=, &exit_code] {
    exit_code = WithLedger(*cr, [&](p::Ledger& l) -> StatusOr<json> {
      FACEPAY_ASSIGN_OR_RETURN(p::ChargeResult res, l.Refund(*rr));
      return p::ChargeResultToJson(res);
    });
  });

  auto cl = std::make_shared<Common>();
  auto* ledger = app.add_subcommand("ledger", "Ledger maintenance");
  ledger->require_subcommand(1);
  auto* check =
      ledger->add_subcommand("check", "Verify entries balance and balances match entries");
  AddStoreOption(check, *cl);
  check->callback([=, &exit_code] {
    bool ok = false;
    exit_code = WithLedger(*cl, [&](p::Ledger& l) -> StatusOr<json> {
      FACEPAY_ASSIGN_OR_RETURN(p::IntegrityReport rep, l.CheckIntegrity());
      ok = rep.ok();
      return p::IntegrityToJson(rep);
    });
    if (exit_code == 0 && !ok) {
      std::cerr << "error: ledger_integrity: the ledger does not balance (see report)\n";
      exit_code = 1;
    }
  });

  auto path = std::make_shared<std::string>("config/fares/metro.json");
  auto* fares = app.add_subcommand("fares", "Transit fare rules");
  fares->require_subcommand(1);
  auto* fshow = fares->add_subcommand("show", "Validate a fare config file and print it");
  fshow->add_option("--config", *path, "Fare config JSON (default config/fares/metro.json)");
  fshow->callback([=, &exit_code] {
    auto cfg = p::LoadFareConfig(*path);
    if (!cfg.ok()) {
      exit_code = Fail(cfg.status());
      return;
    }
    std::cout << p::FareConfigToJson(*cfg) << "\n";
    exit_code = 0;
  });
}

void AddBenchCommand(CLI::App& app, int& exit_code) {
  // `bench` may already exist (other command groups add their own benchmarks to it).
  auto found = app.get_subcommands([](CLI::App* s) { return s->get_name() == "bench"; });
  CLI::App* bench = found.empty() ? app.add_subcommand("bench", "Benchmarks") : found.front();
  bench->require_subcommand(1);
  auto c = std::make_shared<Common>();
  c->store = "data/bench-ledger.db";
  auto o = std::make_shared<p::LedgerBenchOptions>();
  auto threads = std::make_shared<std::vector<int>>(std::vector<int>{1, 8});
  auto max_batch = std::make_shared<int>(256);
  o->charges = 20000;
  auto* cmd = bench->add_subcommand("ledger", "Durable charges/s and latency (group commit)");
  AddStoreOption(cmd, *c);
  cmd->add_option("--threads", *threads, "Client thread counts to run (default 1 8)");
  cmd->add_option("--inflight", o->inflight, "Charges each client keeps outstanding (default 1)");
  cmd->add_option("--charges", o->charges, "Charges per run (default 20000)");
  cmd->add_option("--accounts", o->accounts, "Customer accounts (default 1000)");
  cmd->add_option("--max-batch", *max_batch, "Most charges per commit (default 256)");
  cmd->callback([=, &exit_code] {
    storage::StoreOptions so;
    so.max_batch = *max_batch;
    auto store = storage::OpenLedgerStore(c->store, so);
    if (!store.ok()) {
      exit_code = Fail(store.status());
      return;
    }
    json runs = json::array();
    const auto stamp = std::chrono::system_clock::now().time_since_epoch().count();
    for (int t : *threads) {
      p::LedgerBenchOptions run = *o;
      run.threads = t;
      run.run_id = "bench" + std::to_string(stamp) + "t" + std::to_string(t);
      std::cerr << "bench ledger: " << (*store)->Backend() << ", " << t << " thread(s) x "
                << run.inflight << " in flight, " << run.charges << " charges...\n";
      auto r = p::RunLedgerBench(**store, run);
      if (!r.ok()) {
        exit_code = Fail(r.status());
        return;
      }
      runs.push_back({{"backend", r->backend},
                      {"threads", r->threads},
                      {"inflight_per_thread", r->inflight},
                      {"charges", r->charges},
                      {"seconds", r->seconds},
                      {"charges_per_s", r->charges_per_s},
                      {"p50_ms", r->p50_ms},
                      {"p99_ms", r->p99_ms},
                      {"max_ms", r->max_ms},
                      {"integrity_ok", r->integrity_ok}});
    }
    std::cout << json{{"bench", "ledger"},
                      {"durable", true},
                      {"max_batch", *max_batch},
                      {"runs", runs}}
                     .dump(2)
              << "\n";
    exit_code = 0;
  });
}

}  // namespace

void AddPaymentsCommands(CLI::App& app, int& exit_code) {
  AddAccountCommands(app, exit_code);
  AddMoneyCommands(app, exit_code);
  AddBenchCommand(app, exit_code);
}

}  // namespace facepay::cli
