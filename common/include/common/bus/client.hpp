#pragma once
// The bus client: submit a case and await its final result, with a timeout. Used by the edge,
// casebusctl, the benchmarks and tests.
//
// BusClient is the callback form, on the caller's io_context (one thread, not thread-safe); many
// submissions may be in flight at once. SyncBusClient owns its own io_context and blocks.
#include "common/bus/asio_zmq.hpp"
#include "common/util/error.hpp"
#include "common/util/time.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

namespace common::bus {

struct Outcome {
  enum class Status {
    kCompleted,  // the broker sent the final case (whatever its status): body is the case JSON
    kRejected,   // the broker refused the submission: error says why (busy, invalid_field, ...)
    kTimeout,    // no final answer in time; case_id is set when the broker had accepted it
    kReply,      // a stats or control reply: body is the JSON
  };
  Status status = Status::kTimeout;
  std::string case_id;
  std::string body;
  Error error;
};

class BusClient final {
 public:
  using Callback = std::function<void(Outcome)>;
  using AcceptedCallback = std::function<void(const std::string& case_id)>;

  BusClient(boost::asio::io_context& io, zmq::context_t& ctx, const std::string& endpoint,
            const SocketOptions& options = {});
  ~BusClient();

  // envelope_json: an envelope of type "case" (docs/envelope.md). `done` is called exactly once.
  void submit(std::string_view envelope_json, std::chrono::milliseconds timeout, Callback done,
              AcceptedCallback accepted = {});
  void stats(std::chrono::milliseconds timeout, Callback done);
  // A control request (docs/protocol.md#control): kReply with the answer, or kRejected.
  void control(std::string_view request_json, std::chrono::milliseconds timeout, Callback done);
  std::size_t pending() const { return pending_.size(); }
  // Messages from the broker that matched no pending request (late answers after a timeout).
  std::uint64_t unmatched() const { return unmatched_; }

 private:
  struct Pending {
    Callback done;
    AcceptedCallback accepted;
    MonoTime deadline;
    std::string case_id;
  };
  void on_message(std::vector<zmq::message_t>& parts);
  std::uint64_t add(std::chrono::milliseconds timeout, Callback done, AcceptedCallback accepted);
  void finish(std::uint64_t corr, Outcome outcome);
  void arm_timer();
  void on_timer();

  boost::asio::io_context& io_;
  AsioZmqSocket socket_;
  boost::asio::steady_timer timer_;
  MonoTime timer_expiry_ = MonoTime::max();
  std::uint64_t next_corr_ = 1;
  std::uint64_t unmatched_ = 0;
  std::unordered_map<std::uint64_t, Pending> pending_;
  std::set<std::pair<MonoTime, std::uint64_t>> deadlines_;
  // Handlers check this before touching the client: a timer that already fired cannot be
  // cancelled, and callbacks may destroy the client.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Blocking form for tools and tests: owns a ZeroMQ context and an io_context.
class SyncBusClient final {
 public:
  explicit SyncBusClient(const std::string& endpoint, const SocketOptions& options = {});
  ~SyncBusClient();
  Outcome submit(std::string_view envelope_json, std::chrono::milliseconds timeout);
  Outcome stats(std::chrono::milliseconds timeout);
  Outcome control(std::string_view request_json, std::chrono::milliseconds timeout);

 private:
  Outcome wait(const std::function<void(BusClient::Callback)>& start);
  zmq::context_t ctx_;
  boost::asio::io_context io_;
  std::unique_ptr<BusClient> client_;
};

}  // namespace common::bus
