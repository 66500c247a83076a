#include "broker/app.hpp"

#include "core.hpp"

#include "common/bus/socket.hpp"
#include "common/util/daemon.hpp"
#include "common/util/log.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <iterator>
#include <zmq_addon.hpp>

namespace broker {

namespace bus = common::bus;
using namespace std::chrono_literals;

namespace {

// Blocks SIGINT/SIGTERM before the ZeroMQ context starts its I/O thread (threads inherit the
// mask), and delivers them through a signalfd that the poll loop watches: no EINTR handling, no
// signal handler state.
class SignalFd final {
 public:
  SignalFd() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) throw std::runtime_error("cannot block signals");
    fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error("signalfd failed");
  }
  ~SignalFd() { ::close(fd_); }
  SignalFd(const SignalFd&) = delete;
  SignalFd& operator=(const SignalFd&) = delete;
  int fd() const { return fd_; }
  int read_signal() const {
    signalfd_siginfo info{};
    return ::read(fd_, &info, sizeof info) == sizeof info ? static_cast<int>(info.ssi_signo) : 0;
  }

 private:
  int fd_ = -1;
};

bool is_loopback(const std::string& endpoint) {
  return endpoint.starts_with("tcp://127.") || endpoint.starts_with("tcp://[::1]") || endpoint.starts_with("ipc://") ||
         endpoint.starts_with("inproc://");
}

}  // namespace

struct App::Impl {
  // Messages taken from one socket before looking at the other and at timers.
  static constexpr int kBatch = 512;
  // busy_poll_us applies only while at most this many cases are in flight (docs/performance.md).
  static constexpr std::size_t kSpinMaxCases = 8;

  Settings settings;
  std::shared_ptr<spdlog::logger> log;
  SignalFd signals;    // before the context: see SignalFd
  zmq::context_t ctx;  // before the sockets: destroyed last
  // The ZAP handler: created before the sockets bind, destroyed after they close.
  std::unique_ptr<bus::Authenticator> authenticator;
  zmq::socket_t clients;
  zmq::socket_t agents;
  std::unique_ptr<Store> store;  // before the core, which holds a pointer to it
  Core core;
  Outbox outbox;
  // Answers to clients that report something stored (ACCEPTED, final cases): sent only after the
  // commit that holds it (docs/storage.md#when-the-broker-answers).
  std::vector<OutMessage> held;
  common::MonoTime next_store_retry{};
  std::vector<zmq::message_t> parts;
  bool shutting_down = false;
  common::MonoTime shutdown_deadline{};

  explicit Impl(Settings s)
      : settings(std::move(s)),
        log(common::log::get("broker")),
        ctx(1),
        store(Store::open(settings.storage)),
        core(settings.core, store.get()) {
    // A file-size limit (RLIMIT_FSIZE) reached by the store must fail the write (EFBIG: the store
    // reports itself unavailable and recovers later), not kill the broker with SIGXFSZ.
    std::signal(SIGXFSZ, SIG_IGN);
    bus::SocketOptions o;
    o.max_message_bytes = settings.max_message_bytes;
    o.router_mandatory = true;
    o.linger = 1000ms;
    if (settings.curve.enabled()) {
      const auto keys = bus::read_key_file(settings.curve.key_file);
      authenticator = std::make_unique<bus::Authenticator>(ctx, settings.curve.authorized_keys, log);
      o.curve.server = true;
      o.curve.public_key = keys.public_key;
      o.curve.secret_key = keys.secret_key;
      o.curve.zap_domain = "agent";
      core.set_stats_extension([this](nlohmann::json& j) {
        j["curve"] = {{"enabled", true},
                      {"keys", authenticator->keys()},
                      {"allowed", authenticator->allowed()},
                      {"denied", authenticator->denied()}};
      });
    } else {
      core.set_stats_extension([](nlohmann::json& j) { j["curve"] = {{"enabled", false}}; });
    }
    agents = bus::make_socket(ctx, zmq::socket_type::router, o);
    // A client that stops reading must not make the broker hold its results without bound: past
    // this many queued answers they count as undeliverable.
    o.send_hwm = 10000;
    // Clients keep their routing id across reconnects (BusClient), so that final cases of cases
    // recovered after a restart reach them; a reconnecting client takes its old id over.
    o.router_handover = true;
    o.curve.zap_domain = "client";
    clients = bus::make_socket(ctx, zmq::socket_type::router, o);
    try {
      clients.bind(settings.client_endpoint);
    } catch (const zmq::error_t& e) {
      throw std::runtime_error("cannot bind client endpoint " + settings.client_endpoint + ": " + e.what());
    }
    try {
      agents.bind(settings.agent_endpoint);
    } catch (const zmq::error_t& e) {
      throw std::runtime_error("cannot bind agent endpoint " + settings.agent_endpoint + ": " + e.what());
    }
  }

