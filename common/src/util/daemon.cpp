#include "common/util/daemon.hpp"

#include <systemd/sd-daemon.h>

#include <cstdint>
#include <cstdio>
#include <exception>

namespace common::daemon {

void notify_ready(std::string_view status, const std::vector<std::pair<std::string, std::string>>& vars) {
  std::string msg = "READY=1\nSTATUS=";
  msg += status;
  for (const auto& [k, v] : vars) {
    msg += '\n';
    msg += k;
    msg += '=';
    msg += v;
  }
  sd_notify(0, msg.c_str());
}

void notify_status(std::string_view status) {
  std::string msg = "STATUS=";
  msg += status;
  sd_notify(0, msg.c_str());
}

void notify_stopping() {
  sd_notify(0, "STOPPING=1");
}

std::chrono::microseconds watchdog_interval() {
  std::uint64_t usec = 0;
  // 0 (unset) or a negative errno (malformed $WATCHDOG_USEC, another process's $WATCHDOG_PID): off.
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::chrono::microseconds{0};
  return std::chrono::microseconds{static_cast<std::int64_t>(usec / 2)};
}

void notify_watchdog() {
  sd_notify(0, "WATCHDOG=1");
}

int run_main(const std::string& program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), e.what());
    return 1;
  }
}

}  // namespace common::daemon
