#pragma once
// A local casebus stack for process tests: a broker on ephemeral loopback ports and agent
// processes pointed at it, plus bus-client helpers. Stderr of everything is dumped on failure.
#include "process.hpp"

#include "common/bus/client.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace testsupport {

// Paths of the binaries under test, from CMake's $<TARGET_FILE:...>.
struct Binaries {
  static std::string broker();
  static std::string echo();
  static std::string classifier();
  static std::string fraud_reviewer();
  static std::string response_drafter();
  static std::string escalation();
  static std::string test_agent();
  static std::string edge();
  static std::string ctl();
};

// A file of the source tree (deploy/config/broker.json, examples/...).
std::string source_path(const std::string& relative);

// deploy/config/broker.json without its endpoints and log settings, for Stack's config.
nlohmann::json shipped_broker_config();

class Stack final {
 public:
  // broker_config: JSON merged over the test defaults (ephemeral ports, 100 ms heartbeats).
  explicit Stack(const nlohmann::json& broker_config = nlohmann::json::object());
  ~Stack();

  Process& start_broker();
  // Restarts the broker on the same endpoints (after a kill).
  Process& restart_broker();
  Process& broker() { return *broker_; }
  Process& start_agent(const std::string& name, std::vector<std::string> args = {},
                       const std::string& binary = Binaries::echo(), std::vector<std::string> env = {});
  // One process of each of the four agents with its shipped config (deploy/config/), except the
  // kinds listed in skip.
  void start_banking_agents(const std::vector<std::string>& skip = {});
  const std::string& client_endpoint() const { return client_endpoint_; }
  // Socket options of the stack's own bus clients (stats, submit): CURVE keys for a keyed broker.
  void set_client_options(const common::bus::SocketOptions& o) { client_options_ = o; }
  const std::string& agent_endpoint() const { return agent_endpoint_; }
  TempDir& dir() { return dir_; }

  nlohmann::json stats();
  // The stderr of the broker and every agent so far.
  std::string all_stderr() const;
  // Waits until the broker reports n registered workers of the kind.
  bool wait_workers(const std::string& kind, std::size_t n, std::chrono::milliseconds timeout = 10s);
  common::bus::Outcome submit(const std::string& envelope, std::chrono::milliseconds timeout = 10s);
  // Submits all envelopes at once (one client, all in flight) and waits for every outcome.
  std::vector<common::bus::Outcome> submit_all(const std::vector<std::string>& envelopes,
                                               std::chrono::milliseconds timeout = 20s);

 private:
  TempDir dir_;
  nlohmann::json config_;
  std::string client_endpoint_, agent_endpoint_;
  common::bus::SocketOptions client_options_;
  std::unique_ptr<Process> broker_;
  std::vector<std::unique_ptr<Process>> old_brokers_;
  std::vector<std::unique_ptr<Process>> agents_;
};

// A submission envelope for the echo agent.
std::string echo_case(const nlohmann::json& payload = {{"message", "hello"}}, const std::string& tenant = "acme");

}  // namespace testsupport
