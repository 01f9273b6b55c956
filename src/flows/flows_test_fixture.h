// The fixture of the flows' unit tests: real stores (a SQLite file in a temp dir, or a fresh
// PostgreSQL database) opened by the storage factories, a real gallery and ledger, a manual
// clock, and sinks that record. Probes are edge probes with chosen embeddings, so the tests
// need no model pack and decide exactly where the policy's thresholds say.
#pragma once

#include <gtest/gtest.h>
#include <sodium.h>

#include <cmath>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "facepay/biometrics/secret_hash.h"
#include "facepay/flows/flow_deps.h"
#include "facepay/flows/probe.h"
#include "facepay/storage/biometric_stores.h"
#include "facepay/storage/ledger_stores.h"
#include "facepay/storage/service_stores.h"
#include "test_location.h"

namespace facepay::flows::testing {

inline constexpr int64_t kStartMs = 1'700'000'000'000;
inline constexpr int kDim = 512;

class RecordingAudit final : public AuditSink {
 public:
  struct Entry {
    std::string actor, terminal, action, target, outcome;
    int64_t at_ms;
    nlohmann::json detail;
  };
  void Audit(const Caller& who, int64_t at_ms, const std::string& action, const std::string& target,
             const std::string& outcome, nlohmann::json detail) override {
    std::lock_guard lock(mu_);
    entries_.push_back({who.actor, who.terminal, action, target, outcome, at_ms, std::move(detail)});
  }
  std::vector<Entry> Of(const std::string& action) {
    std::lock_guard lock(mu_);
    std::vector<Entry> out;
    for (const auto& e : entries_) {
      if (e.action == action) out.push_back(e);
    }
    return out;
  }

 private:
  std::mutex mu_;  // guards entries_
  std::vector<Entry> entries_;
};

class RecordingCounter final : public DecisionCounter {
 public:
  void CountDecision(const std::string& flow, const std::string& outcome,
                     const std::string& reason) override {
    std::lock_guard lock(mu_);
    counts_.push_back(flow + "/" + outcome + "/" + reason);
  }
  size_t Count(const std::string& key) {
    std::lock_guard lock(mu_);
    return static_cast<size_t>(std::count(counts_.begin(), counts_.end(), key));
  }

 private:
  std::mutex mu_;  // guards counts_
  std::vector<std::string> counts_;
};

class FlowsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    auto loc = facepay::testing::TestLocation::Create(GetParam(), "flows.db");
    ASSERT_TRUE(loc.ok()) << loc.status().ToString();
    loc_ = std::move(*loc);
    auto ls = storage::OpenLedgerStore(loc_->location());
    ASSERT_TRUE(ls.ok()) << ls.status().ToString();
    ledger_store_ = std::move(*ls);
    auto bs = storage::OpenBiometricStore(loc_->location());
    ASSERT_TRUE(bs.ok()) << bs.status().ToString();
    bio_store_ = std::move(*bs);
    auto ss = storage::OpenServiceStore(loc_->location());
    ASSERT_TRUE(ss.ok()) << ss.status().ToString();
    store_ = std::move(*ss);
    biometrics::GalleryOptions go;
    go.model_id = "test-model";
    go.dim = kDim;
    go.init_key_check = true;
    auto g = biometrics::Gallery::Open(*bio_store_, key_, go);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    gallery_ = std::move(*g);
    ledger_ = std::make_unique<payments::Ledger>(*ledger_store_, clock_, nullptr);

    terminals_.currency = "EUR";
    terminals_.fares.operator_id = "metro";
    terminals_.fares.revenue_account = "revenue:metro";
    terminals_.fares.currency = "EUR";
    terminals_.fares.flat_fare_minor = 250;
    GateConfig gate;
    gate.id = "g1";
    gate.station = "central";
    gate.gate_group = "central";
    terminals_.gates["g1"] = gate;
    terminals_.tills["t1"] = TillConfig{"t1", "shop:bakery", std::nullopt};
    MakeAccount("revenue:metro", payments::AccountKind::kRevenue);
    MakeAccount("shop:bakery", payments::AccountKind::kMerchant);
    MakeAccount("cash:desk", payments::AccountKind::kCash);
    transit_ = std::make_unique<payments::TransitService>(*ledger_, terminals_.fares);

