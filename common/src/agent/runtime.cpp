#include "common/agent/runtime.hpp"

#include "common/bus/asio_zmq.hpp"
#include "common/bus/protocol.hpp"
#include "common/util/daemon.hpp"
#include "common/util/ids.hpp"
#include "common/util/log.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <unistd.h>

#include <random>
#include <unordered_map>

namespace common::agent {

namespace asio = boost::asio;
using namespace std::chrono_literals;

void read_settings(const nlohmann::json& j, Settings& s) {
  json::get_optional(j, "broker_endpoint", s.broker_endpoint);
  json::get_optional(j, "worker", s.worker);
  json::get_optional(j, "capacity", s.capacity);
  json::get_optional(j, "max_message_bytes", s.max_message_bytes);
  auto ms = [&](const char* key, std::chrono::milliseconds& out) {
    if (auto it = j.find(key); it != j.end()) out = std::chrono::milliseconds(json::integer_at(*it, key));
  };
  ms("reconnect_initial_ms", s.reconnect_initial);
  ms("reconnect_max_ms", s.reconnect_max);
  ms("drain_grace_ms", s.drain_grace);
  if (auto it = j.find("curve"); it != j.end()) from_json(*it, s.curve);
  if (s.capacity < 1 || s.capacity > bus::kMaxCapacity) throw std::invalid_argument("capacity must be between 1 and 100000");
  if (s.reconnect_initial.count() < 1 || s.reconnect_max < s.reconnect_initial) {
    throw std::invalid_argument("reconnect_initial_ms must be >= 1 and <= reconnect_max_ms");
  }
  if (s.drain_grace.count() < 0) throw std::invalid_argument("drain_grace_ms must be >= 0");
  if (s.broker_endpoint.empty()) throw std::invalid_argument("broker_endpoint must not be empty");
  if (s.worker.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    s.worker = std::string(host) + ":" + std::to_string(::getpid());
  }
  if (s.worker.size() > 128) throw std::invalid_argument("worker must be at most 128 bytes");
}

// What a Responder needs of the runtime, kept alive by Responders that outlive it.
struct Responder::Shared {
  asio::io_context& io;
  std::weak_ptr<Runtime::Impl> runtime;
};

struct Runtime::Impl : std::enable_shared_from_this<Runtime::Impl> {
  struct InFlight {
    std::shared_ptr<std::atomic<bool>> cancelled;
    MonoTime started;
  };

  asio::io_context& io;
  zmq::context_t& ctx;
  Settings settings;
  Handler handler;
  std::shared_ptr<spdlog::logger> log;
  std::shared_ptr<Responder::Shared> shared;
  bus::EnvelopeCodec codec;
  bus::CurveOptions curve;  // read once: a bad key file stops the start

  std::unique_ptr<bus::AsioZmqSocket> socket;
  asio::steady_timer tick_timer;
  asio::steady_timer reconnect_timer;
  asio::steady_timer drain_timer;
  std::unordered_map<std::string, InFlight> in_flight;

  std::chrono::milliseconds heartbeat{1000};
  int liveness = 3;
  MonoTime last_recv{};
  MonoTime last_send{};
  MonoTime tick_due{};
  bool registered = false;
  bool ever_registered = false;
  bool draining = false;
  bool stopped = false;
  int reconnect_failures = 0;
  std::function<void()> on_drained;
  std::mt19937_64 jitter{std::random_device{}()};

  Impl(asio::io_context& io_, zmq::context_t& ctx_, Settings s, Handler h)
      : io(io_), ctx(ctx_), settings(std::move(s)), handler(std::move(h)),
        log(log::get("agent." + settings.kind)), curve(bus::client_curve_options(settings.curve)), tick_timer(io_),
        reconnect_timer(io_), drain_timer(io_) {}

  void connect() {
    if (stopped) return;
    bus::SocketOptions o;
    o.max_message_bytes = settings.max_message_bytes;
    o.curve = curve;
    auto sock = bus::make_socket(ctx, zmq::socket_type::dealer, o);
    sock.connect(settings.broker_endpoint);
    std::weak_ptr<Impl> weak = shared_from_this();
    socket = std::make_unique<bus::AsioZmqSocket>(io, std::move(sock), [weak](std::vector<zmq::message_t>& parts) {
      if (auto self = weak.lock()) self->on_message(parts);
    });
    registered = false;
    last_recv = MonoClock::now();
    send(bus::encode_ready({settings.kind, settings.worker, settings.capacity}));
    log->debug("registering endpoint={} agent={} worker={} capacity={}", settings.broker_endpoint,
               settings.kind, settings.worker, settings.capacity);
    schedule_tick();
  }

