#pragma once
// The broker process: binds the client and agent ROUTER sockets, runs the protocol core in one
// thread with zmq::poll, and shuts down on SIGTERM/SIGINT (stop accepting, let in-flight hops
// finish within the grace period, answer what is left as failed, exit).
//
// Construction binds (and throws on failure); run() returns the exit code.
#include "broker/settings.hpp"

#include <memory>

namespace broker {

class App final {
 public:
  explicit App(Settings settings);
  ~App();
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace broker
