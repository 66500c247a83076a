#pragma once
// The one adapter that runs a ZeroMQ socket inside an Asio io_context (CONVENTIONS §5).
//
// ZMQ_FD is edge-triggered and only says "look at ZMQ_EVENTS": after it fires we drain messages
// until ZMQ_EVENTS has no POLLIN, and because any send or receive may consume the edge, every send
// schedules one more check of ZMQ_EVENTS. Draining is batched and re-posted so that one busy
// socket cannot starve timers and other handlers on the same io_context.
//
// Thread affinity: everything runs on the io_context's thread; not thread-safe.
#include "common/bus/protocol.hpp"
#include "common/bus/socket.hpp"

#include <boost/asio/io_context.hpp>
#include <zmq.hpp>

#include <functional>
#include <memory>
#include <vector>

namespace common::bus {

class AsioZmqSocket final {
 public:
  using MessageHandler = std::function<void(std::vector<zmq::message_t>& parts)>;

  AsioZmqSocket(boost::asio::io_context& io, zmq::socket_t socket, MessageHandler on_message);
  ~AsioZmqSocket();
  AsioZmqSocket(const AsioZmqSocket&) = delete;
  AsioZmqSocket& operator=(const AsioZmqSocket&) = delete;

  // Sends without blocking; kWouldBlock when the peer's queue is full.
  SendResult send(const Frames& frames);
  // Stops watching and closes the socket; pending handlers become no-ops. Idempotent.
  void close();
  zmq::socket_t& socket();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace common::bus
