// Running as a service (docs/operations.md, docs/security.md): the sd_notify protocol of every
// daemon, and CURVE on the bus: keys made by casebusctl keygen, unknown keys refused, and no
// plaintext on the wire.
#include "stack.hpp"
#include "tcp_relay.hpp"

#include "common/bus/curve.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <sstream>

namespace testsupport {
namespace {

using nlohmann::json;
namespace bus = common::bus;

// A short watchdog: WATCHDOG=1 is due every 150 ms.
const std::string kWatchdog = "WATCHDOG_USEC=300000";

// After READY: two watchdog pings, then SIGTERM gives STOPPING=1 and a clean exit.
void expect_watchdog_then_stopping(Process& p) {
  EXPECT_TRUE(p.wait_notify("WATCHDOG", 5s)) << p.name() << " sent no WATCHDOG=1";
  EXPECT_TRUE(p.wait_notify("WATCHDOG", 5s)) << p.name() << " sent one WATCHDOG=1 only";
  p.signal(SIGTERM);
  EXPECT_TRUE(p.wait_notify("STOPPING", 15s)) << p.name() << " sent no STOPPING=1";
  EXPECT_EQ(p.wait_exit(20s), 0) << p.name();
}

TEST(Notify, TheBrokerSendsReadyStatusWatchdogAndStopping) {
  TempDir dir;
  const auto config = dir.write("broker.json", json{{"client_endpoint", "tcp://127.0.0.1:*"},
                                                    {"agent_endpoint", "tcp://127.0.0.1:*"},
                                                    {"storage", {{"state_dir", (dir.path() / "state").string()}}}}
                                                   .dump());
  Process broker("broker", Binaries::broker(), {"--config", config.string()}, dir, {kWatchdog});
  dump_on_failure({&broker});
  const auto ready = broker.wait_ready();
  EXPECT_NE(ready.at("STATUS").find("serving clients on tcp://127.0.0.1:"), std::string::npos);
  // The loop's own status line follows at once.
  const auto status = broker.wait_notify("STATUS", 5s);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->at("STATUS"), "serving: 0 cases active, 0 tasks out, 0 workers");
  expect_watchdog_then_stopping(broker);
}

TEST(Notify, EveryAgentSendsReadyWatchdogAndStopping) {
  Stack s;
  s.start_broker();
  const std::pair<const char*, std::string> agents[] = {{"classifier", Binaries::classifier()},
                                                        {"fraud-reviewer", Binaries::fraud_reviewer()},
                                                        {"response-drafter", Binaries::response_drafter()},
                                                        {"escalation", Binaries::escalation()}};
  for (const auto& [name, binary] : agents) {
    const auto config = source_path("deploy/config/" + std::string(name) + ".json");
    std::vector<std::string> args;
    if (std::filesystem::exists(config)) args = {"--config", config};
    auto& p = s.start_agent(name, args, binary, {kWatchdog});
    expect_watchdog_then_stopping(p);
  }
}

TEST(Notify, TheEdgeSendsReadyStatusWatchdogAndStopping) {
  Stack s;
  s.start_broker();
  const auto config = s.dir().write("edge.json", json{{"listen", "127.0.0.1:0"},
                                                      {"broker_endpoint", s.client_endpoint()},
                                                      {"tenants", {{"acme", {{"secrets", {"0123456789abcdef0123456789abcdef"}}}}}}}
                                                     .dump());
  Process edge("edge", Binaries::edge(), {"--config", config.string()}, s.dir(), {kWatchdog});
  dump_on_failure({&edge});
  const auto ready = edge.wait_ready();
  EXPECT_NE(ready.at("STATUS").find("serving 127.0.0.1:"), std::string::npos);
  const auto status = edge.wait_notify("STATUS", 5s);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->at("STATUS"), "serving: 0 connections, 0 cases tracked");
  expect_watchdog_then_stopping(edge);
}

// ------------------------------------------------------------------------------------------
// CURVE

struct Keys {
  std::filesystem::path dir;
  bus::KeyPair broker, agent, client, stranger;
  std::filesystem::path key(const std::string& name) const { return dir / (name + ".key"); }
};

