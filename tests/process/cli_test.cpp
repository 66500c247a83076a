// Every executable's command line: --help, --version, config errors, casebusctl against a broker.
#include "stack.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace testsupport {
namespace {

TEST(Cli, HelpAndVersionExitZero) {
  TempDir dir;
  for (const auto& bin : {Binaries::broker(), Binaries::echo(), Binaries::ctl()}) {
    Process help("help", bin, {"--help"}, dir);
    EXPECT_EQ(help.wait_exit(10s), 0) << bin;
    EXPECT_NE(help.stderr_text().find("--config"), std::string::npos) << bin;
    Process version("version", bin, {"--version"}, dir);
    EXPECT_EQ(version.wait_exit(10s), 0) << bin;
    EXPECT_NE(version.stderr_text().find(CASEBUS_VERSION), std::string::npos) << bin;
  }
}

TEST(Cli, BadConfigIsRejectedNamingTheKey) {
  TempDir dir;
  const auto path = dir.write("bad.json", R"({"queue_limt": 10})");
  Process p("broker", Binaries::broker(), {"--config", path.string(), "--check-config"}, dir);
  EXPECT_EQ(p.wait_exit(10s), 1);
  EXPECT_NE(p.stderr_text().find("queue_limt"), std::string::npos) << p.stderr_text();
}

TEST(Cli, EnvironmentAndFlagsOverrideTheFile) {
  TempDir dir;
  const auto path = dir.write("b.json", R"({"queue_limit": 10})");
  Process p("broker", Binaries::broker(), {"--config", path.string(), "--check-config", "--queue-limit", "7"}, dir,
            {"CASEBUS_BROKER_HEARTBEAT_MS=250"});
  EXPECT_EQ(p.wait_exit(10s), 0);
  const auto out = p.stderr_text();
  EXPECT_NE(out.find("\"queue_limit\": 7"), std::string::npos) << out;
  EXPECT_NE(out.find("\"heartbeat_interval_ms\": 250"), std::string::npos) << out;
}

TEST(Cli, BindFailureExitsNonZero) {
  Stack s;
  s.start_broker();
  Process second("broker2", Binaries::broker(),
                 {"--client-endpoint", s.client_endpoint(), "--agent-endpoint", "tcp://127.0.0.1:*"}, s.dir());
  EXPECT_EQ(second.wait_exit(10s), 1);
  EXPECT_NE(second.stderr_text().find("cannot bind client endpoint"), std::string::npos) << second.stderr_text();
}

TEST(Cli, CasebusctlSubmitsAndShowsStats) {
  Stack s;
  s.start_broker();
  s.start_agent("echo-1");
  const auto file = s.dir().write("case.json", echo_case({{"message", "hello there"}}));
  Process submit("ctl", Binaries::ctl(), {"--broker", s.client_endpoint(), "submit", file.string()}, s.dir());
  EXPECT_EQ(submit.wait_exit(15s), 0) << submit.stderr_text();
  EXPECT_NE(submit.stderr_text().find("status    completed"), std::string::npos) << submit.stderr_text();
  Process stats("ctl", Binaries::ctl(), {"--broker", s.client_endpoint(), "stats"}, s.dir());
  EXPECT_EQ(stats.wait_exit(15s), 0) << stats.stderr_text();
  EXPECT_NE(stats.stderr_text().find("echo-1"), std::string::npos) << stats.stderr_text();
  const auto bad = s.dir().write("bad.json", R"({"v":1,"type":"case","tenant":"acme","to":"echo"})");
  Process rejected("ctl", Binaries::ctl(), {"--broker", s.client_endpoint(), "submit", bad.string()}, s.dir());
  EXPECT_EQ(rejected.wait_exit(15s), 2);
  EXPECT_NE(rejected.stderr_text().find("payload"), std::string::npos) << rejected.stderr_text();
}

}  // namespace
}  // namespace testsupport

namespace testsupport {
namespace {

// JSON log lines parse; at the default level no payload text reaches any log line. (At debug the
// broker logs agents' failure messages, which may quote payload: this test fails there.)
TEST(Logs, JsonLinesAndNoPayloadAtInfo) {
  TempDir dir;
  const auto config = dir.write("broker.json", R"({"client_endpoint":"tcp://127.0.0.1:*","agent_endpoint":"tcp://127.0.0.1:*",
                                                   "heartbeat_interval_ms":100,"log":{"level":"info","format":"json"}})");
  Process broker("broker", Binaries::broker(), {"--config", config.string()}, dir);
  const auto ready = broker.wait_ready();
  Process agent("echo", Binaries::echo(),
                {"--broker", ready.at("CASEBUS_AGENT_ENDPOINT"), "--log-format", "json", "--capacity", "2"}, dir);
  agent.wait_ready();
  const std::string secret = "Sensitive words 4111 1111 1111 1111 jordan@example.com";
  common::bus::SyncBusClient client(ready.at("CASEBUS_CLIENT_ENDPOINT"));
  for (const auto& payload : {nlohmann::json{{"message", secret}},
                              nlohmann::json{{"message", secret}, {"echo", {{"fail", "fatal"}}}},
                              nlohmann::json{{"message", secret}, {"echo", {{secret, 1}}}}}) {
    const auto r = client.submit(echo_case(payload), 10s);
    EXPECT_EQ(r.status, common::bus::Outcome::Status::kCompleted);
  }
  EXPECT_EQ(agent.stop(), 0);
  EXPECT_EQ(broker.stop(), 0);
  for (const Process* p : {&broker, &agent}) {
    std::istringstream lines(p->stderr_text());
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
      ++n;
      nlohmann::json j;
      ASSERT_NO_THROW(j = nlohmann::json::parse(line)) << line;
      EXPECT_TRUE(j.contains("ts") && j.contains("level") && j.contains("msg")) << line;
      EXPECT_EQ(line.find("Sensitive"), std::string::npos) << p->name() << " logged payload text: " << line;
      EXPECT_EQ(line.find("jordan@"), std::string::npos) << line;
    }
    EXPECT_GT(n, 2) << p->name();
  }
  dump_on_failure({&broker, &agent});
}

}  // namespace
}  // namespace testsupport
