#pragma once
// Process plumbing shared by every executable: sd_notify messages (READY=1 with the bound
// endpoints, STATUS=, STOPPING=1) and the exception boundary of main().
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace common::daemon {

// Sends "READY=1", "STATUS=<status>" and each extra "KEY=value" line to $NOTIFY_SOCKET (no-op
// without one). Tests own that socket to learn when a daemon is ready and where it listens.
void notify_ready(std::string_view status, const std::vector<std::pair<std::string, std::string>>& vars = {});
void notify_status(std::string_view status);
void notify_stopping();

// The service manager's watchdog (WatchdogSec= sets $WATCHDOG_USEC): the interval at which to send
// WATCHDOG=1, half the timeout; zero when no watchdog is set. Each daemon pings from its event
// loop, so a loop that stops turning stops the pings and systemd restarts the process.
std::chrono::microseconds watchdog_interval();
void notify_watchdog();

// Runs body; maps any exception to one line on stderr (and the component log) and exit code 1.
int run_main(const std::string& program, const std::function<int()>& body);

}  // namespace common::daemon
