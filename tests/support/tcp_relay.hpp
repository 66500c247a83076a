#pragma once
// A loopback TCP relay that records every byte it forwards, both ways: what a capture on the wire
// between two casebus processes would see (tests of CURVE: with keys, no plaintext crosses).
#include <cstdint>
#include <memory>
#include <string>

namespace testsupport {

class TcpRelay final {
 public:
  // Listens on 127.0.0.1 (an ephemeral port) and forwards each connection to target_port.
  explicit TcpRelay(std::uint16_t target_port);
  ~TcpRelay();
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  std::uint16_t port() const;
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port()); }
  // Everything forwarded so far, both directions.
  std::string captured() const;
  std::size_t connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The port of a "tcp://host:port" endpoint.
std::uint16_t port_of(const std::string& endpoint);

}  // namespace testsupport
