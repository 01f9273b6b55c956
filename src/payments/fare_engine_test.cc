// Fare rules on scripted journeys: each step is a tap at a time, with the expected charge.
#include "facepay/payments/fare_engine.h"

#include <gtest/gtest.h>

#include <vector>

namespace facepay::payments {
namespace {

constexpr int64_t kMonday0600 = 1794808800000;  // Monday 2026-11-16 06:00 UTC
constexpr int64_t kMin = 60 * 1000;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kDay = 24 * kHour;

FareConfig Metro() {
  auto c = ParseFareConfig(R"({
    "operator": "metro", "currency": "EUR", "service_day_start_s": 14400,
    "flat": {"fare_minor": 250},
    "transfer": {"window_s": 5400, "fare_minor": 0, "max_transfers": 1},
    "caps": {"daily_minor": 700, "weekly_minor": 2800},
    "concessions": {"senior": {"percent_off": 100}, "student": {"percent_off": 50}},
    "anti_passback_s": 120})");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return *c;
}

FareConfig Rail() {
  auto c = ParseFareConfig(R"({
    "operator": "rail", "currency": "EUR",
    "distance": {"base_minor": 150, "per_zone_minor": 60, "max_minor": 450,
                 "stations": {"central": 1, "harbour": 2, "airport": 4, "university": 3}},
    "anti_passback_s": 60})");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return *c;
}

struct Step {
  int64_t at_ms;
  std::string gate_group;
  TapDirection dir;
  std::string station;
  int64_t expect_minor;
  std::string expect_reason;
};

// Runs the journey, checking each step, and returns the total charged.
int64_t Ride(const FareConfig& c, const std::string& concession, const std::vector<Step>& steps) {
  FareState s;
  int64_t total = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& st = steps[i];
    auto d = EvaluateFare(c, concession, s, {"gate", st.gate_group, st.station, st.dir, st.at_ms});
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    if (!d.ok()) return -1;
    EXPECT_EQ(d->amount_minor, st.expect_minor) << "step " << i;
    EXPECT_EQ(d->reason, st.expect_reason) << "step " << i;
    total += d->amount_minor;
    s = d->new_state;
  }
  return total;
}

constexpr auto kIn = TapDirection::kEntry;
constexpr auto kOut = TapDirection::kExit;

TEST(FareEngine, TransferInsideWindowIsFreeAndOutsideIsFullFare) {
  int64_t t = kMonday0600;
  EXPECT_EQ(Ride(Metro(), "",
                 {{t, "A", kIn, "", 250, "flat_fare"},
                  {t + 40 * kMin, "B", kIn, "", 0, "transfer"},     // inside 90 min
                  {t + 80 * kMin, "C", kIn, "", 250, "flat_fare"},  // 1 transfer max
                  // outside the window: a new full fare, here capped at 700 - 500
                  {t + 80 * kMin + 91 * kMin, "A", kIn, "", 200, "daily_cap"}}),
            700);
}

TEST(FareEngine, DailyCapReachedMidDayNeverChargesAboveTheCap) {
  int64_t t = kMonday0600;
  EXPECT_EQ(Ride(Metro(), "",
                 {{t, "A", kIn, "", 250, "flat_fare"},
                  {t + 2 * kHour, "B", kIn, "", 250, "flat_fare"},
                  {t + 4 * kHour, "C", kIn, "", 200, "daily_cap"},  // 700 - 500
                  {t + 6 * kHour, "D", kIn, "", 0, "daily_cap"},
                  {t + 8 * kHour, "E", kIn, "", 0, "daily_cap"},
                  // next service day (starts 04:00 UTC) pays again
                  {t + 22 * kHour + 30 * kMin, "A", kIn, "", 250, "flat_fare"}}),
            950);
}

TEST(FareEngine, ServiceDayStartsAtConfiguredHourNotMidnight) {
  // 03:30 UTC Tuesday still belongs to Monday's service day (starts 04:00).
  int64_t t = kMonday0600;
  EXPECT_EQ(Ride(Metro(), "",
                 {{t, "A", kIn, "", 250, "flat_fare"},
                  {t + 3 * kHour, "B", kIn, "", 250, "flat_fare"},
                  {t + 21 * kHour + 30 * kMin, "C", kIn, "", 200, "daily_cap"},
                  {t + 23 * kHour + 30 * kMin, "D", kIn, "", 250, "flat_fare"}}),
            950);
}

TEST(FareEngine, WeeklyCapStopsChargingForTheRestOfTheWeek) {
  std::vector<Step> steps;
  int64_t total_expected = 0;
  for (int day = 0; day < 7; ++day) {
    for (int ride = 0; ride < 3; ++ride) {
      int64_t at = kMonday0600 + day * kDay + ride * 2 * kHour;
      // days 0-3: 250, 250, 200 (daily cap 700) -> 2800 after Thursday = weekly cap
      int64_t amount = day < 4 ? (ride < 2 ? 250 : 200) : 0;
      std::string reason = day < 4 ? (ride < 2 ? "flat_fare" : "daily_cap") : "weekly_cap";
      std::string group(1,
                        static_cast<char>('A' + ride));  // (GCC 12 -Wrestrict misfires on "G" + s)
      steps.push_back({at, group, kIn, "", amount, reason});
      total_expected += amount;
    }
  }
  steps.push_back({kMonday0600 + 7 * kDay, "A", kIn, "", 250, "flat_fare"});  // new week
  EXPECT_EQ(total_expected, 2800);
  EXPECT_EQ(Ride(Metro(), "", steps), 2800 + 250);
}

