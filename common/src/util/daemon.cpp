#include "common/util/daemon.hpp"

#include <systemd/sd-daemon.h>

#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
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

namespace {

// Sends one datagram to $NOTIFY_SOCKET without blocking. libsystemd's sd_notify() uses a blocking
// socket: when the receiver's queue is full (a busy service manager, a test that reads later) it
// would stall the event loop, the very thing WATCHDOG=1 vouches for. The periodic messages
// (WATCHDOG=1, STATUS=) go this way: one that cannot be queued is dropped and the next one follows.
// READY=1 and STOPPING=1, sent once, keep sd_notify().
void notify_nonblocking(std::string_view msg) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || (path[0] != '/' && path[0] != '@')) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path) return;
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';  // an abstract socket
  static const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return;
  (void)::sendto(fd, msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&addr),
                 static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len));
}

}  // namespace

void notify_status(std::string_view status) {
  std::string msg = "STATUS=";
  msg += status;
  notify_nonblocking(msg);
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
  notify_nonblocking("WATCHDOG=1");
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