    deps_.bio_store = bio_store_.get();
    deps_.gallery = gallery_.get();
    deps_.template_key = &key_;
    deps_.ledger = ledger_.get();
    deps_.transit = transit_.get();
    deps_.store = store_.get();
    deps_.clock = &clock_;
    deps_.terminals = &terminals_;
    deps_.audit = &audit_;
    deps_.counter = &counter_;
  }
  void TearDown() override {
    gallery_.reset();
    transit_.reset();
    ledger_.reset();
    store_.reset();
    bio_store_.reset();
    ledger_store_.reset();
    loc_.reset();
  }

  void MakeAccount(const std::string& id, payments::AccountKind kind) {
    payments::Account a;
    a.id = id;
    a.kind = kind;
    a.currency = "EUR";
    if (kind == payments::AccountKind::kStoredValue) a.floor_minor = 0;
    auto made = ledger_->CreateAccount(a);
    ASSERT_TRUE(made.ok()) << id << ": " << made.status().ToString();
  }
  // A random unit embedding (fixed seed: the same every run).
  vision::Embedding RandomUnit() {
    std::normal_distribution<float> n(0, 1);
    vision::Embedding e(kDim);
    double n2 = 0;
    for (float& v : e) {
      v = n(rng_);
      n2 += double(v) * v;
    }
    for (float& v : e) v = static_cast<float>(v / std::sqrt(n2));
    return e;
  }
  // A unit embedding whose cosine with (unit) `e` is `cosine`.
  vision::Embedding Near(const vision::Embedding& e, float cosine) {
    vision::Embedding u = RandomUnit();
    double dot = 0;
    for (int i = 0; i < kDim; ++i) dot += double(u[i]) * e[i];
    double n2 = 0;
    for (int i = 0; i < kDim; ++i) {
      u[i] = static_cast<float>(u[i] - dot * e[i]);
      n2 += double(u[i]) * u[i];
    }
    const double s = std::sqrt(1.0 - double(cosine) * cosine) / std::sqrt(n2);
    vision::Embedding out(kDim);
    for (int i = 0; i < kDim; ++i) out[i] = static_cast<float>(cosine * e[i] + s * u[i]);
    return out;
  }
  // Enrols `id` with one template, a PIN, and a funded stored-value account linked to it.
  vision::Embedding EnrolPayer(const std::string& id, const std::string& pin, int64_t balance) {
    vision::Embedding e = RandomUnit();
    biometrics::Subject s;
    s.id = id;
    s.consent = {"v1", clock_.NowMs(), "kiosk"};
    s.created_at_ms = clock_.NowMs();
    auto h = biometrics::HashSecret(pin, key_.SecondFactorPepper());
    EXPECT_TRUE(h.ok());
    s.pin_hash = *h;
    auto t = gallery_->Enroll(s, {{e, 0.9f, ""}}, clock_.NowMs());
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    const std::string account = "acct:" + id;
    MakeAccount(account, payments::AccountKind::kStoredValue);
    payments::TopUpRequest top{"open-" + id, account, "cash:desk", balance, "EUR"};
    EXPECT_TRUE(ledger_->TopUp(top).ok());
    EXPECT_TRUE(store_->LinkSubject(id, account).ok());
    return e;
  }
  static Sighting EdgeSighting(const vision::Embedding& e) {
    Probe p;
    p.state = biometrics::ProbeState::kOk;
    p.embedding = e;
    p.face_frames = 1;
    p.liveness = 1;
    p.liveness_mode = "edge";
    Sighting s;
    s.edge = p;
    return s;
  }
  int64_t Balance(const std::string& account) {
    auto a = ledger_->GetAccount(account);
    EXPECT_TRUE(a.ok());
    return a.ok() ? a->balance_minor : -1;
  }

  std::mt19937 rng_{20240611};
  payments::ManualClock clock_{kStartMs};
  biometrics::TemplateKey key_ = biometrics::TemplateKey::Generate();
  std::unique_ptr<facepay::testing::TestLocation> loc_;
  std::unique_ptr<payments::LedgerStore> ledger_store_;
  std::unique_ptr<biometrics::BiometricStore> bio_store_;
  std::unique_ptr<FlowStore> store_;
  std::unique_ptr<biometrics::Gallery> gallery_;
  std::unique_ptr<payments::Ledger> ledger_;
  std::unique_ptr<payments::TransitService> transit_;
  Terminals terminals_;
  RecordingAudit audit_;
  RecordingCounter counter_;
  FlowDeps deps_;
};

}  // namespace facepay::flows::testing
