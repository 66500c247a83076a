// The bus through the real broker and echo agent processes, on ephemeral loopback ports.
#include "stack.hpp"

#include "common/bus/protocol.hpp"
#include "common/bus/socket.hpp"

#include <gtest/gtest.h>
#include <zmq_addon.hpp>

#include <csignal>
#include <iterator>
#include <optional>
#include <set>
#include <thread>

namespace testsupport {
namespace {

using common::bus::Outcome;
using nlohmann::json;

json final_case(const Outcome& o) {
  EXPECT_EQ(o.status, Outcome::Status::kCompleted) << o.error.describe();
  return o.status == Outcome::Status::kCompleted ? json::parse(o.body) : json::object();
}

TEST(Bus, RoundTrip) {
  Stack s;
  s.start_broker();
  s.start_agent("echo-1");
  const auto c = final_case(s.submit(echo_case({{"message", "I was charged twice"}})));
  EXPECT_EQ(c.at("status"), "completed");
  EXPECT_EQ(c.at("result").at("chars"), 19);
  EXPECT_EQ(c.at("result").at("worker"), "echo-1");
  EXPECT_EQ(c.at("payload").at("message"), "I was charged twice");
  EXPECT_EQ(c.at("trail").size(), 1u);
  EXPECT_TRUE(c.at("case_id").get<std::string>().starts_with("c-"));
}

TEST(Bus, MultiHopCaseCarriesContext) {
  Stack s;
  s.start_broker();
  s.start_agent("echo-1");
  const auto c = final_case(s.submit(echo_case({{"message", "hi"}, {"echo", {{"next", "echo"}}}}), 10s));
  // The echo agent keeps naming itself as next: the broker's hop limit (8) ends the case.
  EXPECT_EQ(c.at("status"), "failed");
  EXPECT_EQ(c.at("error").at("code"), "hop_limit");
  EXPECT_EQ(c.at("trail").size(), 8u);
  EXPECT_EQ(c.at("context").at("echo").at("next"), "echo");
}

TEST(Bus, LoadSpreadsOverTwoWorkers) {
  Stack s;
  s.start_broker();
  s.start_agent("echo-a", {"--capacity", "4"});
  s.start_agent("echo-b", {"--capacity", "4"});
  ASSERT_TRUE(s.wait_workers("echo", 2));
  std::vector<std::string> cases(200, echo_case({{"message", "x"}, {"echo", {{"delay_ms", 2}}}}));
  std::map<std::string, int> per_worker;
  for (const auto& o : s.submit_all(cases)) per_worker[final_case(o).at("result").at("worker").get<std::string>()]++;
  EXPECT_EQ(per_worker["echo-a"] + per_worker["echo-b"], 200);
  EXPECT_GE(per_worker["echo-a"], 50) << "echo-a served " << per_worker["echo-a"];
  EXPECT_GE(per_worker["echo-b"], 50) << "echo-b served " << per_worker["echo-b"];
}

TEST(Bus, CapacityIsNeverExceeded) {
  Stack s;
  s.start_broker();
  s.start_agent("echo-a", {"--capacity", "2"});
  s.start_agent("echo-b", {"--capacity", "3"});
  ASSERT_TRUE(s.wait_workers("echo", 2));
  std::vector<std::string> cases(40, echo_case({{"message", "x"}, {"echo", {{"delay_ms", 20}}}}));
  std::map<std::string, std::size_t> max_seen;
  for (const auto& o : s.submit_all(cases)) {
    const auto r = final_case(o).at("result");
    auto& m = max_seen[r.at("worker").get<std::string>()];
    m = std::max(m, r.at("in_flight").get<std::size_t>());
  }
  // in_flight is what the agent itself held when each task arrived.
  EXPECT_LE(max_seen["echo-a"], 2u);
  EXPECT_LE(max_seen["echo-b"], 3u);
  EXPECT_EQ(max_seen["echo-b"], 3u) << "with 40 waiting tasks the larger worker should be full at some point";
}

TEST(Bus, WorkerKilledMidTaskFinishesOnTheOther) {
  Stack s;
  s.start_broker();
  auto& doomed = s.start_agent("echo-doomed", {"--capacity", "1"});
  ASSERT_TRUE(s.wait_workers("echo", 1));
  Outcome outcome;
  std::thread submitter([&] { outcome = s.submit(echo_case({{"message", "x"}, {"echo", {{"delay_ms", 3000}}}}), 20s); });
  ASSERT_TRUE(eventually([&] { return s.stats().at("in_flight") == 1; }));
  s.start_agent("echo-survivor", {"--capacity", "1"});
  ASSERT_TRUE(s.wait_workers("echo", 2));
  doomed.signal(SIGKILL);
  submitter.join();
  const auto c = final_case(outcome);
  EXPECT_EQ(c.at("status"), "completed");
  EXPECT_EQ(c.at("result").at("worker"), "echo-survivor");
  EXPECT_EQ(c.at("result").at("attempt"), 2);
  // Found gone either by a failed send (the TCP connection closed) or by liveness expiry.
  EXPECT_EQ(s.stats().at("counters").at("requeued"), 1);
}

TEST(Bus, StoppedWorkerExpiresAndItsLateAnswerIsIgnored) {
  Stack s;
  s.start_broker();
  auto& frozen = s.start_agent("echo-frozen", {"--capacity", "1"});
  ASSERT_TRUE(s.wait_workers("echo", 1));
  Outcome outcome;
  std::thread submitter([&] { outcome = s.submit(echo_case({{"message", "x"}, {"echo", {{"delay_ms", 300}}}}), 20s); });
  ASSERT_TRUE(eventually([&] { return s.stats().at("in_flight") == 1; }));
  s.start_agent("echo-survivor", {"--capacity", "1"});
  ASSERT_TRUE(s.wait_workers("echo", 2));
  frozen.signal(SIGSTOP);  // connection stays open, heartbeats stop
  submitter.join();
  const auto c = final_case(outcome);
  EXPECT_EQ(c.at("result").at("worker"), "echo-survivor");
  EXPECT_EQ(c.at("result").at("attempt"), 2);
  EXPECT_EQ(s.stats().at("counters").at("workers_expired"), 1);
  frozen.signal(SIGCONT);
  // It wakes and answers the task it held: the broker ignores the answer (counted), or, when the
  // agent first hears that it is no longer registered, the agent drops it itself. Either way it
  // registers again, and the case ended once.
  EXPECT_TRUE(eventually([&] {
    return s.stats().at("counters").at("late_answers") == 1 ||
           frozen.stderr_text().find("not connected, message dropped") != std::string::npos;
  }));
  EXPECT_TRUE(s.wait_workers("echo", 2));
  EXPECT_EQ(s.stats().at("counters").at("completed"), 1);
}

TEST(Bus, AgentsReRegisterAfterBrokerRestart) {
  Stack s;
  auto& first = s.start_broker();
  s.start_agent("echo-1");
  ASSERT_TRUE(s.wait_workers("echo", 1));
  first.signal(SIGKILL);
  ASSERT_TRUE(first.wait_exit(5s));
  s.restart_broker();
  ASSERT_TRUE(s.wait_workers("echo", 1, 15s)) << "the agent did not register with the new broker";
  const auto c = final_case(s.submit(echo_case()));
  EXPECT_EQ(c.at("status"), "completed");
}

// A raw DEALER, for sending what no well-behaved client would.
class RawPeer {
 public:
  explicit RawPeer(const std::string& endpoint) : socket_(ctx_, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::rcvtimeo, 5000);
    socket_.connect(endpoint);
  }
  void send(const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      socket_.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
  std::vector<std::string> recv() {
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(socket_, std::back_inserter(parts))) return {};
    std::vector<std::string> out;
    for (auto& p : parts) out.push_back(p.to_string());
    return out;
  }

