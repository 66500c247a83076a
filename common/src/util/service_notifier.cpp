#include "common/util/service_notifier.hpp"

#include "common/util/daemon.hpp"

#include <algorithm>

namespace common::daemon {

struct ServiceNotifier::State : std::enable_shared_from_this<State> {
  boost::asio::steady_timer timer;
  std::function<std::string()> status;
  std::chrono::milliseconds status_interval;
  std::chrono::microseconds watchdog = watchdog_interval();
  std::chrono::steady_clock::time_point next_watchdog{}, next_status{};
  std::string last_status;
  bool stopped = false;

  State(boost::asio::io_context& io, std::function<std::string()> s, std::chrono::milliseconds every)
      : timer(io), status(std::move(s)), status_interval(every) {}

  void turn() {
    if (stopped) return;
    const auto now = std::chrono::steady_clock::now();
    if (watchdog.count() > 0 && now >= next_watchdog) {
      notify_watchdog();
      next_watchdog = now + watchdog;
    }
    if (status && now >= next_status) {
      auto text = status();
      if (text != last_status) {
        notify_status(text);
        last_status = std::move(text);
      }
      next_status = now + status_interval;
    }
    auto next = status ? next_status : now + std::chrono::hours(1);
    if (watchdog.count() > 0) next = std::min(next, next_watchdog);
    timer.expires_at(next);
    timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (auto self = weak.lock(); self && !ec) self->turn();
    });
  }
};

ServiceNotifier::ServiceNotifier(boost::asio::io_context& io, std::function<std::string()> status,
                                 std::chrono::milliseconds status_interval)
    : state_(std::make_shared<State>(io, std::move(status), status_interval)) {}

ServiceNotifier::~ServiceNotifier() {
  stop();
}

void ServiceNotifier::start() {
  state_->stopped = false;
  state_->turn();
}

void ServiceNotifier::stop() {
  state_->stopped = true;
  state_->timer.cancel();
}

}  // namespace common::daemon
