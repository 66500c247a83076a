#include "core.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace broker {
namespace {

namespace bus = common::bus;
using common::Errc;
using namespace std::chrono_literals;

// Drives the core with injected time and collects what it sends.
class Harness {
 public:
  explicit Harness(CoreSettings s = {}) : core(s) {}

  Outbox client(const std::string& peer, const bus::Frames& f) {
    std::vector<std::string_view> v(f.begin(), f.end());
    Outbox out;
    core.on_client(peer, v, now, out);
    return out;
  }
  Outbox agent(const std::string& peer, const bus::Frames& f) {
    std::vector<std::string_view> v(f.begin(), f.end());
    Outbox out;
    core.on_agent(peer, v, now, out);
    return out;
  }
  Outbox advance(std::chrono::milliseconds d) {
    now = now.plus(d);
    Outbox out;
    core.on_tick(now, out);
    return out;
  }
  Outbox submit(const std::string& corr, const std::string& payload = R"({"message":"hi"})",
                const std::string& to = "echo", const std::string& extra = "") {
    return client("client", bus::encode_submit(corr, R"({"v":1,"type":"case","tenant":"acme","to":")" + to +
                                                         R"(","payload":)" + payload + extra + "}"));
  }
  Outbox ready(const std::string& peer, int capacity, const std::string& kind = "echo") {
    return agent(peer, bus::encode_ready({kind, "w-" + peer, capacity}));
  }

  Core core;
  common::Now now{common::MonoTime{} + 1h, 1'795'250'700'000};
};

bus::Command cmd(const OutMessage& m) {
  return static_cast<bus::Command>(static_cast<unsigned char>(m.frames.at(1).at(0)));
}

std::vector<const OutMessage*> find(const Outbox& out, bus::Command c) {
  std::vector<const OutMessage*> r;
  for (const auto& m : out) {
    if (cmd(m) == c) r.push_back(&m);
  }
  return r;
}

nlohmann::json task_of(const OutMessage& m) {
  return nlohmann::json::parse(m.frames.at(2));
}

nlohmann::json stats(Core& core) {
  return nlohmann::json::parse(core.stats_json());
}

TEST(BrokerCore, RoundTripThroughOneWorker) {
  Harness h;
  EXPECT_EQ(find(h.ready("a1", 4), bus::Command::kWelcome).size(), 1u);
  auto out = h.submit("r1");
  ASSERT_EQ(find(out, bus::Command::kAccepted).size(), 1u);
  auto tasks = find(out, bus::Command::kTask);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0]->peer, "a1");
  const auto t = task_of(*tasks[0]);
  EXPECT_EQ(t.at("type"), "task");
  EXPECT_EQ(t.at("attempt"), 1);
  EXPECT_EQ(t.at("payload").at("message"), "hi");

  out = h.agent("a1", bus::encode_done(t.at("id").get<std::string>(), R"({"ok":true})"));
  auto results = find(out, bus::Command::kResult);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]->peer, "client");
  EXPECT_EQ(results[0]->frames[2], "r1");
  const auto final_case = nlohmann::json::parse(results[0]->frames[3]);
  EXPECT_EQ(final_case.at("status"), "completed");
  EXPECT_EQ(final_case.at("result").at("ok"), true);
  EXPECT_EQ(final_case.at("context").at("echo").at("ok"), true);
  EXPECT_EQ(final_case.at("trail").size(), 1u);
  EXPECT_EQ(final_case.at("trail")[0].at("worker"), "w-a1");
  EXPECT_EQ(h.core.active_cases(), 0u);
  EXPECT_EQ(h.core.counters().completed, 1u);
}

TEST(BrokerCore, QueuesUntilAWorkerOfTheKindRegisters) {
  Harness h;
  auto out = h.submit("r1");
  EXPECT_EQ(find(out, bus::Command::kAccepted).size(), 1u);
  EXPECT_TRUE(find(out, bus::Command::kTask).empty());
  EXPECT_EQ(stats(h.core).at("kinds").at("echo").at("queued"), 1);
  out = h.ready("a1", 1);
  EXPECT_EQ(find(out, bus::Command::kTask).size(), 1u);
}

