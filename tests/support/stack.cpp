#include "stack.hpp"

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace testsupport {

std::string Binaries::broker() { return CASEBUS_BROKER_BIN; }
std::string Binaries::echo() { return CASEBUS_ECHO_BIN; }
std::string Binaries::classifier() { return CASEBUS_CLASSIFIER_BIN; }
std::string Binaries::fraud_reviewer() { return CASEBUS_FRAUD_REVIEWER_BIN; }
std::string Binaries::response_drafter() { return CASEBUS_RESPONSE_DRAFTER_BIN; }
std::string Binaries::escalation() { return CASEBUS_ESCALATION_BIN; }
std::string Binaries::test_agent() { return CASEBUS_TEST_AGENT_BIN; }
std::string Binaries::edge() { return CASEBUS_EDGE_BIN; }
std::string Binaries::ctl() { return CASEBUSCTL_BIN; }

std::string source_path(const std::string& relative) {
  return std::string(CASEBUS_SOURCE_DIR) + "/" + relative;
}

nlohmann::json shipped_broker_config() {
  std::ifstream f(source_path("deploy/config/broker.json"));
  auto j = nlohmann::json::parse(f);
  // The stack's own endpoints, log level and (temporary) state directory apply.
  for (const char* k : {"client_endpoint", "agent_endpoint", "log", "storage"}) j.erase(k);
  return j;
}

Stack::Stack(const nlohmann::json& broker_config) {
  config_ = {{"client_endpoint", "tcp://127.0.0.1:*"},
             {"agent_endpoint", "tcp://127.0.0.1:*"},
             {"heartbeat_interval_ms", 100},
             {"heartbeat_liveness", 3},
             {"shutdown_grace_ms", 5000},
             // Durable, as shipped: every process test runs the store too.
             {"storage", {{"mode", "sqlite"}, {"state_dir", (dir_.path() / "state").string()}}},
             {"log", {{"level", "debug"}}}};
  config_.merge_patch(broker_config);
}

Stack::~Stack() {
  std::vector<const Process*> all;
  for (const auto& b : old_brokers_) all.push_back(b.get());
  if (broker_) all.push_back(broker_.get());
  for (const auto& a : agents_) all.push_back(a.get());
  dump_on_failure(all);
}

Process& Stack::start_broker() {
  const auto path = dir_.write("broker.json", config_.dump());
  broker_ = std::make_unique<Process>("broker", Binaries::broker(), std::vector<std::string>{"--config", path.string()}, dir_);
  const auto ready = broker_->wait_ready();
  client_endpoint_ = ready.at("CASEBUS_CLIENT_ENDPOINT");
  agent_endpoint_ = ready.at("CASEBUS_AGENT_ENDPOINT");
  return *broker_;
}

Process& Stack::restart_broker() {
  if (broker_) old_brokers_.push_back(std::move(broker_));
  config_["client_endpoint"] = client_endpoint_;
  config_["agent_endpoint"] = agent_endpoint_;
  return start_broker();
}

Process& Stack::start_agent(const std::string& name, std::vector<std::string> args, const std::string& binary,
                           std::vector<std::string> env) {
  args.insert(args.begin(), {"--broker", agent_endpoint_, "--worker", name, "--log-level", "debug"});
  agents_.push_back(std::make_unique<Process>(name, binary, std::move(args), dir_, std::move(env)));
  agents_.back()->wait_ready();
  return *agents_.back();
}

void Stack::start_banking_agents(const std::vector<std::string>& skip) {
  const std::pair<const char*, std::string> agents[] = {{"classifier", Binaries::classifier()},
                                                        {"fraud_reviewer", Binaries::fraud_reviewer()},
                                                        {"response_drafter", Binaries::response_drafter()},
                                                        {"escalation", Binaries::escalation()}};
  for (const auto& [kind, binary] : agents) {
    if (std::find(skip.begin(), skip.end(), kind) != skip.end()) continue;
    std::string file = kind;
    std::replace(file.begin(), file.end(), '_', '-');
    const auto config = source_path("deploy/config/" + file + ".json");
    std::vector<std::string> args;
    if (std::filesystem::exists(config)) args = {"--config", config};
    start_agent(std::string(kind) + "-1", args, binary);
  }
}

std::string Stack::all_stderr() const {
  std::string s;
  for (const auto& b : old_brokers_) s += b->stderr_text();
  if (broker_) s += broker_->stderr_text();
  for (const auto& a : agents_) s += a->stderr_text();
  return s;
}

nlohmann::json Stack::stats() {
  common::bus::SyncBusClient client(client_endpoint_, client_options_);
  const auto r = client.stats(5s);
  if (r.status != common::bus::Outcome::Status::kReply) throw std::runtime_error("no stats from the broker");
  return nlohmann::json::parse(r.body);
}

bool Stack::wait_workers(const std::string& kind, std::size_t n, std::chrono::milliseconds timeout) {
  return eventually(
      [&] {
        const auto s = stats();
        auto it = s.at("kinds").find(kind);
        // A kind with no workers and nothing queued is not listed at all.
        const std::size_t workers = it == s.at("kinds").end() ? 0 : it->at("workers").get<std::size_t>();
        return workers == n;
      },
      timeout);
}

common::bus::Outcome Stack::submit(const std::string& envelope, std::chrono::milliseconds timeout) {
  common::bus::SyncBusClient client(client_endpoint_, client_options_);
  return client.submit(envelope, timeout);
}

std::vector<common::bus::Outcome> Stack::submit_all(const std::vector<std::string>& envelopes,
                                                    std::chrono::milliseconds timeout) {
  zmq::context_t ctx(1);
  boost::asio::io_context io;
  std::vector<common::bus::Outcome> outcomes(envelopes.size());
  std::size_t done = 0;
  {
    common::bus::BusClient client(io, ctx, client_endpoint_, client_options_);
    for (std::size_t i = 0; i < envelopes.size(); ++i) {
      client.submit(envelopes[i], timeout, [&, i](common::bus::Outcome o) {
        outcomes[i] = std::move(o);
        ++done;
      });
    }
    // Each submission has its own timeout, so this loop ends.
    while (done < envelopes.size()) io.run_one_for(timeout);
  }
  return outcomes;
}

std::string echo_case(const nlohmann::json& payload, const std::string& tenant) {
  return nlohmann::json{{"v", 1}, {"type", "case"}, {"tenant", tenant}, {"to", "echo"}, {"payload", payload}}.dump();
}

}  // namespace testsupport
