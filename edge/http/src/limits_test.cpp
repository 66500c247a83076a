#include "limits.hpp"

#include <gtest/gtest.h>

#include <string>

namespace edge {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A fixed origin: the limiter only ever sees differences between time points.
const Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours(1000);

TEST(RateLimiter, TakesTheBurstThenRefuses) {
  struct Row {
    double rate, burst;
  };
  const Row rows[] = {{1, 1}, {2, 3}, {50, 100}, {0.01, 2}};
  for (const auto& r : rows) {
    SCOPED_TRACE(testing::Message() << "rate=" << r.rate << " burst=" << r.burst);
    RateLimiter l;
    seconds retry{0};
    for (int i = 0; i < static_cast<int>(r.burst); ++i) {
      EXPECT_TRUE(l.take("acme", r.rate, r.burst, kT0, retry)) << "request " << i;
    }
    EXPECT_FALSE(l.take("acme", r.rate, r.burst, kT0, retry));
    EXPECT_GE(retry, seconds(1));
  }
}

TEST(RateLimiter, RefillsAtTheRate) {
  RateLimiter l;
  seconds retry{0};
  // 2 tokens a second, bucket of 4: drain it, then each 500 ms buys exactly one more.
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(l.take("k", 2, 4, kT0, retry));
  ASSERT_FALSE(l.take("k", 2, 4, kT0, retry));
  EXPECT_FALSE(l.take("k", 2, 4, kT0 + milliseconds(499), retry));
  EXPECT_TRUE(l.take("k", 2, 4, kT0 + milliseconds(500), retry));
  EXPECT_FALSE(l.take("k", 2, 4, kT0 + milliseconds(500), retry));
  EXPECT_TRUE(l.take("k", 2, 4, kT0 + milliseconds(1000), retry));
  // A long pause refills to the burst and no further.
  const auto later = kT0 + seconds(3600);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(l.take("k", 2, 4, later, retry)) << "request " << i;
  EXPECT_FALSE(l.take("k", 2, 4, later, retry));
}

TEST(RateLimiter, RetryAfterIsWhenTheNextTokenArrivesRoundedUpToWholeSeconds) {
  struct Row {
    const char* name;
    double rate, burst;
    milliseconds idle;  // after draining the bucket
    seconds want;
  };
  const Row rows[] = {
      {"fast refill still says one second", 50, 1, milliseconds(0), seconds(1)},
      {"exactly one second", 1, 1, milliseconds(0), seconds(1)},
      {"a token every ten seconds", 0.1, 1, milliseconds(0), seconds(10)},
      {"part of the way there rounds up", 0.1, 1, milliseconds(2500), seconds(8)},
      {"nearly there is still one second", 0.1, 1, milliseconds(9900), seconds(1)},
      {"a token every 1000 seconds", 0.001, 1, milliseconds(0), seconds(1000)},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    RateLimiter l;
    seconds retry{0};
    for (int i = 0; i < static_cast<int>(r.burst); ++i) ASSERT_TRUE(l.take("k", r.rate, r.burst, kT0, retry));
    ASSERT_FALSE(l.take("k", r.rate, r.burst, kT0 + r.idle, retry));
    EXPECT_EQ(retry, r.want);
  }
}

TEST(RateLimiter, KeysAreIndependent) {
  RateLimiter l;
  seconds retry{0};
  ASSERT_TRUE(l.take("t\nacme", 1, 1, kT0, retry));
  ASSERT_FALSE(l.take("t\nacme", 1, 1, kT0, retry));
  EXPECT_TRUE(l.take("t\nglobex", 1, 1, kT0, retry));
  EXPECT_TRUE(l.take("c\nacme\ncust-1", 1, 1, kT0, retry));
  EXPECT_TRUE(l.take("c\nacme\ncust-2", 1, 1, kT0, retry));
  EXPECT_FALSE(l.take("c\nacme\ncust-1", 1, 1, kT0, retry));
  EXPECT_EQ(l.keys(), 4u);
}

TEST(RateLimiter, AtTheKeyBoundFullBucketsGoFirst) {
  RateLimiter l(4);
  seconds retry{0};
  // Three slow keys (a token per 1000 s: far from full again) and, most recently used, a fast
  // one that is full again 10 ms after its last use. Age alone would drop slow-1 and slow-2.
  ASSERT_TRUE(l.take("slow-1", 0.001, 5, kT0, retry));
  ASSERT_TRUE(l.take("slow-2", 0.001, 5, kT0 + seconds(1), retry));
  ASSERT_TRUE(l.take("slow-3", 0.001, 5, kT0 + seconds(2), retry));
  ASSERT_TRUE(l.take("fast", 100, 1, kT0 + seconds(3), retry));
  ASSERT_EQ(l.keys(), 4u);
  ASSERT_TRUE(l.take("new", 1, 10, kT0 + seconds(4), retry));
  EXPECT_EQ(l.keys(), 4u) << "more than the full bucket was dropped";
  // slow-1 kept its state: 4 tokens left, where a fresh bucket has 5.
  int taken = 0;
  while (taken < 20 && l.take("slow-1", 0.001, 5, kT0 + seconds(4), retry)) ++taken;
  EXPECT_EQ(taken, 4) << "slow-1 lost its state";
}

TEST(RateLimiter, AtTheKeyBoundWithNoFullBucketTheOldestHalfGoes) {
  RateLimiter l(4);
  seconds retry{0};
  // Four busy keys (rate 0.001: nowhere near full again), used at 0, 1, 2, 3 s.
  const char* keys[] = {"a", "b", "c", "d"};
  for (int i = 0; i < 4; ++i) {
    for (int n = 0; n < 5; ++n) ASSERT_TRUE(l.take(keys[i], 0.001, 5, kT0 + seconds(i), retry));
    ASSERT_FALSE(l.take(keys[i], 0.001, 5, kT0 + seconds(i), retry));
  }
  ASSERT_EQ(l.keys(), 4u);
  ASSERT_TRUE(l.take("e", 0.001, 5, kT0 + seconds(4), retry));
  EXPECT_EQ(l.keys(), 3u);  // a and b dropped, e added
  // a and b forgot their debt (a fresh bucket); c and d still refuse.
  EXPECT_TRUE(l.take("a", 0.001, 5, kT0 + seconds(5), retry));
  EXPECT_FALSE(l.take("c", 0.001, 5, kT0 + seconds(5), retry));
  EXPECT_FALSE(l.take("d", 0.001, 5, kT0 + seconds(5), retry));
}

TEST(RateLimiter, TheKeyBoundHoldsForEverySize) {
  for (std::size_t bound : {1u, 2u, 3u, 7u}) {
    SCOPED_TRACE(testing::Message() << "max_keys=" << bound);
    RateLimiter l(bound);
    seconds retry{0};
    for (int i = 0; i < 20; ++i) {
      // Busy keys only (never full again), so the oldest-half rule has to do the work.
      l.take("k" + std::to_string(i), 0.001, 1, kT0 + seconds(i), retry);
      ASSERT_LE(l.keys(), bound) << "after key " << i;
    }
  }
}

}  // namespace
}  // namespace edge
