#pragma once
// sd_notify from an Asio event loop (agents, edge): WATCHDOG=1 at half the watchdog timeout when
// systemd set one, and STATUS=<status()> every status_interval when the text changed. The timer runs
// on the loop it watches, so a stuck loop stops the pings.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace common::daemon {

class ServiceNotifier final {
 public:
  ServiceNotifier(boost::asio::io_context& io, std::function<std::string()> status,
                  std::chrono::milliseconds status_interval = std::chrono::seconds(10));
  ~ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  void start();
  void stop();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace common::daemon