TEST(BrokerCore, SpreadsByLoadAndNeverExceedsCapacity) {
  Harness h;
  h.ready("a1", 2);
  h.ready("a2", 3);
  std::map<std::string, int> per_worker;
  for (int i = 0; i < 10; ++i) {
    for (auto* m : find(h.submit("r" + std::to_string(i)), bus::Command::kTask)) per_worker[m->peer]++;
  }
  EXPECT_EQ(per_worker["a1"], 2);
  EXPECT_EQ(per_worker["a2"], 3);
  const auto s = stats(h.core);
  EXPECT_EQ(s.at("kinds").at("echo").at("queued"), 5);
  EXPECT_EQ(s.at("in_flight"), 5);
}

TEST(BrokerCore, EqualWorkersTakeTurns) {
  Harness h;
  h.ready("a1", 100);
  h.ready("a2", 100);
  std::map<std::string, int> per_worker;
  for (int i = 0; i < 10; ++i) {
    for (auto* m : find(h.submit("r" + std::to_string(i)), bus::Command::kTask)) per_worker[m->peer]++;
  }
  EXPECT_EQ(per_worker["a1"], 5);
  EXPECT_EQ(per_worker["a2"], 5);
}

TEST(BrokerCore, FullQueueAnswersBusy) {
  CoreSettings s;
  s.queue_limit = 2;
  Harness h(s);
  EXPECT_EQ(find(h.submit("r1"), bus::Command::kAccepted).size(), 1u);
  EXPECT_EQ(find(h.submit("r2"), bus::Command::kAccepted).size(), 1u);
  auto out = h.submit("r3");
  auto rejected = find(out, bus::Command::kRejected);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(rejected[0]->frames[3]).at("code"), "busy");
  EXPECT_EQ(h.core.counters().busy, 1u);
  EXPECT_EQ(h.core.active_cases(), 2u);
}

TEST(BrokerCore, ExpiredWorkerTasksMoveToAnotherAndLateAnswersAreIgnored) {
  CoreSettings s;
  s.heartbeat_interval = 100ms;
  s.heartbeat_liveness = 3;
  Harness h(s);
  h.ready("a1", 1);
  const auto first = task_of(*find(h.submit("r1"), bus::Command::kTask).at(0));
  h.ready("a2", 1);
  // a2 keeps heartbeating, a1 falls silent.
  Outbox out;
  for (int i = 0; i < 5; ++i) {
    h.agent("a2", bus::encode_heartbeat());
    auto o = h.advance(100ms);
    out.insert(out.end(), o.begin(), o.end());
  }
  auto tasks = find(out, bus::Command::kTask);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0]->peer, "a2");
  const auto second = task_of(*tasks[0]);
  EXPECT_EQ(second.at("attempt"), 2);
  EXPECT_EQ(second.at("idempotency_key"), first.at("idempotency_key"));
  EXPECT_NE(second.at("id"), first.at("id"));
  EXPECT_EQ(h.core.counters().workers_expired, 1u);
  EXPECT_EQ(h.core.counters().requeued, 1u);

  // The expired worker wakes up and answers: it is told to register again; nothing changes.
  out = h.agent("a1", bus::encode_done(first.at("id").get<std::string>(), "{}"));
  EXPECT_EQ(find(out, bus::Command::kBrokerDisconnect).size(), 1u);
  EXPECT_TRUE(find(out, bus::Command::kResult).empty());
  EXPECT_EQ(h.core.counters().late_answers, 1u);

  out = h.agent("a2", bus::encode_done(second.at("id").get<std::string>(), "{}"));
  ASSERT_EQ(find(out, bus::Command::kResult).size(), 1u);
  // A duplicate answer is ignored and counted.
  out = h.agent("a2", bus::encode_done(second.at("id").get<std::string>(), "{}"));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(h.core.counters().late_answers, 2u);
  EXPECT_EQ(h.core.counters().completed, 1u);
}

TEST(BrokerCore, HeartbeatsFlowToQuietWorkers) {
  CoreSettings s;
  s.heartbeat_interval = 100ms;
  Harness h(s);
  h.ready("a1", 1);
  auto out = h.advance(60ms);
  EXPECT_EQ(find(out, bus::Command::kBrokerHeartbeat).size(), 1u);
}

TEST(BrokerCore, RetryableFailureRetriesWithBackoff) {
  CoreSettings s;
  s.retry_backoff_initial = 100ms;
  Harness h(s);
  h.ready("a1", 1);
  auto t = task_of(*find(h.submit("r1"), bus::Command::kTask).at(0));
  auto out = h.agent("a1", bus::encode_fail(t.at("id").get<std::string>(), "flaky", "try again", true));
  EXPECT_TRUE(find(out, bus::Command::kTask).empty());
  EXPECT_TRUE(find(h.advance(50ms), bus::Command::kTask).empty());
  const auto later = h.advance(60ms);
  auto tasks = find(later, bus::Command::kTask);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(task_of(*tasks[0]).at("attempt"), 2);
  EXPECT_EQ(h.core.counters().retried, 1u);
}

