// Transit taps through the ledger on both stores: scripted journeys with expected charges,
// balances and fare state surviving in the store.
#include "facepay/payments/transit.h"

#include "ledger_test_fixture.h"

namespace facepay::payments {
namespace {

constexpr int64_t kMin = 60 * 1000;
constexpr int64_t kHour = 60 * kMin;

class TransitTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (HasFatalFailure()) return;
    auto c = LoadFareConfig(std::string(FACEPAY_SOURCE_DIR) + "/config/fares/metro.json");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    transit_ = std::make_unique<TransitService>(*ledger_, *c);
  }
  TapResult Tap(const std::string& event, const std::string& acct, const std::string& group) {
    auto r = transit_->Tap({event, acct, group + "-1", group, "", TapDirection::kEntry});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : TapResult{};
  }
  std::unique_ptr<TransitService> transit_;
};

TEST_P(TransitTest, ScriptedDayChargesFareTransferCapAndPassback) {
  Wallet("rider", 2000);
  struct Step {
    int64_t advance_ms;
    std::string group;
    int64_t fare;
    std::string reason;
    bool open;
  };
  const std::vector<Step> day = {
      {0, "north", 250, "flat_fare", true},
      {30 * 1000, "north", 0, "anti_passback", false},  // seen again at the same gates
      {40 * kMin, "south", 0, "transfer", true},        // inside the 90 min window
      {3 * kHour, "east", 250, "flat_fare", true},
      {3 * kHour, "west", 200, "daily_cap", true},  // cap 700 reached mid-day
      {3 * kHour, "north", 0, "daily_cap", true},
  };
  int64_t charged = 0;
  for (size_t i = 0; i < day.size(); ++i) {
    clock_.AdvanceMs(day[i].advance_ms);
    TapResult r = Tap("evt-" + std::to_string(i), "rider", day[i].group);
    EXPECT_EQ(r.fare_minor, day[i].fare) << "step " << i;
    EXPECT_EQ(r.reason, day[i].reason) << "step " << i;
    EXPECT_EQ(r.open_gate, day[i].open) << "step " << i;
    charged += r.fare_minor;
  }
  EXPECT_EQ(charged, 700);
  EXPECT_EQ(Balance("rider"), 2000 - 700);
  EXPECT_EQ(Balance("metro:revenue"), 700);
  ExpectClean();
}

TEST_P(TransitTest, RepeatedGateEventReplaysWithoutChargingTwice) {
  Wallet("rider", 1000);
  TapResult first = Tap("gate-evt-1", "rider", "north");
  EXPECT_EQ(first.fare_minor, 250);
  TapResult again = Tap("gate-evt-1", "rider", "north");
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.fare_minor, 250);
  EXPECT_EQ(again.txn_id, first.txn_id);
  EXPECT_EQ(Balance("rider"), 750);
}

TEST_P(TransitTest, SeniorRidesFree) {
  Account a = System("grandma", AccountKind::kStoredValue);
  a.floor_minor = 0;
  a.concession = "senior";
  ASSERT_TRUE(ledger_->CreateAccount(a).ok());
  TapResult r = Tap("e1", "grandma", "north");
  EXPECT_TRUE(r.open_gate);
  EXPECT_EQ(r.fare_minor, 0);
  EXPECT_EQ(r.full_fare_minor, 250);
  EXPECT_EQ(r.reason, "concession");
  EXPECT_EQ(Balance("grandma"), 0);
}

TEST_P(TransitTest, DeclinedFareKeepsTheGateClosedAndTheFareStateUnchanged) {
  Wallet("poor", 100);
  TapResult r = Tap("e1", "poor", "north");
  EXPECT_TRUE(r.declined);
  EXPECT_FALSE(r.open_gate);
  EXPECT_EQ(r.reason, "insufficient_funds");
  ASSERT_TRUE(ledger_->TopUp({"top-2", "poor", "cash:desk", 1000, "EUR"}).ok());
  clock_.AdvanceMs(10 * 1000);
  // Not a passback and not a transfer: the declined tap did not count as a journey.
  TapResult ok = Tap("e2", "poor", "north");
  EXPECT_EQ(ok.fare_minor, 250);
  EXPECT_EQ(ok.reason, "flat_fare");
  EXPECT_EQ(Balance("poor"), 850);
}

TEST_P(TransitTest, DistanceFareChargedAtExit) {
  auto c = LoadFareConfig(std::string(FACEPAY_SOURCE_DIR) + "/config/fares/rail-distance.json");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(ledger_->CreateAccount(System("rail:revenue", AccountKind::kRevenue)).ok());
  TransitService rail(*ledger_, *c);
  Wallet("trav", 2000);
  auto in = rail.Tap({"r1", "trav", "central-g1", "central", "central", TapDirection::kEntry});
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->fare_minor, 0);
  EXPECT_EQ(in->reason, "entry_recorded");
  clock_.AdvanceMs(25 * kMin);
  auto out = rail.Tap({"r2", "trav", "airport-g1", "airport", "airport", TapDirection::kExit});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->fare_minor, 150 + 3 * 60);
  EXPECT_EQ(Balance("trav"), 2000 - 330);
  EXPECT_EQ(Balance("rail:revenue"), 330);
}

FACEPAY_INSTANTIATE_STORE_TEST(TransitTest);

}  // namespace
}  // namespace facepay::payments
