#pragma once
// The agent runtime: connects to the broker, registers its kind and capacity, heartbeats, takes
// tasks up to capacity, runs the handler, answers DONE or FAIL, reconnects with backoff when the
// broker goes away, and drains on request (take nothing new, finish in-flight work within a grace
// period, unregister).
//
// Everything runs on one io_context thread. A handler may answer later and from any thread: the
// Responder posts the answer back to the runtime's thread. So one process can hold many tasks
// (an LLM-backed agent keeps hundreds of model calls in flight) without a thread per task.
#include "common/bus/curve.hpp"
#include "common/bus/envelope.hpp"
#include "common/util/json.hpp"

#include <boost/asio/io_context.hpp>
#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace common::agent {

struct Settings {
  std::string broker_endpoint = "tcp://127.0.0.1:7102";
  std::string kind;    // fixed by the executable
  std::string worker;  // instance name; default "<hostname>:<pid>"
  int capacity = 64;
  std::chrono::milliseconds reconnect_initial{100};
  std::chrono::milliseconds reconnect_max{5000};
  std::chrono::milliseconds drain_grace{10000};
  std::int64_t max_message_bytes = 1 << 20;
  bus::CurveClientSettings curve;  // CURVE to the broker (docs/security.md#curve); empty: plaintext
};

// Config keys: broker_endpoint, worker, capacity, reconnect_initial_ms, reconnect_max_ms,
// drain_grace_ms, max_message_bytes, curve. Unknown keys are rejected by the caller (run_agent).
void read_settings(const nlohmann::json& j, Settings& s);

struct Task {
  bus::Envelope envelope;
  // Set when the broker cancels the task (its case passed its deadline). Handlers doing long work
  // may check it; the task must still be answered.
  std::shared_ptr<const std::atomic<bool>> cancelled;
  // Tasks this process held when this one arrived, itself included.
  std::size_t in_flight_at_start = 0;
};

class Runtime;

// Answers one task exactly once: done() or fail(). Thread-safe; move-only. A Responder destroyed
// without an answer fails the task as retryable ("handler_dropped_task"), so nothing hangs.
class Responder final {
 public:
  Responder() = default;
  Responder(Responder&&) noexcept = default;
  Responder& operator=(Responder&&) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder();

  // result_json: a JSON object; it may name the next agent kind in "next". meta_json (optional):
  // what the answer cost, recorded in the case's trail (DONE_META; docs/protocol.md), e.g.
  // {"model":"claude-x","model_calls":1,"input_tokens":321,"output_tokens":45,"model_ms":812}.
  void done(std::string result_json, std::string meta_json = {});
  void fail(std::string code, std::string message, bool retryable);

 private:
  friend class Runtime;
  struct Shared;
  Responder(std::shared_ptr<Shared> shared, std::string task_id);
  void answer(bool ok, std::string a, std::string b, bool retryable, std::string meta = {});
  std::shared_ptr<Shared> shared_;
  std::string task_id_;
};

using Handler = std::function<void(Task task, Responder responder)>;

class Runtime final {
 public:
  Runtime(boost::asio::io_context& io, zmq::context_t& ctx, Settings settings, Handler handler);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  void start();
  // Stop taking tasks, finish in-flight ones within settings.drain_grace, unregister, close the
  // socket, then call on_drained (on the io_context thread).
  void drain(std::function<void()> on_drained);

  std::size_t in_flight() const;
  bool registered() const;
  const Settings& settings() const;

 private:
  friend class Responder;
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace common::agent