TEST(FareEngine, SeniorsRideFreeAndStudentsPayHalf) {
  int64_t t = kMonday0600;
  EXPECT_EQ(
      Ride(Metro(), "senior",
           {{t, "A", kIn, "", 0, "concession"}, {t + 3 * kHour, "B", kIn, "", 0, "concession"}}),
      0);
  EXPECT_EQ(Ride(Metro(), "student",
                 {{t, "A", kIn, "", 125, "flat_fare"},
                  {t + 3 * kHour, "B", kIn, "", 125, "flat_fare"},
                  {t + 6 * kHour, "C", kIn, "", 125, "flat_fare"},
                  {t + 9 * kHour, "D", kIn, "", 125, "flat_fare"},
                  {t + 12 * kHour, "E", kIn, "", 125, "flat_fare"},
                  {t + 15 * kHour, "F", kIn, "", 75, "daily_cap"}}),
            700);
}

TEST(FareEngine, AntiPassbackRefusesTheSameRiderAtTheSameGateGroupWithoutCharging) {
  FareConfig c = Metro();
  FareState s;
  int64_t t = kMonday0600;
  auto first = EvaluateFare(c, "", s, {"g1", "north", "", kIn, t});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->amount_minor, 250);
  auto again = EvaluateFare(c, "", first->new_state, {"g2", "north", "", kIn, t + 30 * 1000});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->kind, FareKind::kPassback);
  EXPECT_EQ(again->amount_minor, 0);
  EXPECT_EQ(again->reason, "anti_passback");
  // Repeated attempts do not extend the window; after 120 s the rider may enter (a transfer).
  auto later = EvaluateFare(c, "", again->new_state, {"g1", "north", "", kIn, t + 121 * 1000});
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->kind, FareKind::kNoCharge);
  EXPECT_EQ(later->reason, "transfer");
  // Another gate group at once is not passback.
  auto other = EvaluateFare(c, "", first->new_state, {"g9", "south", "", kIn, t + 10 * 1000});
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->kind, FareKind::kPassback);
}

TEST(FareEngine, DistanceFaresPairEntryWithExit) {
  int64_t t = kMonday0600;
  EXPECT_EQ(
      Ride(Rail(), "",
           {{t, "central", kIn, "central", 0, "entry_recorded"},
            {t + 30 * kMin, "airport", kOut, "airport", 330, "distance_fare"},
            {t + 5 * kHour, "airport", kIn, "airport", 0, "entry_recorded"},
            // no exit recorded: the next entry charges the maximum fare
            {t + 9 * kHour, "harbour", kIn, "harbour", 450, "incomplete_journey"},
            {t + 9 * kHour + 20 * kMin, "university", kOut, "university", 210, "distance_fare"},
            {t + 10 * kHour, "central", kOut, "central", 450, "exit_without_entry"}}),
      330 + 450 + 210 + 450);
}

TEST(FareEngine, RejectsUnknownStationsAndBadConfigs) {
  auto d = EvaluateFare(Rail(), "", {}, {"g", "x", "mars", kIn, kMonday0600});
  EXPECT_EQ(d.status().reason(), "unknown_station");
  EXPECT_EQ(ParseFareConfig("{").status().reason(), "invalid_fare_config");
  EXPECT_EQ(ParseFareConfig(R"({"operator":"m","currency":"EUR"})").status().reason(),
            "invalid_fare_config");
  EXPECT_EQ(ParseFareConfig(R"({"operator":"m","currency":"EUR","flat":{"fare_minor":-1}})")
                .status()
                .reason(),
            "invalid_fare_config");
  EXPECT_EQ(ParseFareConfig(R"({"operator":"m","currency":"eur","flat":{"fare_minor":1}})")
                .status()
                .reason(),
            "invalid_currency");
  EXPECT_EQ(ParseFareConfig(R"({"operator":"m","currency":"EUR","flat":{"fare_minor":1e300}})")
                .status()
                .reason(),
            "invalid_fare_config");
}

// Found by tests/fuzz/terminals: a fare config path naming an endless file never returned.
TEST(FareEngine, FareConfigFromAnEndlessFileIsRefusedNotReadForever) {
  EXPECT_EQ(LoadFareConfig("/dev/zero").status().reason(), "invalid_fare_config");
}

TEST(FareEngine, ShippedConfigFilesParse) {
  for (const char* f : {"metro.json", "rail-distance.json"}) {
    auto c = LoadFareConfig(std::string(FACEPAY_SOURCE_DIR) + "/config/fares/" + f);
    EXPECT_TRUE(c.ok()) << f << ": " << c.status().ToString();
  }
}

}  // namespace
}  // namespace facepay::payments
