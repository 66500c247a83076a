// Every executable's command line: --help, --version, config errors, casebusctl against a broker.
#include "stack.hpp"

#include <gtest/gtest.h>

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
  EXPECT_NE(submit.stderr_text().find("status  completed"), std::string::npos) << submit.stderr_text();
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
