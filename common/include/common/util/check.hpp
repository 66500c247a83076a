#pragma once
// CASEBUS_CHECK: invariant violations (our own bugs, never peer input). Aborts in debug builds so
// the bug is seen at once; throws std::logic_error in release so one session or message fails
// instead of the process.
#include <stdexcept>
#include <string>

namespace common::detail {
[[noreturn]] void check_failed(const char* expr, const char* file, int line, const std::string& msg);
}  // namespace common::detail

#define CASEBUS_CHECK(cond, msg)                                              \
  do {                                                                        \
    if (!(cond)) ::common::detail::check_failed(#cond, __FILE__, __LINE__, (msg)); \
  } while (false)
