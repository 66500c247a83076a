#pragma once
// Time as the bus sees it: wall-clock instants are milliseconds since the Unix epoch (UTC) and
// travel as RFC 3339 strings with millisecond precision; timeouts use the monotonic clock.
// Logic that depends on time takes a Now value, so tests inject it.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace common {

using WallMs = std::int64_t;
inline constexpr WallMs kMaxWallMs = 253'402'300'799'999;  // 9999-12-31T23:59:59.999Z
using MonoClock = std::chrono::steady_clock;
using MonoTime = MonoClock::time_point;

struct Now {
  MonoTime mono;
  WallMs wall = 0;
  static Now current();
  Now plus(std::chrono::milliseconds d) const { return {mono + d, wall + d.count()}; }
};

WallMs wall_now_ms();

// "2026-11-21T08:45:00.123Z"
std::string format_rfc3339(WallMs t);
void append_rfc3339(std::string& out, WallMs t);

// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)"; nullopt when malformed.
std::optional<WallMs> parse_rfc3339(std::string_view s);

}  // namespace common
