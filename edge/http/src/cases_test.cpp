#include "cases.hpp"

#include <gtest/gtest.h>

#include <string>

namespace edge {
namespace {

using std::chrono::seconds;

const Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours(1000);

CaseTable make(std::size_t max_cases = 100, seconds retention = seconds(3600), seconds idempotency = seconds(86400)) {
  return CaseTable(max_cases, retention, idempotency);
}

TEST(CaseTable, AcceptedThenFinishedIsFoundOnlyByItsTenant) {
  auto t = make();
  t.accepted("c-1", "acme", kT0);
  EXPECT_EQ(t.size(), 1u);
  const auto* e = t.find("c-1", "acme");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->tenant, "acme");
  EXPECT_FALSE(e->finished);
  EXPECT_EQ(t.find("c-1", "globex"), nullptr);
  EXPECT_EQ(t.find("c-2", "acme"), nullptr);

  t.finished("c-1", R"({"case_id":"c-1","status":"resolved"})", kT0 + seconds(2));
  e = t.find("c-1", "acme");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->finished);
  EXPECT_EQ(e->final_json, R"({"case_id":"c-1","status":"resolved"})");
  EXPECT_EQ(e->finished_at, kT0 + seconds(2));
  EXPECT_EQ(t.find("c-1", "globex"), nullptr);
  // A second final case (a late duplicate) changes nothing.
  t.finished("c-1", R"({"status":"other"})", kT0 + seconds(3));
  EXPECT_EQ(t.find("c-1", "acme")->final_json, R"({"case_id":"c-1","status":"resolved"})");
  // A final case for an id the table never accepted is ignored.
  t.finished("c-unknown", "{}", kT0);
  EXPECT_EQ(t.size(), 1u);
}

TEST(CaseTable, WaitersAreCalledOnceWhenTheCaseFinishes) {
  auto t = make();
  t.accepted("c-1", "acme", kT0);
  int a = 0, b = 0, cancelled = 0;
  const auto ida = t.wait("c-1", [&] { ++a; });
  const auto idb = t.wait("c-1", [&] { ++b; });
  const auto idc = t.wait("c-1", [&] { ++cancelled; });
  EXPECT_NE(ida, 0u);
  EXPECT_NE(idb, 0u);
  EXPECT_NE(ida, idb);
  EXPECT_NE(idc, idb);
  t.cancel_wait("c-1", idc);
  t.cancel_wait("c-1", 12345);      // unknown id: nothing
  t.cancel_wait("c-unknown", ida);  // unknown case: nothing
  EXPECT_EQ(a + b + cancelled, 0);
  t.finished("c-1", "{}", kT0);
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 1);
  EXPECT_EQ(cancelled, 0);
  t.finished("c-1", "{}", kT0);
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 1);
  // Cancelling after the fact is harmless.
  t.cancel_wait("c-1", ida);
}

TEST(CaseTable, WaitOnAFinishedOrUnknownCaseReturnsZeroAndNeverCalls) {
  auto t = make();
  t.accepted("c-1", "acme", kT0);
  t.finished("c-1", "{}", kT0);
  int calls = 0;
  EXPECT_EQ(t.wait("c-1", [&] { ++calls; }), 0u);
  EXPECT_EQ(t.wait("c-unknown", [&] { ++calls; }), 0u);
  t.finished("c-1", "{}", kT0);
  EXPECT_EQ(calls, 0);
}

TEST(CaseTable, InFlightIsCountedPerTenant) {
  auto t = make();
  t.accepted("a-1", "acme", kT0);
  t.accepted("a-2", "acme", kT0);
  t.accepted("g-1", "globex", kT0);
  EXPECT_EQ(t.in_flight("acme"), 2u);
  EXPECT_EQ(t.in_flight("globex"), 1u);
  EXPECT_EQ(t.in_flight("initech"), 0u);
  t.finished("a-1", "{}", kT0);
  EXPECT_EQ(t.in_flight("acme"), 1u);
  t.finished("a-1", "{}", kT0);  // twice does not count twice
  EXPECT_EQ(t.in_flight("acme"), 1u);
  t.finished("a-2", "{}", kT0);
  t.finished("g-1", "{}", kT0);
  EXPECT_EQ(t.in_flight("acme"), 0u);
  EXPECT_EQ(t.in_flight("globex"), 0u);
}