TEST(BrokerCore, NonRetryableFailureDeadLetters) {
  Harness h;
  h.ready("a1", 1);
  auto t = task_of(*find(h.submit("r1"), bus::Command::kTask).at(0));
  auto out = h.agent("a1", bus::encode_fail(t.at("id").get<std::string>(), "bad_input", "cannot", false));
  auto results = find(out, bus::Command::kResult);
  ASSERT_EQ(results.size(), 1u);
  const auto c = nlohmann::json::parse(results[0]->frames[3]);
  EXPECT_EQ(c.at("status"), "failed");
  EXPECT_EQ(c.at("error").at("code"), "agent_error");
  EXPECT_EQ(c.at("error").at("field"), "bad_input");
  h.core.persist(h.now);
  ASSERT_TRUE(h.core.store().commit(h.now.wall));
  EXPECT_EQ(h.core.store().dead_letter_count(), 1u);
}

TEST(BrokerCore, GivesUpAfterMaxAttempts) {
  CoreSettings s;
  s.max_attempts = 3;
  s.retry_backoff_initial = 1ms;
  s.retry_backoff_max = 1ms;
  Harness h(s);
  h.ready("a1", 1);
  auto out = h.submit("r1");
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto tasks = find(out, bus::Command::kTask);
    ASSERT_EQ(tasks.size(), 1u) << attempt;
    EXPECT_EQ(task_of(*tasks[0]).at("attempt"), attempt);
    out = h.agent("a1", bus::encode_fail(task_of(*tasks[0]).at("id").get<std::string>(), "flaky", "x", true));
    if (attempt < 3) out = h.advance(2ms);
  }
  auto results = find(out, bus::Command::kResult);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(results[0]->frames[3]).at("error").at("code"), "max_attempts");
}

TEST(BrokerCore, DeadlineFailsTheCaseAndKeepsTheSlotUntilTheAgentAnswers) {
  Harness h;
  h.ready("a1", 1);
  const auto deadline = common::format_rfc3339(h.now.wall + 500);
  auto t = task_of(*find(h.submit("r1", R"({})", "echo", R"(,"deadline":")" + deadline + "\""), bus::Command::kTask).at(0));
  h.submit("r2");  // waits: a1 is at capacity
  auto out = h.advance(600ms);
  auto results = find(out, bus::Command::kResult);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]->frames[2], "r1");
  EXPECT_EQ(nlohmann::json::parse(results[0]->frames[3]).at("error").at("code"), "deadline_exceeded");
  EXPECT_EQ(find(out, bus::Command::kCancel).size(), 1u);
  EXPECT_TRUE(find(out, bus::Command::kTask).empty()) << "capacity must hold until the agent answers";
  out = h.agent("a1", bus::encode_fail(t.at("id").get<std::string>(), "cancelled", "x", false));
  EXPECT_EQ(find(out, bus::Command::kTask).size(), 1u);
  EXPECT_TRUE(find(out, bus::Command::kResult).empty());
  EXPECT_EQ(h.core.counters().late_answers, 1u);
}

TEST(BrokerCore, CarriesTheCaseHopByHop) {
  Harness h;
  h.ready("a1", 1, "classifier");
  h.ready("b1", 1, "drafter");
  auto t1 = task_of(*find(h.submit("r1", R"({})", "classifier"), bus::Command::kTask).at(0));
  auto out = h.agent("a1", bus::encode_done(t1.at("id").get<std::string>(), R"({"intent":"fraud","next":"drafter"})"));
  auto tasks = find(out, bus::Command::kTask);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0]->peer, "b1");
  const auto t2 = task_of(*tasks[0]);
  EXPECT_EQ(t2.at("context").at("classifier").at("intent"), "fraud");
  EXPECT_EQ(t2.at("idempotency_key"), t2.at("case_id").get<std::string>() + "/2");
  out = h.agent("b1", bus::encode_done(t2.at("id").get<std::string>(), R"({"reply":"ok"})"));
  const auto c = nlohmann::json::parse(find(out, bus::Command::kResult).at(0)->frames[3]);
  EXPECT_EQ(c.at("trail").size(), 2u);
  EXPECT_EQ(c.at("trail")[1].at("agent"), "drafter");
  EXPECT_EQ(c.at("result").at("reply"), "ok");
}