  void reconnect(std::chrono::milliseconds delay) {
    if (socket) socket->close();
    socket.reset();
    registered = false;
    reconnect_timer.expires_after(delay);
    reconnect_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (auto self = weak.lock(); self && !ec) self->connect();
    });
  }

  std::chrono::milliseconds backoff() {
    // Exponential with jitter in [cap/2, cap], so a fleet of agents does not reconnect in lockstep.
    const auto cap = std::min<std::int64_t>(settings.reconnect_max.count(),
                                            settings.reconnect_initial.count() << std::min(reconnect_failures, 20));
    ++reconnect_failures;
    std::uniform_int_distribution<std::int64_t> d(cap / 2, std::max<std::int64_t>(cap / 2, cap));
    return std::chrono::milliseconds(d(jitter));
  }

  void send(const bus::Frames& frames) {
    if (!socket) {
      log->debug("not connected, message dropped (the broker requeues tasks of a lost agent) endpoint={}",
                 settings.broker_endpoint);
      return;
    }
    if (socket->send(frames) != bus::SendResult::kSent) {
      log->warn("send to broker would block; message dropped, the broker will requeue endpoint={}",
                settings.broker_endpoint);
      return;
    }
    last_send = MonoClock::now();
  }

  void schedule_tick() {
    tick_due = MonoClock::now() + heartbeat;
    tick_timer.expires_at(tick_due);
    tick_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (auto self = weak.lock(); self && !ec) self->on_tick();
    });
  }

  void on_tick() {
    if (stopped || !socket) return;
    const auto now = MonoClock::now();
    if (now - tick_due > heartbeat) {
      // This tick is late by more than an interval: this process was paused (stopped, swapped,
      // starved), so silence says nothing about the broker yet. Give it one more interval.
      log->debug("process was paused ms={}", std::chrono::duration_cast<std::chrono::milliseconds>(now - tick_due).count());
      last_recv = std::max(last_recv, now - heartbeat * (liveness - 1));
    }
    if (now - last_recv > heartbeat * liveness) {
      log->warn("broker silent, reconnecting endpoint={} ms={}", settings.broker_endpoint,
                std::chrono::duration_cast<std::chrono::milliseconds>(now - last_recv).count());
      reconnect(backoff());
      return;
    }
    if (now - last_send >= heartbeat / 2) send(bus::encode_heartbeat());
    schedule_tick();
  }

  void on_message(std::vector<zmq::message_t>& parts) {
    last_recv = MonoClock::now();
    std::string_view views[4];
    if (parts.size() > std::size(views)) {
      log->warn("broker message with too many frames frames={}", parts.size());
      return;
    }
    for (std::size_t i = 0; i < parts.size(); ++i) views[i] = parts[i].to_string_view();
    auto msg = bus::decode_broker_to_agent(bus::FrameViews(views, parts.size()));
    if (!msg) {
      log->warn("undecodable broker message err={}", msg.error().describe());
      return;
    }
    std::visit([&](auto& m) { handle(m); }, *msg);
  }

  void handle(const bus::WelcomeMsg& m) {
    heartbeat = std::chrono::milliseconds(m.heartbeat_ms);
    liveness = m.liveness;
    registered = true;
    reconnect_failures = 0;
    log->info("registered endpoint={} agent={} worker={} capacity={} heartbeat_ms={}", settings.broker_endpoint,
              settings.kind, settings.worker, settings.capacity, m.heartbeat_ms);
    if (!ever_registered) {
      ever_registered = true;
      daemon::notify_ready("registered with " + settings.broker_endpoint,
                           {{"CASEBUS_BROKER_ENDPOINT", settings.broker_endpoint}});
    }
    if (draining) send(bus::encode_drain());
    schedule_tick();
  }

  void handle(const bus::TaskMsg& m) {
    auto env = codec.decode(m.envelope);
    if (!env || env->type != bus::EnvelopeType::kTask) {
      // Answer it if its id is readable, so the broker frees the slot and fails the case rather
      // than waiting for an answer that would never come.
      const std::string err = env ? "not a task envelope" : env.error().describe();
      log->error("undecodable task from broker err={}", err);
      try {
        const auto j = nlohmann::json::parse(m.envelope);
        const auto id = j.at("id").get<std::string>();
        if (bus::valid_id(id)) send(bus::encode_fail(id, "invalid_task", err, false));
      } catch (const nlohmann::json::exception&) {
        // no readable id: nothing to answer
      }
      return;
    }
    const std::string task_id = env->id;
    if (in_flight.count(task_id)) {
      log->warn("task delivered twice, ignoring the copy task_id={} case_id={}", task_id, env->case_id);
      return;
    }
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    in_flight.emplace(task_id, InFlight{cancelled, MonoClock::now()});
    log->debug("task received case_id={} task_id={} tenant={} agent={} attempt={}", env->case_id, task_id,
               env->tenant, settings.kind, env->attempt);
    Task task{std::move(*env), cancelled, in_flight.size()};
    Responder r(shared, task_id);
    try {
      handler(std::move(task), std::move(r));
    } catch (const std::exception& e) {
      // The Responder was moved into the handler; if it is still unanswered its destructor fails
      // the task. Log here so the exception does not vanish.
      log->error("handler threw task_id={} agent={} err={}", task_id, settings.kind, e.what());
    }
  }

  void handle(const bus::BrokerHeartbeatMsg&) {}

  void handle(const bus::BrokerDisconnectMsg& m) {
    log->info("broker asked to re-register reason={} endpoint={}", m.reason, settings.broker_endpoint);
    reconnect(0ms);
  }

  void handle(const bus::CancelMsg& m) {
    if (auto it = in_flight.find(std::string(m.task_id)); it != in_flight.end()) {
      it->second.cancelled->store(true);
      log->debug("task cancelled task_id={}", m.task_id);
      return;
    }
    // Not held here (never decoded, or from before a reconnect): say so, so the broker frees the slot.
    send(bus::encode_fail(m.task_id, "unknown_task", "the agent does not hold this task", false));
  }

  void handle(const bus::AgentErrorMsg& m) {
    log->warn("broker reported an error err={}", m.error_json);
  }

  void finish(const std::string& task_id, bus::Frames frames) {
    auto it = in_flight.find(task_id);
    if (it == in_flight.end()) return;  // answered already
    const auto ms = std::chrono::duration_cast<std::chrono::microseconds>(MonoClock::now() - it->second.started);
    in_flight.erase(it);
    send(frames);
    log->debug("task answered task_id={} agent={} ms={:.3f}", task_id, settings.kind, ms.count() / 1000.0);
    if (draining && in_flight.empty()) finish_drain();
  }

  void drain(std::function<void()> cb) {
    if (draining) return;
    draining = true;
    on_drained = std::move(cb);
    log->info("draining agent={} worker={} in_flight={} grace_ms={}", settings.kind, settings.worker,
              in_flight.size(), settings.drain_grace.count());
    daemon::notify_stopping();
    send(bus::encode_drain());
    if (in_flight.empty()) {
      finish_drain();
      return;
    }
    drain_timer.expires_after(settings.drain_grace);
    drain_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (auto self = weak.lock(); self && !ec && !self->stopped) {
        self->log->warn("drain grace expired, the broker requeues what is left in_flight={}",
                        self->in_flight.size());
        self->finish_drain();
      }
    });
  }

  void finish_drain() {
    if (stopped) return;
    stopped = true;
    send(bus::encode_disconnect());
    if (socket) socket->close();  // linger flushes DISCONNECT
    socket.reset();
    tick_timer.cancel();
    reconnect_timer.cancel();
    drain_timer.cancel();
    log->info("stopped agent={} worker={} unfinished={}", settings.kind, settings.worker, in_flight.size());
    if (on_drained) asio::post(io, std::move(on_drained));
  }
};

