// Every executable's command line: --help, --version, config errors, casebusctl against a broker.
#include "stack.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

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
                 {"--client-endpoint", s.client_endpoint(), "--agent-endpoint", "tcp://127.0.0.1:*", "--storage", "memory"}, s.dir());
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

// casebusctl against the stack's broker: its exit status and what it printed (stdout and stderr
// go to the same file).
struct CtlRun {
  int code = -1;
  std::string out;
};

CtlRun run_ctl(Stack& s, std::vector<std::string> args) {
  args.insert(args.begin(), {"--broker", s.client_endpoint()});
  Process p("ctl", Binaries::ctl(), std::move(args), s.dir());
  const auto code = p.wait_exit(15s);
  return {code.value_or(-1), p.stderr_text()};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The first line that starts with prefix, or "" when none does.
std::string line_starting(const std::string& text, const std::string& prefix) {
  for (const auto& line : lines_of(text)) {
    if (line.starts_with(prefix)) return line;
  }
  return "";
}

// The broker's case.show answer, or an empty object when it gives none.
nlohmann::json show_case(Stack& s, const std::string& case_id) {
  common::bus::SyncBusClient client(s.client_endpoint());
  const auto r = client.control(nlohmann::json{{"op", "case.show"}, {"case_id", case_id}}.dump(), 5s);
  return r.status == common::bus::Outcome::Status::kReply ? nlohmann::json::parse(r.body) : nlohmann::json::object();
}

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

TEST(Cli, CasebusctlListsShowsRetriesAndDiscardsDeadLetters) {
  Stack s;
  s.start_broker();
  s.start_agent("echo-1");
  const auto failed = s.submit(echo_case({{"message", "no"}, {"echo", {{"fail", "fatal"}}}}));
  ASSERT_EQ(failed.status, common::bus::Outcome::Status::kCompleted);
  const auto id = nlohmann::json::parse(failed.body).at("case_id").get<std::string>();
  const std::string why = "agent_error: echo_failure: asked to fail (fatal)";

  const auto list = run_ctl(s, {"dlq", "list"});
  EXPECT_EQ(list.code, 0) << list.out;
  EXPECT_TRUE(contains(list.out, "CASE")) << list.out;
  const auto row = line_starting(list.out, id);
  for (const char* cell : {"acme", "echo", "agent_error"}) EXPECT_TRUE(contains(row, cell)) << list.out;
  EXPECT_TRUE(contains(list.out, "1 dead letter in all")) << list.out;

  const auto raw = run_ctl(s, {"--json", "true", "dlq", "list", "--limit", "1"});
  EXPECT_EQ(raw.code, 0) << raw.out;
  const auto j = nlohmann::json::parse(raw.out);
  EXPECT_EQ(j.at("total"), 1);
  ASSERT_EQ(j.at("dead_letters").size(), 1u) << raw.out;
  EXPECT_EQ(j.at("dead_letters").at(0).at("case_id"), id);
  EXPECT_EQ(j.at("dead_letters").at(0).at("error").at("field"), "echo_failure");

  // The header says where the case stopped and why; the trail shows each attempt with its error.
  for (const char* cmd : {"dlq", "case"}) {
    const auto shown = run_ctl(s, {cmd, "show", id});
    EXPECT_EQ(shown.code, 0) << shown.out;
    EXPECT_TRUE(contains(shown.out, "state     dead_letter\nat        hop 1 echo, attempt 1\nerror     " + why)) << shown.out;
    EXPECT_TRUE(contains(shown.out, "status    failed")) << shown.out;
    EXPECT_TRUE(contains(shown.out, "failed     attempt 1 worker echo-1 (")) << shown.out;
    EXPECT_TRUE(contains(shown.out, " ms)\n        " + why + "\n")) << shown.out;
  }

  // A fatal failure fails again: the case is a dead letter once more, with a second attempt 1.
  const auto retry = run_ctl(s, {"dlq", "retry", id});
  EXPECT_EQ(retry.code, 0) << retry.out;
  EXPECT_TRUE(contains(retry.out, "case " + id + " is now active")) << retry.out;
  ASSERT_TRUE(eventually([&] {
    const auto v = show_case(s, id);
    return v.value("state", "") == "dead_letter" && v.at("case").at("trail").size() == 2;
  }));
  const auto again = run_ctl(s, {"case", "show", id});
  EXPECT_EQ(again.code, 0) << again.out;
  int failures = 0;
  for (const auto& line : lines_of(again.out)) {
    if (line.starts_with("  hop 1 echo") && contains(line, "failed     attempt 1")) ++failures;
  }
  EXPECT_EQ(failures, 2) << again.out;

  const auto discard = run_ctl(s, {"dlq", "discard", id});
  EXPECT_EQ(discard.code, 0) << discard.out;
  EXPECT_TRUE(contains(discard.out, "case " + id + " is now discarded")) << discard.out;
  const auto emptied = run_ctl(s, {"dlq", "list"});
  EXPECT_EQ(emptied.code, 0) << emptied.out;
  EXPECT_FALSE(contains(emptied.out, id)) << emptied.out;
  EXPECT_TRUE(contains(emptied.out, "0 dead letters in all")) << emptied.out;
  const auto gone = run_ctl(s, {"dlq", "show", id});
  EXPECT_EQ(gone.code, 2) << gone.out;
  EXPECT_TRUE(contains(gone.out, "casebusctl: rejected: not_found")) << gone.out;
  const auto kept = run_ctl(s, {"case", "show", id});
  EXPECT_EQ(kept.code, 0) << kept.out;
  EXPECT_TRUE(contains(kept.out, "state     discarded")) << kept.out;

  // An active case: where it is now, and its trail so far.
  const auto slow = s.submit(echo_case({{"message", "slow"}, {"echo", {{"delay_ms", 20000}}}}), 200ms);
  ASSERT_EQ(slow.status, common::bus::Outcome::Status::kTimeout);
  ASSERT_FALSE(slow.case_id.empty());
  ASSERT_TRUE(eventually([&] { return show_case(s, slow.case_id).value("phase", "") == "dispatched"; }));
  const auto active = run_ctl(s, {"case", "show", slow.case_id});
  EXPECT_EQ(active.code, 0) << active.out;
  EXPECT_TRUE(contains(active.out, "state     active (dispatched)\nat        hop 1 echo, attempt 1\n\n")) << active.out;
  EXPECT_TRUE(contains(active.out, "status    active")) << active.out;

  const auto unknown = run_ctl(s, {"case", "show", "nope"});
  EXPECT_EQ(unknown.code, 2) << unknown.out;
  EXPECT_TRUE(contains(unknown.out, "casebusctl: rejected: not_found")) << unknown.out;

  const std::vector<std::vector<std::string>> usage_errors = {
      {"dlq", "list", "--limit", "0"}, {"dlq", "list", "--limit", "1001"}, {"--limit", "5", "stats"},
      {"dlq", "retry"},                {"dlq", "purge", id},                {"case", "list"}};
  for (const auto& bad : usage_errors) {
    const auto r = run_ctl(s, bad);
    EXPECT_EQ(r.code, 1) << bad[0] << " " << bad[1] << ": " << r.out;
  }
}

TEST(Cli, CasebusctlRetriesADeadLetterFromTheHopThatFailed) {
  Stack s(nlohmann::json{{"default_deadline_ms", 2000}});
  s.start_broker();
  s.start_agent("echo-1");
  // Hop 2 goes to a kind that nobody serves yet: the case waits there until its deadline.
  const auto failed = s.submit(echo_case({{"message", "later"}, {"echo", {{"next", "later"}}}}));
  ASSERT_EQ(failed.status, common::bus::Outcome::Status::kCompleted);
  const auto body = nlohmann::json::parse(failed.body);
  ASSERT_EQ(body.at("error").at("code"), "deadline_exceeded") << failed.body;
  const auto id = body.at("case_id").get<std::string>();
  const auto before = run_ctl(s, {"dlq", "show", id});
  EXPECT_EQ(before.code, 0) << before.out;
  EXPECT_TRUE(contains(before.out, "at        hop 2 later, attempt 1\nerror     deadline_exceeded: deadline: "))
      << before.out;

  s.start_agent("later-1", {}, Binaries::test_agent(), {"CASEBUS_TEST_KIND=later", R"(CASEBUS_TEST_RESULT={"ok":true})"});
  ASSERT_TRUE(s.wait_workers("later", 1));
  const auto retry = run_ctl(s, {"dlq", "retry", id});
  EXPECT_EQ(retry.code, 0) << retry.out;
  ASSERT_TRUE(eventually([&] { return show_case(s, id).value("state", "") == "ended"; }));
  const auto after = run_ctl(s, {"case", "show", id});
  EXPECT_EQ(after.code, 0) << after.out;
  EXPECT_TRUE(contains(after.out, "state     ended\nat        hop 2 later, attempt 1\n\n")) << after.out;
  EXPECT_TRUE(contains(after.out, "status    completed")) << after.out;
  // Hop 1 ran once: the retry started at hop 2.
  EXPECT_TRUE(contains(line_starting(after.out, "  hop 1 echo"), "done       attempt 1 worker echo-1")) << after.out;
  EXPECT_TRUE(contains(line_starting(after.out, "  hop 2 later"), "done       attempt 1 worker later-1")) << after.out;
  const auto trail = lines_of(after.out);
  EXPECT_EQ(std::count_if(trail.begin(), trail.end(), [](const auto& l) { return l.starts_with("  hop 1 "); }), 1)
      << after.out;
  const auto list = run_ctl(s, {"dlq", "list"});
  EXPECT_TRUE(contains(list.out, "0 dead letters in all")) << list.out;
}

}  // namespace
}  // namespace testsupport

namespace testsupport {
namespace {

// JSON log lines parse; at the default level no payload text reaches any log line. (At debug the
// broker logs agents' failure messages, which may quote payload: this test fails there.)
TEST(Logs, JsonLinesAndNoPayloadAtInfo) {
  TempDir dir;
  const auto config = dir.write("broker.json", nlohmann::json{{"client_endpoint", "tcp://127.0.0.1:*"},
                                                               {"agent_endpoint", "tcp://127.0.0.1:*"},
                                                               {"heartbeat_interval_ms", 100},
                                                               {"storage", {{"state_dir", (dir.path() / "state").string()}}},
                                                               {"log", {{"level", "info"}, {"format", "json"}}}}
                                                    .dump());
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