  void flush() {
    // Sending may report a gone peer, and the core's reaction (requeue, dispatch elsewhere)
    // appends more messages: index, don't iterate.
    for (std::size_t i = 0; i < outbox.size(); ++i) {
      auto& m = outbox[i];
      if (m.after_commit) {
        held.push_back(std::move(m));
        continue;
      }
      send(m);
    }
    outbox.clear();
  }

  void send(OutMessage& m) {
    {
      auto& sock = m.side == Side::kClient ? clients : agents;
      const auto r = bus::send_frames(sock, m.peer, m.frames);
      if (r != bus::SendResult::kSent) {
        const auto side = m.side;
        const std::string peer = m.peer;
        if (r == bus::SendResult::kWouldBlock) {
          log->warn("peer queue full side={} peer={}", side == Side::kClient ? "client" : "agent", bus::hex(peer));
        }
        core.on_unreachable(side, peer, common::Now::current(), outbox);
      }
    }
  }

  // Once per loop turn: hands the turn's changes to the store in one transaction, then releases
  // the answers that waited for it. When the store cannot be written, the submissions of this
  // turn are refused instead, the rest stays held, and the write is tried again every 500 ms.
  void commit_turn() {
    const auto now = common::Now::current();
    core.persist(now);
    if (!store->healthy() && now.mono < next_store_retry) return;
    auto r = store->commit(now.wall);
    if (r) {
      core.on_committed();
      for (auto& m : held) send(m);
      held.clear();
      flush();  // what sending made the core say (nothing for clients today)
      return;
    }
    next_store_retry = now.mono + 500ms;
    const auto gone = core.on_commit_failed(r.error(), now, outbox);
    std::erase_if(held, [&](const OutMessage& m) { return !m.case_id.empty() && gone.count(m.case_id) > 0; });
    flush();
  }

  // Takes up to kBatch messages from one socket.
  void drain(zmq::socket_t& sock, Side side) {
    std::string_view views[16];
    const auto now = common::Now::current();
    for (int n = 0; n < kBatch; ++n) {
      parts.clear();
      if (!zmq::recv_multipart(sock, std::back_inserter(parts), zmq::recv_flags::dontwait)) break;
      if (parts.size() < 2) {
        // Nothing but a routing id: answer as malformed through the core.
        const std::string peer = parts.empty() ? "" : parts[0].to_string();
        std::string_view empty[1] = {""};
        if (side == Side::kClient) {
          core.on_client(peer, bus::FrameViews(empty, 1), now, outbox);
        } else {
          core.on_agent(peer, bus::FrameViews(empty, 1), now, outbox);
        }
        flush();
        continue;
      }
      // More frames than any command has: the decoder sees the first 16 and reports the count.
      const std::size_t count = std::min(parts.size() - 1, std::size(views));
      for (std::size_t i = 0; i < count; ++i) views[i] = parts[i + 1].to_string_view();
      const bus::FrameViews frames(views, count);
      if (side == Side::kClient) {
        core.on_client(parts[0].to_string_view(), frames, now, outbox);
      } else {
        core.on_agent(parts[0].to_string_view(), frames, now, outbox);
      }
      flush();
    }
  }

  void begin_shutdown(int sig) {
    if (shutting_down) return;
    shutting_down = true;
    shutdown_deadline = common::MonoClock::now() + settings.shutdown_grace;
    core.stop_accepting();
    common::daemon::notify_stopping();
    log->info("stopping sig={} cases_active={} tasks_in_flight={} grace_ms={}", sig, core.active_cases(), core.tasks_in_flight(),
              settings.shutdown_grace.count());
  }

  // Whether a stopping broker may exit now. Durable: once no task is out with an agent (the rest
  // of each case stays stored and resumes at the next start), or when the grace period is over
  // (tasks still out go again, as attempt + 1, at the next start). In memory: once every case has
  // ended; at the end of the grace period the rest fail.
  bool may_exit(const common::Now& now) {
    if (store->durable()) {
      if (core.tasks_in_flight() == 0) return true;
      if (now.mono < shutdown_deadline) return false;
      log->warn("grace period over, tasks still out resume at the next start tasks_in_flight={}", core.tasks_in_flight());
      return true;
    }
    if (core.active_cases() == 0) return true;
    if (now.mono < shutdown_deadline) return false;
    log->warn("grace period over, failing unfinished cases cases_active={}", core.active_cases());
    core.fail_all(common::Errc::kShuttingDown, "the broker stopped before the case finished", now, outbox);
    flush();
    return true;
  }

  std::string status_line() const {
    std::string s = shutting_down ? "stopping: " : "serving: ";
    s += std::to_string(core.active_cases()) + " cases active, " + std::to_string(core.tasks_in_flight()) +
         " tasks out, " + std::to_string(core.worker_count()) + " workers";
    if (!store->healthy()) s += ", STORAGE FAILING: " + store->last_error();
    return s;
  }