TEST(BrokerCore, StopsAtTheHopLimit) {
  CoreSettings s;
  s.max_hops = 2;
  Harness h(s);
  h.ready("a1", 1);
  auto out = h.submit("r1");
  for (int i = 0; i < 2; ++i) {
    auto t = task_of(*find(out, bus::Command::kTask).at(0));
    out = h.agent("a1", bus::encode_done(t.at("id").get<std::string>(), R"({"next":"echo"})"));
  }
  const auto c = nlohmann::json::parse(find(out, bus::Command::kResult).at(0)->frames[3]);
  EXPECT_EQ(c.at("error").at("code"), "hop_limit");
}

TEST(BrokerCore, InvalidResultIsRetriedNotActedOn) {
  Harness h;
  h.ready("a1", 1);
  auto t = task_of(*find(h.submit("r1"), bus::Command::kTask).at(0));
  auto out = h.agent("a1", bus::encode_done(t.at("id").get<std::string>(), "not json"));
  EXPECT_TRUE(find(out, bus::Command::kResult).empty());
  const auto later = h.advance(200ms);
  auto tasks = find(later, bus::Command::kTask);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(task_of(*tasks[0]).at("attempt"), 2);
}

TEST(BrokerCore, MalformedClientInputIsAnsweredAndNothingElseChanges) {
  Harness h;
  auto out = h.client("client", bus::encode_submit("r1", R"({"v":1,"type":"case","tenant":"acme","to":"echo","payload":[]})"));
  auto rejected = find(out, bus::Command::kRejected);
  ASSERT_EQ(rejected.size(), 1u);
  const auto e = nlohmann::json::parse(rejected[0]->frames[3]);
  EXPECT_EQ(e.at("code"), "invalid_field");
  EXPECT_EQ(e.at("field"), "payload");

  out = h.client("client", {"garbage"});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(cmd(out[0]), bus::Command::kClientError);

  out = h.client("client", {"CB01", std::string(1, '\x01'), "r2", "{not json", "extra frame"});
  ASSERT_EQ(find(out, bus::Command::kRejected).size(), 1u);
  EXPECT_EQ(h.core.counters().malformed, 2u);
  EXPECT_EQ(h.core.active_cases(), 0u);
}

TEST(BrokerCore, CaseIdsAreTheBrokersAndTheClientReferenceComesBack) {
  Harness h;
  auto out = h.submit("r1", "{}", "echo", R"(,"case_id":"c-42")");
  ASSERT_EQ(find(out, bus::Command::kRejected).size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(find(out, bus::Command::kRejected)[0]->frames[3]).at("field"), "case_id");
  h.ready("a1", 1);
  auto t = task_of(*find(h.submit("r2", "{}", "echo", R"(,"id":"order-55-10293")"), bus::Command::kTask).at(0));
  EXPECT_TRUE(t.at("case_id").get<std::string>().starts_with("c-"));
  out = h.agent("a1", bus::encode_done(t.at("id").get<std::string>(), "{}"));
  EXPECT_EQ(nlohmann::json::parse(find(out, bus::Command::kResult).at(0)->frames[3]).at("ref"), "order-55-10293");
}

TEST(BrokerCore, CreatedAfterTheDeadlineIsRejected) {
  Harness h;
  const auto late = common::format_rfc3339(h.now.wall + 60'000);
  auto out = h.submit("r1", "{}", "echo", R"(,"created_at":")" + late + "\"");
  ASSERT_EQ(find(out, bus::Command::kRejected).size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(find(out, bus::Command::kRejected)[0]->frames[3]).at("field"), "created_at");
}

TEST(BrokerCore, OversizedTaskFailsTheCaseInsteadOfTheAgent) {
  CoreSettings s;
  s.max_message_bytes = 4096;
  Harness h(s);
  h.ready("a1", 1);
  auto out = h.submit("r1", R"({"message":")" + std::string(5000, 'x') + R"("})");
  EXPECT_TRUE(find(out, bus::Command::kTask).empty());
  auto results = find(out, bus::Command::kResult);
  ASSERT_EQ(results.size(), 1u);
  const auto c = nlohmann::json::parse(results[0]->frames[3]);
  EXPECT_EQ(c.at("error").at("code"), "too_large");
  EXPECT_FALSE(c.contains("payload")) << "the reduced final case leaves the payload out";
  EXPECT_EQ(h.core.worker_count(), 1u);
}