 private:
  zmq::context_t ctx_{1};
  zmq::socket_t socket_;
};

TEST(Bus, MalformedInputIsAnsweredAndTheBrokerKeepsServing) {
  Stack s;
  s.start_broker();
  s.start_agent("echo-1");
  RawPeer client(s.client_endpoint());
  const std::string submit(1, '\x01'), done(1, '\x22');

  client.send({"garbage"});
  auto r = client.recv();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1], std::string(1, '\x1f'));
  EXPECT_EQ(json::parse(r[2]).at("field"), "frames");

  client.send({"CB01", submit, "corr-1", "{\"v\":1,"});
  r = client.recv();
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[2], "corr-1");
  EXPECT_EQ(json::parse(r[3]).at("code"), "malformed");

  client.send({"CB01", submit, "corr-2", R"({"v":1,"type":"case","tenant":"acme","to":"echo","payload":{},"amount":5})"});
  r = client.recv();
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(json::parse(r[3]).at("code"), "invalid_field");
  EXPECT_EQ(json::parse(r[3]).at("field"), "amount");

  RawPeer agent(s.agent_endpoint());
  agent.send({"CB01", std::string(1, '\x21'), "{not json"});
  r = agent.recv();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1], std::string(1, '\x3f'));

  const auto c = final_case(s.submit(echo_case()));
  EXPECT_EQ(c.at("status"), "completed");
  EXPECT_GE(s.stats().at("counters").at("malformed"), 2);
  EXPECT_TRUE(s.broker().running());
}