Responder::Responder(std::shared_ptr<Shared> shared, std::string task_id)
    : shared_(std::move(shared)), task_id_(std::move(task_id)) {}

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    if (shared_) answer(false, "handler_dropped_task", "the handler dropped the task unanswered", true);
    shared_ = std::move(other.shared_);
    task_id_ = std::move(other.task_id_);
  }
  return *this;
}

Responder::~Responder() {
  if (shared_) answer(false, "handler_dropped_task", "the handler dropped the task unanswered", true);
}

void Responder::done(std::string result_json, std::string meta_json) {
  answer(true, std::move(result_json), {}, false, std::move(meta_json));
}

void Responder::fail(std::string code, std::string message, bool retryable) {
  answer(false, std::move(code), std::move(message), retryable);
}

void Responder::answer(bool ok, std::string a, std::string b, bool retryable, std::string meta) {
  if (!shared_) return;
  auto shared = std::move(shared_);
  shared_.reset();
  bus::Frames frames;
  try {
    if (!ok) {
      frames = bus::encode_fail(task_id_, a, b, retryable);
    } else if (meta.empty()) {
      frames = bus::encode_done(task_id_, a);
    } else {
      frames = bus::encode_done_meta(task_id_, a, meta);
    }
  } catch (const std::exception& e) {
    frames = bus::encode_fail(task_id_, "agent_error", std::string("answer not encodable: ") + e.what(), false);
  }
  asio::post(shared->io, [weak = shared->runtime, id = std::move(task_id_), frames = std::move(frames)]() mutable {
    if (auto rt = weak.lock()) rt->finish(id, std::move(frames));
  });
}

Runtime::Runtime(asio::io_context& io, zmq::context_t& ctx, Settings settings, Handler handler)
    : impl_(std::make_shared<Impl>(io, ctx, std::move(settings), std::move(handler))) {
  impl_->shared = std::make_shared<Responder::Shared>(Responder::Shared{io, impl_});
}

Runtime::~Runtime() {
  impl_->stopped = true;
  if (impl_->socket) impl_->socket->close();
  impl_->tick_timer.cancel();
  impl_->reconnect_timer.cancel();
  impl_->drain_timer.cancel();
}

void Runtime::start() {
  impl_->connect();
}

void Runtime::drain(std::function<void()> on_drained) {
  impl_->drain(std::move(on_drained));
}

std::size_t Runtime::in_flight() const {
  return impl_->in_flight.size();
}

bool Runtime::registered() const {
  return impl_->registered;
}

const Settings& Runtime::settings() const {
  return impl_->settings;
}

}  // namespace common::agent
