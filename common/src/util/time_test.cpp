#include "common/util/time.hpp"

#include <gtest/gtest.h>

namespace common {
namespace {

TEST(Rfc3339, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(1'795'250'700'123), "2026-11-21T08:45:00.123Z");
}

TEST(Rfc3339, RoundTrips) {
  for (WallMs t : {0LL, 1LL, 999LL, 1'795'250'700'123LL, 4'102'444'799'999LL}) {
    EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t) << t;
  }
}

TEST(Rfc3339, AcceptsOffsetsAndFractions) {
  EXPECT_EQ(parse_rfc3339("2026-11-21T09:45:00+01:00"), parse_rfc3339("2026-11-21T08:45:00Z"));
  EXPECT_EQ(parse_rfc3339("2026-11-21T08:45:00.5Z"), *parse_rfc3339("2026-11-21T08:45:00Z") + 500);
  EXPECT_EQ(parse_rfc3339("2026-11-21T08:45:00.123456Z"), *parse_rfc3339("2026-11-21T08:45:00Z") + 123);
}

TEST(Rfc3339, RejectsMalformed) {
  for (const char* s : {"", "2026-11-21", "2026-11-21T08:45:00", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
                        "2026-11-21T24:00:00Z", "2026-11-21T08:45:00.Z", "2026-11-21T08:45:00Zjunk",
                        "2026-11-21 08:45:00Z", "yesterday"}) {
    EXPECT_FALSE(parse_rfc3339(s)) << s;
  }
}

}  // namespace
}  // namespace common