TEST(Bus, FullQueueAnswersBusy) {
  Stack s(json{{"queue_limit", 2}});
  s.start_broker();
  // No agents: submissions wait in the echo queue.
  zmq::context_t ctx(1);
  boost::asio::io_context io;
  common::bus::BusClient client(io, ctx, s.client_endpoint());
  std::vector<Outcome> outcomes;
  std::size_t accepted = 0;
  for (int i = 0; i < 3; ++i) {
    client.submit(echo_case(), 3s, [&](Outcome o) { outcomes.push_back(std::move(o)); },
                  [&](const std::string&) { ++accepted; });
  }
  while (outcomes.empty()) io.run_one_for(5s);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].status, Outcome::Status::kRejected);
  EXPECT_EQ(outcomes[0].error.code, common::Errc::kBusy);
  EXPECT_EQ(outcomes[0].error.field, "to");
  while (accepted < 2) io.run_one_for(5s);
  EXPECT_EQ(s.stats().at("counters").at("busy"), 1);
  EXPECT_EQ(s.stats().at("kinds").at("echo").at("queued"), 2);
}

TEST(Bus, DeadlinePassedFailsTheCase) {
  Stack s(json{{"default_deadline_ms", 300}});
  s.start_broker();
  const auto c = final_case(s.submit(echo_case(), 5s));
  EXPECT_EQ(c.at("status"), "failed");
  EXPECT_EQ(c.at("error").at("code"), "deadline_exceeded");
  EXPECT_EQ(s.stats().at("counters").at("dead_lettered"), 1);
}

TEST(Bus, RetryableFailuresAreRetried) {
  Stack s(json{{"retry_backoff_initial_ms", 10}});
  s.start_broker();
  s.start_agent("echo-1");
  const auto c = final_case(s.submit(echo_case({{"message", "x"}, {"echo", {{"fail_attempts", 2}}}})));
  EXPECT_EQ(c.at("status"), "completed");
  EXPECT_EQ(c.at("result").at("attempt"), 3);
  ASSERT_EQ(c.at("trail").size(), 3u);
  EXPECT_EQ(c.at("trail")[0].at("outcome"), "retry");
}

TEST(Bus, SigtermDrainLosesNothing) {
  Stack s;
  s.start_broker();
  auto& agent = s.start_agent("echo-1", {"--capacity", "4", "--drain-grace-ms", "10000"});
  ASSERT_TRUE(s.wait_workers("echo", 1));
  std::vector<Outcome> outcomes;
  std::thread submitter([&] {
    outcomes = s.submit_all(std::vector<std::string>(4, echo_case({{"message", "x"}, {"echo", {{"delay_ms", 800}}}})));
  });
  ASSERT_TRUE(eventually([&] { return s.stats().at("in_flight") == 4; }));
  agent.signal(SIGTERM);
  EXPECT_TRUE(agent.wait_notify("STOPPING", 5s));
  submitter.join();
  EXPECT_EQ(agent.wait_exit(10s), 0);
  for (const auto& o : outcomes) {
    const auto c = final_case(o);
    EXPECT_EQ(c.at("status"), "completed");
    EXPECT_EQ(c.at("result").at("attempt"), 1) << "drained work must finish where it started";
  }
  EXPECT_TRUE(s.wait_workers("echo", 0));
}