TEST(BrokerCore, RefusedSubmissionsLeaveNoKindBehind) {
  CoreSettings s;
  s.max_cases = 1;
  Harness h(s);
  h.submit("r1", "{}", "alpha");
  for (int i = 0; i < 5; ++i) h.submit("x" + std::to_string(i), "{}", "kind" + std::to_string(i));
  EXPECT_EQ(stats(h.core).at("kinds").size(), 1u);
  EXPECT_EQ(h.core.counters().busy, 5u);
}

TEST(BrokerCore, WorkersExpiringTogetherDoNotBounceTasks) {
  CoreSettings s;
  s.heartbeat_interval = 100ms;
  Harness h(s);
  h.ready("a1", 1);
  h.ready("a2", 1);
  h.submit("r1");
  h.submit("r2");
  auto out = h.advance(400ms);  // both silent for longer than liveness
  EXPECT_TRUE(find(out, bus::Command::kTask).empty());
  EXPECT_EQ(stats(h.core).at("kinds").at("echo").at("queued"), 2);
  h.ready("a3", 2);
  // Each case lost one attempt, not two.
  const auto s2 = stats(h.core);
  EXPECT_EQ(s2.at("counters").at("requeued"), 2);
}

TEST(BrokerCore, UnknownAgentIsAskedToRegister) {
  Harness h;
  auto out = h.agent("stranger", bus::encode_heartbeat());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(cmd(out[0]), bus::Command::kBrokerDisconnect);
}

TEST(BrokerCore, DrainingWorkerGetsNoNewTasksAndDisconnectRequeues) {
  Harness h;
  h.ready("a1", 2);
  auto t = task_of(*find(h.submit("r1"), bus::Command::kTask).at(0));
  h.agent("a1", bus::encode_drain());
  EXPECT_TRUE(find(h.submit("r2"), bus::Command::kTask).empty());
  h.ready("a2", 2);
  auto out = h.agent("a1", bus::encode_disconnect());
  auto tasks = find(out, bus::Command::kTask);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0]->peer, "a2");
  EXPECT_EQ(task_of(*tasks[0]).at("case_id"), t.at("case_id"));
}

TEST(BrokerCore, ShutdownRefusesNewWorkAndFailsWhatIsLeft) {
  Harness h;
  h.submit("r1");
  h.core.stop_accepting();
  auto out = h.submit("r2");
  EXPECT_EQ(nlohmann::json::parse(find(out, bus::Command::kRejected).at(0)->frames[3]).at("code"), "shutting_down");
  out.clear();
  h.core.fail_all(Errc::kShuttingDown, "stopped", h.now, out);
  ASSERT_EQ(find(out, bus::Command::kResult).size(), 1u);
  EXPECT_EQ(h.core.active_cases(), 0u);
}

}  // namespace
}  // namespace broker

namespace broker {
namespace {

TEST(BrokerCore, WhatAnAnswerCostIsRecordedInTheTrailAndBadMetadataIsDropped) {
  Harness h;
  h.ready("a1", 2);
  auto t = task_of(*find(h.submit("r1"), bus::Command::kTask).at(0));
  auto out = h.agent("a1", bus::encode_done_meta(t.at("id").get<std::string>(), R"({"ok":true})",
                                                 R"({"model":"fake-model","model_calls":2,"input_tokens":321,"output_tokens":45,"model_ms":812})"));
  auto c = nlohmann::json::parse(find(out, bus::Command::kResult).at(0)->frames.at(3));
  EXPECT_EQ(c.at("trail")[0].at("model_call"),
            nlohmann::json::parse(R"({"model":"fake-model","model_calls":2,"input_tokens":321,"output_tokens":45,"model_ms":812})"));
  for (const char* bad : {R"({"input_tokens":-1})", R"({"cost_usd":3})", "not json", R"({"model":7})"}) {
    t = task_of(*find(h.submit("r2"), bus::Command::kTask).at(0));
    out = h.agent("a1", bus::encode_done_meta(t.at("id").get<std::string>(), R"({"ok":true})", bad));
    c = nlohmann::json::parse(find(out, bus::Command::kResult).at(0)->frames.at(3));
    EXPECT_EQ(c.at("status"), "completed") << bad;
    EXPECT_FALSE(c.at("trail")[0].contains("model_call")) << bad;
  }
}

}  // namespace
}  // namespace broker