// The broker's pair from casebusctl keygen itself; the others from the same library call.
Keys make_keys(const TempDir& tmp) {
  Keys k;
  k.dir = tmp.path() / "keys";
  std::filesystem::create_directory(k.dir);
  Process keygen("keygen", Binaries::ctl(), {"keygen", "broker", "--out", k.dir.string()}, tmp);
  EXPECT_EQ(keygen.wait_exit(10s), 0) << keygen.stderr_text();
  k.broker = bus::read_key_file(k.key("broker"));
  EXPECT_NE(keygen.stderr_text().find(k.broker.public_key), std::string::npos) << keygen.stderr_text();
  struct stat st{};
  EXPECT_EQ(::stat(k.key("broker").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  for (auto [name, pair] : {std::pair{"agent", &k.agent}, std::pair{"client", &k.client}, std::pair{"stranger", &k.stranger}}) {
    *pair = bus::generate_key_pair();
    bus::write_key_files(k.dir, name, *pair);
  }
  std::ofstream(k.dir / "authorized_keys") << "# test fleet\nagent " << k.agent.public_key << " echo\nclient "
                                            << k.client.public_key << " tests\n";
  return k;
}

json broker_curve(const Keys& k) {
  return {{"curve", {{"key_file", k.key("broker").string()}, {"authorized_keys", (k.dir / "authorized_keys").string()}}}};
}

json peer_curve(const Keys& k, const std::string& name) {
  return {{"curve", {{"server_public_key", k.broker.public_key}, {"key_file", k.key(name).string()}}}};
}

bus::SocketOptions client_options(const Keys& k, const bus::KeyPair& pair) {
  bus::SocketOptions o;
  o.curve.public_key = pair.public_key;
  o.curve.secret_key = pair.secret_key;
  o.curve.server_key = k.broker.public_key;
  return o;
}

std::uint64_t denied(Stack& s) {
  return s.stats().at("curve").at("denied").get<std::uint64_t>();
}

TEST(Curve, KnownKeysWorkAndUnknownOnesCannotRegisterOrSubmit) {
  TempDir tmp;
  const auto k = make_keys(tmp);
  Stack s(broker_curve(k));
  s.start_broker();
  s.set_client_options(client_options(k, k.client));
  const auto agent_config = s.dir().write("agent.json", peer_curve(k, "agent").dump());
  s.start_agent("echo-1", {"--config", agent_config.string()});  // READY: registered
  EXPECT_TRUE(s.wait_workers("echo", 1));
  const auto stats = s.stats();
  EXPECT_EQ(stats.at("curve").at("enabled"), true);
  EXPECT_EQ(stats.at("curve").at("keys"), 2);

  const auto out = s.submit(echo_case({{"message", "over curve"}}));
  EXPECT_EQ(out.status, bus::Outcome::Status::kCompleted) << s.all_stderr();

  // An agent with a key the broker does not know: refused at the handshake, never registered.
  const auto before = denied(s);
  const auto stranger_config = s.dir().write("stranger.json", peer_curve(k, "stranger").dump());
  Process stranger("stranger", Binaries::echo(),
                   {"--config", stranger_config.string(), "--broker", s.agent_endpoint(), "--worker", "stranger"}, s.dir());
  dump_on_failure({&stranger});
  EXPECT_TRUE(eventually([&] { return denied(s) > before; }));
  EXPECT_TRUE(stranger.running());
  EXPECT_TRUE(s.wait_workers("echo", 1));  // still only echo-1
  EXPECT_NE(s.broker().stderr_text().find("curve key refused"), std::string::npos);

  // An agent's key may not submit cases: keys are authorized per role (the unit tests check the
  // other way round).
  const auto agent_as_client = denied(s);
  {
    bus::SyncBusClient c(s.client_endpoint(), client_options(k, k.agent));
    EXPECT_EQ(c.submit(echo_case(), 1500ms).status, bus::Outcome::Status::kTimeout);
  }
  EXPECT_TRUE(eventually([&] { return denied(s) > agent_as_client; }));
  // A client without keys does not get past the CURVE handshake at all.
  {
    bus::SyncBusClient plain(s.client_endpoint());
    EXPECT_EQ(plain.submit(echo_case(), 1500ms).status, bus::Outcome::Status::kTimeout);
  }
  EXPECT_EQ(s.stats().at("counters").at("accepted"), 1);

  // casebusctl with its key and the broker's public key.
  Process ctl("ctl", Binaries::ctl(),
              {"--broker", s.client_endpoint(), "--curve-server-key", k.broker.public_key, "--key-file",
               k.key("client").string(), "stats"},
              s.dir());
  EXPECT_EQ(ctl.wait_exit(15s), 0) << ctl.stderr_text();
  EXPECT_NE(ctl.stderr_text().find("echo-1"), std::string::npos) << ctl.stderr_text();

  // Authorizing the stranger's key (the file is re-read on change): it registers without restarts.
  std::ofstream(k.dir / "authorized_keys", std::ios::app) << "agent " << k.stranger.public_key << " added later\n";
  EXPECT_TRUE(stranger.wait_notify("READY", 20s)) << stranger.stderr_text();
  EXPECT_TRUE(s.wait_workers("echo", 2));
}

// Relays between the processes record what crosses the wire: with keys, the case's text is not
// there; without keys (the control), it is, so the capture does see the traffic.
std::pair<std::string, std::string> captured_traffic(const json& broker_config, const json& agent_config,
                                                     const bus::SocketOptions& client, const std::string& marker) {
  Stack s(broker_config);
  s.start_broker();
  TcpRelay agent_relay(port_of(s.agent_endpoint()));
  TcpRelay client_relay(port_of(s.client_endpoint()));
  const auto config = s.dir().write("agent.json", agent_config.dump());
  Process agent("echo-1", Binaries::echo(), {"--config", config.string(), "--broker", agent_relay.endpoint()}, s.dir());
  dump_on_failure({&agent});
  agent.wait_ready();
  bus::SyncBusClient c(client_relay.endpoint(), client);
  const auto out = c.submit(echo_case({{"message", marker}}), 10s);
  EXPECT_EQ(out.status, bus::Outcome::Status::kCompleted) << s.all_stderr();
  EXPECT_NE(out.body.find(marker), std::string::npos) << "the echo agent answers with the message";
  EXPECT_GE(agent_relay.connections(), 1u);
  EXPECT_GE(client_relay.connections(), 1u);
  return {agent_relay.captured(), client_relay.captured()};
}

TEST(Curve, NoPlaintextCrossesTheWireWithKeys) {
  const std::string marker = "Card-dispute-MARKER-7f3a9c";
  TempDir tmp;
  const auto k = make_keys(tmp);
  const auto [agent_wire, client_wire] = captured_traffic(broker_curve(k), peer_curve(k, "agent"), client_options(k, k.client), marker);
  EXPECT_NE(agent_wire.find("CURVE"), std::string::npos) << "the ZMTP greeting names the mechanism";
  EXPECT_GT(client_wire.size(), 1000u);
  EXPECT_EQ(agent_wire.find(marker), std::string::npos) << "plaintext between agent and broker";
  EXPECT_EQ(client_wire.find(marker), std::string::npos) << "plaintext between client and broker";
  EXPECT_EQ(client_wire.find("\"tenant\""), std::string::npos);

  const auto [plain_agent, plain_client] = captured_traffic(json::object(), json::object(), {}, marker);
  EXPECT_NE(plain_agent.find(marker), std::string::npos) << "the control run must see the text";
  EXPECT_NE(plain_client.find(marker), std::string::npos);
}

TEST(Curve, BadKeysStopTheStartWithTheReason) {
  TempDir tmp;
  const auto k = make_keys(tmp);
  // A world-readable secret key.
  std::filesystem::permissions(k.key("agent"), std::filesystem::perms::others_read, std::filesystem::perm_options::add);
  const auto agent_config = tmp.write("agent.json", peer_curve(k, "agent").dump());
  Process agent("agent", Binaries::echo(), {"--config", agent_config.string(), "--broker", "tcp://127.0.0.1:1"}, tmp);
  EXPECT_EQ(agent.wait_exit(10s), 1);
  EXPECT_NE(agent.stderr_text().find("readable by everyone"), std::string::npos) << agent.stderr_text();
  // A bad line in authorized_keys.
  std::ofstream(k.dir / "authorized_keys", std::ios::app) << "admin " << k.stranger.public_key << "\n";
  auto config = broker_curve(k);
  config["client_endpoint"] = "tcp://127.0.0.1:*";
  config["agent_endpoint"] = "tcp://127.0.0.1:*";
  config["storage"] = {{"mode", "memory"}};
  const auto broker_config = tmp.write("broker.json", config.dump());
  Process broker("broker", Binaries::broker(), {"--config", broker_config.string()}, tmp);
  EXPECT_EQ(broker.wait_exit(10s), 1);
  EXPECT_NE(broker.stderr_text().find("authorized_keys line 4: the role must be agent or client"), std::string::npos)
      << broker.stderr_text();
}

}  // namespace
}  // namespace testsupport