  int run() {
    {
      const auto start = common::MonoClock::now();
      const auto n = core.recover(common::Now::current(), outbox);
      flush();
      commit_turn();
      log->info("store opened storage={} cases_recovered={} ms={}", store->describe(), n,
                std::chrono::duration_cast<std::chrono::milliseconds>(common::MonoClock::now() - start).count());
    }
    const auto client_ep = clients.get(zmq::sockopt::last_endpoint);
    const auto agent_ep = agents.get(zmq::sockopt::last_endpoint);
    log->info("ready client_endpoint={} agent_endpoint={} curve={} heartbeat_ms={} queue_limit={} max_attempts={} version={}",
              client_ep, agent_ep, authenticator ? "on" : "off", settings.core.heartbeat_interval.count(),
              settings.core.queue_limit, settings.core.max_attempts, CASEBUS_VERSION);
    if (!authenticator && (!is_loopback(client_ep) || !is_loopback(agent_ep))) {
      log->warn("endpoints reachable from other hosts without CURVE: traffic is plaintext and unauthenticated; "
                "configure curve (docs/security.md#curve)");
    }
    common::daemon::notify_ready("serving clients on " + client_ep + ", agents on " + agent_ep,
                                 {{"CASEBUS_CLIENT_ENDPOINT", client_ep}, {"CASEBUS_AGENT_ENDPOINT", agent_ep}});
    // Adaptive busy polling: spin only while this loop has spare CPU (it spent under a quarter
    // of the last 100 ms handling messages). At low load that keeps the CPU from halting between
    // messages (an idle vCPU is slow to wake); under load it never spins, so it takes no CPU
    // from the agents.
    common::MonoTime last_activity{}, window_start = common::MonoClock::now();
    std::chrono::nanoseconds work{0};
    bool spin_allowed = true;
    // sd_notify from this loop: WATCHDOG=1 at half of WatchdogSec (a stuck loop stops the pings and
    // systemd restarts the broker), and STATUS= every 10 s when it changed.
    const auto watchdog = std::chrono::duration_cast<std::chrono::milliseconds>(common::daemon::watchdog_interval());
    common::MonoTime next_watchdog{}, next_status{};
    std::string last_status;
    while (true) {
      auto now = common::Now::current();
      if (watchdog.count() > 0 && now.mono >= next_watchdog) {
        common::daemon::notify_watchdog();
        next_watchdog = now.mono + watchdog;
      }
      if (now.mono >= next_status) {
        next_status = now.mono + 10s;
        auto status = status_line();
        if (status != last_status) {
          common::daemon::notify_status(status);
          last_status = std::move(status);
        }
      }
      if (now.mono - window_start >= 100ms) {
        spin_allowed = work * 4 < now.mono - window_start;
        work = {};
        window_start = now.mono;
      }
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(core.next_wakeup() - now.mono);
      wait = std::clamp(wait, 0ms, store->healthy() ? 1000ms : 100ms);
      if (watchdog.count() > 0) {
        wait = std::min(wait, std::max(0ms, std::chrono::duration_cast<std::chrono::milliseconds>(next_watchdog - now.mono)));
      }
      // And only while few cases are in flight: spinning buys latency at low load, and at high
      // load the CPU is worth more to the agents than to this loop's wake-ups.
      if (spin_allowed && core.active_cases() <= kSpinMaxCases && now.mono - last_activity < settings.busy_poll) wait = 0ms;
      zmq::pollitem_t items[] = {{agents.handle(), 0, ZMQ_POLLIN, 0},
                                 {clients.handle(), 0, ZMQ_POLLIN, 0},
                                 {nullptr, signals.fd(), ZMQ_POLLIN, 0}};
      const bool active = zmq::poll(items, 3, wait) > 0;
      const auto work_start = common::MonoClock::now();
      if (active) last_activity = work_start;
      if (items[2].revents & ZMQ_POLLIN) {
        if (const int sig = signals.read_signal()) begin_shutdown(sig);
      }
      // Agents first: their answers free capacity for waiting work.
      if (items[0].revents & ZMQ_POLLIN) drain(agents, Side::kAgent);
      if (items[1].revents & ZMQ_POLLIN) drain(clients, Side::kClient);
      now = common::Now::current();
      if (now.mono >= core.next_wakeup()) {
        core.on_tick(now, outbox);
        flush();
      }
      commit_turn();
      if (active) work += common::MonoClock::now() - work_start;
      if (shutting_down && may_exit(now)) break;
    }
    commit_turn();
    if (store->pending() > 0) {
      log->error("stopped with writes the store did not take pending_writes={} err={}", store->pending(), store->last_error());
    }
    const auto& c = core.counters();
    log->info("stopped accepted={} completed={} failed={} requeued={} late_answers={} cases_left_stored={}", c.accepted,
              c.completed, c.failed, c.requeued, c.late_answers, store->durable() ? core.active_cases() : 0);
    return 0;
  }
};

App::App(Settings settings) : impl_(std::make_unique<Impl>(std::move(settings))) {}
App::~App() = default;

int App::run() {
  return impl_->run();
}

}  // namespace broker