TEST(CaseTable, FinishedCasesExpireAfterTheRetention) {
  auto t = make(100, seconds(60));
  t.accepted("done", "acme", kT0);
  t.accepted("later", "acme", kT0);
  t.accepted("open", "acme", kT0);
  t.finished("done", "{}", kT0 + seconds(10));
  t.finished("later", "{}", kT0 + seconds(30));
  t.expire(kT0 + seconds(70));  // exactly the retention: still known
  EXPECT_NE(t.find("done", "acme"), nullptr);
  t.expire(kT0 + seconds(71));
  EXPECT_EQ(t.find("done", "acme"), nullptr);
  EXPECT_NE(t.find("later", "acme"), nullptr);
  // An unfinished case never expires by retention, however old.
  t.expire(kT0 + seconds(100000));
  EXPECT_EQ(t.find("later", "acme"), nullptr);
  EXPECT_NE(t.find("open", "acme"), nullptr);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.in_flight("acme"), 1u);
}

TEST(CaseTable, AtMaxCasesTheOldestFinishedGoFirst) {
  auto t = make(3);
  t.accepted("c-1", "acme", kT0);
  t.accepted("c-2", "acme", kT0);
  t.accepted("c-3", "acme", kT0);
  t.finished("c-3", "{}", kT0 + seconds(1));  // finished first: the oldest finished
  t.finished("c-1", "{}", kT0 + seconds(2));
  t.accepted("c-4", "acme", kT0 + seconds(3));
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.find("c-3", "acme"), nullptr);
  EXPECT_NE(t.find("c-1", "acme"), nullptr);
  EXPECT_NE(t.find("c-2", "acme"), nullptr);
  EXPECT_NE(t.find("c-4", "acme"), nullptr);
  t.accepted("c-5", "acme", kT0 + seconds(4));
  EXPECT_EQ(t.find("c-1", "acme"), nullptr);
  EXPECT_EQ(t.size(), 3u);
  // Only unfinished cases left: they are never dropped (the in-flight cap bounds them).
  t.accepted("c-6", "acme", kT0 + seconds(5));
  EXPECT_EQ(t.size(), 4u);
  for (const char* id : {"c-2", "c-4", "c-5", "c-6"}) EXPECT_NE(t.find(id, "acme"), nullptr) << id;
  EXPECT_EQ(t.in_flight("acme"), 4u);
}

TEST(CaseTable, IdempotencyKeysClaimBindAndRelease) {
  auto t = make();
  struct Step {
    const char* name;
    std::string tenant, key, digest;
    CaseTable::Claim want;
    std::string case_id;  // for kExisting
  };
  std::string id;
  // The first request claims the key; while it is being submitted, a repeat is in progress.
  EXPECT_EQ(t.claim("acme", "k-1", "d-1", kT0, id), CaseTable::Claim::kNew);
  const Step before_bind[] = {
      {"same key and body while in progress", "acme", "k-1", "d-1", CaseTable::Claim::kInProgress, ""},
      {"same key, another body", "acme", "k-1", "d-2", CaseTable::Claim::kConflict, ""},
      {"the same key of another tenant is another key", "globex", "k-1", "d-2", CaseTable::Claim::kNew, ""},
  };
  for (const auto& s : before_bind) {
    id.clear();
    EXPECT_EQ(t.claim(s.tenant, s.key, s.digest, kT0 + seconds(1), id), s.want) << s.name;
    EXPECT_EQ(id, s.case_id) << s.name;
  }
  t.bind("acme", "k-1", "c-1");
  const Step after_bind[] = {
      {"same key and body: the existing case", "acme", "k-1", "d-1", CaseTable::Claim::kExisting, "c-1"},
      {"same key, another body still conflicts", "acme", "k-1", "d-2", CaseTable::Claim::kConflict, ""},
      {"globex's key is still in progress", "globex", "k-1", "d-2", CaseTable::Claim::kInProgress, ""},
  };
  for (const auto& s : after_bind) {
    id.clear();
    EXPECT_EQ(t.claim(s.tenant, s.key, s.digest, kT0 + seconds(2), id), s.want) << s.name;
    EXPECT_EQ(id, s.case_id) << s.name;
  }
  // A refused submission releases its key: the next request claims it afresh, any body.
  t.release("globex", "k-1");
  EXPECT_EQ(t.claim("globex", "k-1", "d-3", kT0 + seconds(3), id), CaseTable::Claim::kNew);
  // Binding or releasing a key nobody claimed does nothing.
  t.bind("acme", "k-none", "c-9");
  t.release("acme", "k-none");
  EXPECT_EQ(t.claim("acme", "k-none", "d-1", kT0 + seconds(3), id), CaseTable::Claim::kNew);
}