// SIGTERM with the durable store: the hop in flight finishes, nothing new is dispatched, the broker
// exits 0 with the case still stored; the next broker resumes it at the next hop, and the final
// case reaches the client that submitted it before the restart (its routing id is stable).
TEST(Bus, BrokerSigtermKeepsUnfinishedCasesForTheNextStart) {
  Stack s;
  s.start_broker();
  s.start_agent("echo-1", {"--capacity", "4"});
  s.start_agent("later-1", {}, Binaries::test_agent(), {"CASEBUS_TEST_KIND=later", R"(CASEBUS_TEST_RESULT={"ok":true})"});
  ASSERT_TRUE(s.wait_workers("echo", 1));
  ASSERT_TRUE(s.wait_workers("later", 1));
  // Hop 1 (echo) takes 800 ms and names "later" as the next hop.
  std::optional<Outcome> outcome;
  std::thread submitter([&] {
    common::bus::SyncBusClient client(s.client_endpoint());
    outcome = client.submit(echo_case({{"message", "x"}, {"echo", {{"delay_ms", 800}, {"next", "later"}}}}), 20s);
  });
  ASSERT_TRUE(eventually([&] { return s.stats().at("in_flight") == 1; }));
  s.broker().signal(SIGTERM);
  EXPECT_EQ(s.broker().wait_exit(10s), 0);
  EXPECT_NE(s.broker().stderr_text().find("cases_left_stored=1"), std::string::npos) << s.broker().stderr_text();
  s.restart_broker();
  submitter.join();
  ASSERT_TRUE(outcome);
  const auto c = final_case(*outcome);
  EXPECT_EQ(c.at("status"), "completed");
  ASSERT_EQ(c.at("trail").size(), 2u);
  EXPECT_EQ(c.at("trail")[0].at("outcome"), "done") << "the hop in flight finished before the broker stopped";
  EXPECT_EQ(c.at("trail")[1].at("agent"), "later");
  EXPECT_EQ(c.at("trail")[1].at("attempt"), 1) << "hop 2 never went out before the restart";
}

TEST(Bus, BrokerSigtermFinishesInFlightCases) {
  Stack s;
  s.start_broker();
  s.start_agent("echo-1", {"--capacity", "4"});
  ASSERT_TRUE(s.wait_workers("echo", 1));
  std::vector<Outcome> outcomes;
  std::thread submitter([&] {
    outcomes = s.submit_all(std::vector<std::string>(3, echo_case({{"message", "x"}, {"echo", {{"delay_ms", 500}}}})));
  });
  ASSERT_TRUE(eventually([&] { return s.stats().at("in_flight") == 3; }));
  s.broker().signal(SIGTERM);
  submitter.join();
  EXPECT_EQ(s.broker().wait_exit(10s), 0);
  for (const auto& o : outcomes) EXPECT_EQ(final_case(o).at("status"), "completed");
}

}  // namespace
}  // namespace testsupport

namespace testsupport {
namespace {

// The echo agent against a fake broker (a ROUTER the test drives), for what a real broker
// never sends.
TEST(AgentRuntime, AnswersWhatItCannotDecodeSoNoSlotLeaks) {
  TempDir dir;
  zmq::context_t ctx(1);
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::rcvtimeo, 5000);
  router.bind("tcp://127.0.0.1:*");
  Process agent("echo", Binaries::echo(), {"--broker", router.get(zmq::sockopt::last_endpoint), "--worker", "w1"}, dir);
  auto recv = [&] {
    std::vector<zmq::message_t> parts;
    EXPECT_TRUE(zmq::recv_multipart(router, std::back_inserter(parts)));
    std::vector<std::string> out;
    for (auto& p : parts) out.push_back(p.to_string());
    return out;
  };
  auto send = [&](const std::string& peer, const common::bus::Frames& frames) {
    router.send(zmq::buffer(peer), zmq::send_flags::sndmore);
    for (std::size_t i = 0; i < frames.size(); ++i) {
      router.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  };
  auto ready = recv();
  ASSERT_EQ(ready.size(), 4u);
  EXPECT_EQ(ready[2], std::string(1, '\x21'));
  const std::string peer = ready[0];
  send(peer, common::bus::encode_welcome({1000, 3}));

  // A task envelope it cannot decode (no deadline), but whose id is readable.
  send(peer, common::bus::encode_task(R"({"v":1,"type":"task","id":"c-1.1.1","case_id":"c-1"})"));
  std::vector<std::string> answer;
  do {
    answer = recv();  // skip heartbeats
  } while (answer.size() == 3 && answer[2] == std::string(1, '\x24'));
  ASSERT_EQ(answer.size(), 5u);
  EXPECT_EQ(answer[2], std::string(1, '\x23'));
  EXPECT_EQ(answer[3], "c-1.1.1");
  EXPECT_EQ(json::parse(answer[4]).at("code"), "invalid_task");
  EXPECT_EQ(json::parse(answer[4]).at("retryable"), false);

  // A CANCEL for a task it does not hold.
  send(peer, common::bus::encode_cancel("c-2.1.1"));
  do {
    answer = recv();
  } while (answer.size() == 3 && answer[2] == std::string(1, '\x24'));
  ASSERT_EQ(answer.size(), 5u);
  EXPECT_EQ(answer[3], "c-2.1.1");
  EXPECT_EQ(json::parse(answer[4]).at("code"), "unknown_task");
  EXPECT_EQ(agent.stop(), 0);
  dump_on_failure({&agent});
}

}  // namespace
}  // namespace testsupport
