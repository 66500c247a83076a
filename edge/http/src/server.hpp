#pragma once
// casebus-edge's HTTP/1.1 server (docs/api.md): Boost.Beast on one io_context thread, TLS when
// configured, keep-alive, bounded headers, bodies, times and connections. Requests are
// authenticated (auth.hpp) before their body is parsed, rate-limited per tenant and customer,
// validated against the case schema, redacted, and submitted to the broker with the bus client.
//
// Everything runs on the io_context given to the constructor; the Beast-heavy code lives in
// server.cpp only (build time).
#include "settings.hpp"

#include <boost/asio/io_context.hpp>
#include <zmq.hpp>

#include <functional>
#include <memory>

namespace edge {

class Server final {
 public:
  Server(boost::asio::io_context& io, zmq::context_t& ctx, Settings settings);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting; returns the bound port (settings may ask for 0).
  std::uint16_t start();
  // Stops accepting, lets requests in progress finish within grace, then calls on_stopped.
  void stop(std::chrono::milliseconds grace, std::function<void()> on_stopped);
  // One line for sd_notify STATUS= (on the io_context thread).
  std::string status_line() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace edge