TEST(CaseTable, IdempotencyKeysExpire) {
  auto t = make(100, seconds(3600), seconds(60));
  std::string id;
  ASSERT_EQ(t.claim("acme", "k-1", "d-1", kT0, id), CaseTable::Claim::kNew);
  t.bind("acme", "k-1", "c-1");
  ASSERT_EQ(t.claim("acme", "k-2", "d-2", kT0 + seconds(30), id), CaseTable::Claim::kNew);
  EXPECT_EQ(t.claim("acme", "k-1", "d-1", kT0 + seconds(59), id), CaseTable::Claim::kExisting);
  EXPECT_EQ(id, "c-1");
  // At the retention the key is forgotten: a new body is a new claim, not a conflict.
  EXPECT_EQ(t.claim("acme", "k-1", "d-other", kT0 + seconds(60), id), CaseTable::Claim::kNew);
  EXPECT_EQ(t.claim("acme", "k-2", "d-2", kT0 + seconds(60), id), CaseTable::Claim::kInProgress);
  EXPECT_EQ(t.claim("acme", "k-2", "d-2", kT0 + seconds(90), id), CaseTable::Claim::kNew);
}

TEST(CaseTable, AKeyInProgressIsNeverForgottenForRoom) {
  auto t = make(2);
  std::string id;
  ASSERT_EQ(t.claim("acme", "k-1", "d", kT0, id), CaseTable::Claim::kNew);  // in progress
  ASSERT_EQ(t.claim("acme", "k-2", "d", kT0, id), CaseTable::Claim::kNew);
  EXPECT_EQ(t.claim("acme", "k-3", "d", kT0, id), CaseTable::Claim::kFull);
  t.bind("acme", "k-1", "c-1");
  EXPECT_EQ(t.claim("acme", "k-3", "d", kT0, id), CaseTable::Claim::kNew) << "the settled oldest key makes room";
  EXPECT_EQ(t.claim("acme", "k-2", "d", kT0, id), CaseTable::Claim::kInProgress);
  // A released key leaves a stale order entry that must not evict anything live.
  t.release("acme", "k-3");
  EXPECT_EQ(t.claim("acme", "k-4", "d", kT0, id), CaseTable::Claim::kNew);
  EXPECT_EQ(t.claim("acme", "k-2", "d", kT0, id), CaseTable::Claim::kInProgress);
}

TEST(CaseTable, AReclaimedKeyOutlivesTheFirstClaimsExpiry) {
  auto t = make(100, seconds(3600), seconds(60));
  std::string id;
  ASSERT_EQ(t.claim("acme", "k", "d", kT0, id), CaseTable::Claim::kNew);
  t.release("acme", "k");
  ASSERT_EQ(t.claim("acme", "k", "d", kT0 + seconds(30), id), CaseTable::Claim::kNew);
  t.bind("acme", "k", "c-2");
  // The first claim's expiry passes; the second claim (until 90 s) stays.
  EXPECT_EQ(t.claim("acme", "k", "d", kT0 + seconds(61), id), CaseTable::Claim::kExisting);
  EXPECT_EQ(id, "c-2");
  EXPECT_EQ(t.claim("acme", "k", "d", kT0 + seconds(90), id), CaseTable::Claim::kNew);
}

}  // namespace
}  // namespace edge
