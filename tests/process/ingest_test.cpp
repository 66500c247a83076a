// casebus-ingest against a Kafka cluster on loopback (librdkafka's mock cluster: the real
// protocol, consumer groups and offset commits), the real broker and agents (docs/event-bus.md).
#include "kafka.hpp"
#include "stack.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <set>

namespace testsupport {
namespace {

using nlohmann::json;
namespace bus = common::bus;

const std::vector<std::string> kTopics = {"core.card-alerts:4", "core.messages:2", "casebus.dead-letter:1",
                                          "casebus.outcomes:2", "casebus.actions:1"};

json ingest_config(const std::string& kafka, const std::string& broker, const json& overrides = json::object()) {
  json c = json::parse(R"({
    "group_id": "casebus-ingest-test",
    "dead_letter_topic": "casebus.dead-letter",
    "max_event_bytes": 2048,
    "commit_interval_ms": 100,
    "topics": [
      {"name": "core.card-alerts", "mapping": {
        "tenant": {"const": "acme"}, "idempotency_key": "/event_id",
        "payload": {"kind": {"const": "transaction_alert"}, "customer_ref": "/customer_ref", "transaction": "/transaction"}}},
      {"name": "core.messages", "mapping": {
        "tenant": "/tenant",
        "payload": {"kind": {"const": "support_message"}, "channel": {"const": "phone"}, "customer_ref": "/customer",
                    "message": "/text"}}}
    ],
    "outbox": {"outcome_topic": "casebus.outcomes", "action_topic": "casebus.actions", "poll_ms": 50, "lease_ms": 2000},
    "kafka": {"topic.metadata.refresh.interval.ms": "1000"},
    "kafka_consumer": {"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"},
    "log": {"level": "debug"}
  })");
  c["brokers"] = kafka;
  c["broker_endpoint"] = broker;
  c.merge_patch(overrides);
  return c;
}

json broker_config(const json& overrides = json::object()) {
  auto c = shipped_broker_config();
  c["outbox"] = {{"enabled", true}};
  c.merge_patch(overrides);
  return c;
}

std::string alert(int n) {
  return json{{"event_id", "evt-" + std::to_string(n)},
              {"customer_ref", "cust-k" + std::to_string(n)},
              {"transaction",
               {{"id", "tx-" + std::to_string(n)}, {"amount_minor", 249900}, {"currency", "USD"}, {"merchant", "ACME Electronics"},
                {"card_last4", "4417"}, {"card_present", false}}}}
      .dump();
}

std::string message(int n, const std::string& text = "What is my current balance?") {
  return json{{"tenant", "acme"}, {"customer", "cust-m" + std::to_string(n)}, {"text", text}}.dump();
}

std::vector<std::pair<std::string, std::string>> messages(int from, int to) {
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = from; i < to; ++i) out.emplace_back("cust-m" + std::to_string(i), message(i));
  return out;
}

struct Ingest {
  std::unique_ptr<Process> process;
  Ingest(Stack& s, const json& config, const std::string& name = "ingest", std::vector<std::string> env = {}) {
    const auto path = s.dir().write(name + ".json", config.dump());
    process = std::make_unique<Process>(name, ingest_binary(), std::vector<std::string>{"--config", path.string()}, s.dir(),
                                        std::move(env));
    process->wait_ready();
  }
  ~Ingest() { dump_on_failure({process.get()}); }
};

std::uint64_t counter(Stack& s, const char* name) {
  return s.stats().at("counters").at(name).get<std::uint64_t>();
}

TEST(Ingest, EventsBecomeCasesAndOutcomesAndApprovedActionsGoBackToKafka) {
  Stack s(broker_config());
  KafkaCluster kafka(s.dir(), kTopics);
  s.start_broker();
  s.start_banking_agents();
  Ingest ingest(s, ingest_config(kafka.brokers(), s.client_endpoint()));
  for (int i = 1; i <= 3; ++i) kafka.produce("core.card-alerts", "cust-k" + std::to_string(i), alert(i));
  kafka.produce("core.messages", "cust-m1", message(1));
  kafka.produce("core.messages", "cust-m2", message(2, "Someone used my card 4111 1111 1111 1111 abroad, block it"));

  const auto outcomes = kafka.read("casebus.outcomes", 5, 30s);
  ASSERT_EQ(outcomes.size(), 5u) << ingest.process->stderr_text();
  std::set<std::string> keys;
  for (const auto& r : outcomes) {
    const auto body = json::parse(r.value);
    EXPECT_EQ(r.key, body.at("case_id")) << "keyed by case id";
    EXPECT_EQ(r.headers.at("casebus-type"), "case_outcome");
    EXPECT_EQ(body.at("tenant"), "acme");
    EXPECT_EQ(r.value.find("4111"), std::string::npos);
    keys.insert(body.at("idempotency_key").get<std::string>());
    if (body.at("kind") == "transaction_alert") {
      EXPECT_EQ(body.at("status"), "escalated") << body.dump();
      EXPECT_EQ(body.at("approved_actions").at(0).at("type"), "temporary_card_freeze");
      EXPECT_EQ(body.at("ref").get<std::string>().rfind("kafka:core.card-alerts/", 0), 0u);
    }
  }
  EXPECT_TRUE(keys.count("event:evt-1") && keys.count("event:evt-2") && keys.count("event:evt-3"));
  EXPECT_TRUE(keys.count("kafka:core.messages/0/0") || keys.count("kafka:core.messages/1/0"));

  const auto actions = kafka.read("casebus.actions", 3, 20s);
  ASSERT_EQ(actions.size(), 3u);
  for (const auto& r : actions) {
    const auto body = json::parse(r.value);
    EXPECT_EQ(body.at("type"), "approved_action");
    EXPECT_EQ(body.at("action").at("type"), "temporary_card_freeze");
    EXPECT_EQ(body.at("approved_by"), "policy");
    EXPECT_EQ(body.at("action_id"), body.at("case_id").get<std::string>() + ":1");
    EXPECT_EQ(r.key, body.at("case_id"));
  }
  EXPECT_EQ(counter(s, "accepted"), 5u);
  EXPECT_TRUE(eventually([&] { return s.stats().at("outbox").at("pending") == 0; })) << "acknowledged entries are removed";
  // The card number was redacted before the case reached the bus.
  EXPECT_EQ(s.all_stderr().find("4111 1111"), std::string::npos);
}

// Seed 003's refund waits for a person; casebusctl records the person's approval, and only then is
// the refund on the action topic, with who approved it.
TEST(Ingest, APersonsApprovalOfAPendingRefundIsPublished) {
  Stack s(broker_config());
  KafkaCluster kafka(s.dir(), kTopics);
  s.start_broker();
  s.start_banking_agents();
  Ingest ingest(s, ingest_config(kafka.brokers(), s.client_endpoint()));
  kafka.produce("core.messages", "cust-r1", message(1, "Refund $42.50 USD for invoice INV-1042 because duplicate charge was detected."));
  const auto outcomes = kafka.read("casebus.outcomes", 1, 30s);
  ASSERT_EQ(outcomes.size(), 1u) << ingest.process->stderr_text();
  const auto outcome = json::parse(outcomes[0].value);
  ASSERT_EQ(outcome.at("status"), "escalated") << outcome.dump();
  ASSERT_EQ(outcome.at("pending_actions").at(0).at("type"), "refund");
  EXPECT_TRUE(outcome.at("approved_actions").empty());
  const std::string id = outcome.at("case_id").get<std::string>();

  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--broker", s.client_endpoint()});
    Process p("ctl", Binaries::ctl(), std::move(args), s.dir());
    const int exit_code = p.wait_exit(15s).value_or(-1);  // before reading what it printed
    return std::make_pair(exit_code, p.stderr_text());
  };
  auto [code, out] = ctl({"action", "approve", id, "refund"});
  EXPECT_EQ(code, 1) << "no --by: " << out;
  std::tie(code, out) = ctl({"action", "approve", id, "refund", "--by", "ops-anna"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("decision  approved"), std::string::npos) << out;
  EXPECT_NE(out.find("4250 USD"), std::string::npos) << out;
  std::tie(code, out) = ctl({"action", "approve", id, "refund", "--by", "ops-anna"});
  EXPECT_EQ(code, 2) << "decided already: " << out;
  EXPECT_NE(out.find("no pending refund"), std::string::npos) << out;

  const auto actions = kafka.read("casebus.actions", 1, 20s);
  ASSERT_EQ(actions.size(), 1u);
  const auto a = json::parse(actions[0].value);
  EXPECT_EQ(a.at("action").at("type"), "refund");
  EXPECT_EQ(a.at("action").at("amount_minor"), 4250);
  EXPECT_EQ(a.at("approved_by"), "person");
  EXPECT_EQ(a.at("approver"), "ops-anna");
  EXPECT_EQ(a.at("case_id"), id);
  // The stored final case says so too.
  bus::SyncBusClient c(s.client_endpoint());
  const auto shown = c.control(json{{"op", "case.show"}, {"case_id", id}}.dump(), 5s);
  const auto view = json::parse(shown.body).at("case");
  EXPECT_TRUE(view.at("pending_actions").empty());
  EXPECT_EQ(view.at("approved_actions").at(0).at("decided_by"), "ops-anna");
}

TEST(Ingest, BadEventsGoToTheDeadLetterTopicWithTheReasonAndConsumptionGoesOn) {
  Stack s(broker_config());
  KafkaCluster kafka(s.dir(), kTopics);
  s.start_broker();
  s.start_banking_agents();
  Ingest ingest(s, ingest_config(kafka.brokers(), s.client_endpoint()));
  kafka.produce("core.card-alerts", "x", "this is not json", 0);
  kafka.produce("core.card-alerts", "x", R"({"event_id": "evt-9", "customer_ref": "cust-9"})", 0);
  kafka.produce("core.card-alerts", "x", R"({"event_id": "evt-10", "pad": ")" + std::string(3000, 'x') + "\"}", 0);
  kafka.produce("core.card-alerts", "x", alert(11), 0);
  const auto dead = kafka.read("casebus.dead-letter", 3, 30s);
  ASSERT_EQ(dead.size(), 3u) << ingest.process->stderr_text();
  std::vector<std::string> reasons;
  for (const auto& r : dead) reasons.push_back(r.headers.at("casebus-reason"));
  EXPECT_EQ(reasons, (std::vector<std::string>{"not_json", "missing_field", "too_large"}));
  EXPECT_EQ(dead[0].value, "this is not json") << "the event as it came";
  EXPECT_EQ(dead[1].headers.at("casebus-field"), "payload.transaction");
  EXPECT_EQ(dead[1].headers.at("casebus-source"), "core.card-alerts/0/1");
  const auto outcomes = kafka.read("casebus.outcomes", 1, 30s);
  ASSERT_EQ(outcomes.size(), 1u) << "the good event after them still became a case";
  EXPECT_EQ(json::parse(outcomes[0].value).at("idempotency_key"), "event:evt-11");
}

TEST(Ingest, KilledMidStreamEveryEventStillYieldsExactlyOneCase) {
  Stack s(broker_config());
  KafkaCluster kafka(s.dir(), kTopics);
  s.start_broker();
  s.start_banking_agents();
  constexpr int kEvents = 4000;
  kafka.produce_all("core.messages", messages(0, kEvents));
  // A narrow pipeline, so that the kill lands mid-stream.
  const json narrow{{"max_in_flight", 16}};
  {
    Ingest first(s, ingest_config(kafka.brokers(), s.client_endpoint(), narrow), "ingest-1");
    ASSERT_TRUE(eventually([&] { return counter(s, "accepted") >= 300; }, 30s));
    first.process->signal(SIGKILL);
    first.process->wait_exit(5s);
  }
  const auto at_kill = counter(s, "accepted");
  ASSERT_LT(at_kill, static_cast<std::uint64_t>(kEvents)) << "the kill came after the last event: nothing tested";
  Ingest second(s, ingest_config(kafka.brokers(), s.client_endpoint(), narrow), "ingest-2");
  EXPECT_TRUE(eventually([&] { return counter(s, "accepted") >= kEvents; }, 60s)) << counter(s, "accepted");
  const auto outcomes = kafka.read("casebus.outcomes", kEvents, 60s);
  std::map<std::string, std::set<std::string>> cases_by_event;
  for (const auto& r : outcomes) {
    const auto body = json::parse(r.value);
    cases_by_event[body.at("idempotency_key").get<std::string>()].insert(body.at("case_id").get<std::string>());
  }
  EXPECT_EQ(cases_by_event.size(), static_cast<std::size_t>(kEvents)) << "every event has its outcome";
  std::size_t twice = 0;
  for (const auto& [key, ids] : cases_by_event) twice += ids.size() > 1;
  EXPECT_EQ(twice, 0u) << "an event that became two cases";
  EXPECT_EQ(counter(s, "accepted"), static_cast<std::uint64_t>(kEvents)) << "no second case for a redelivered event";
  std::printf("ingest kill: accepted_at_kill=%llu events=%d outcome_records=%zu resubmitted_duplicates=%llu\n",
              static_cast<unsigned long long>(at_kill), kEvents, outcomes.size(),
              static_cast<unsigned long long>(counter(s, "duplicates")));
}

TEST(Ingest, ABusyBrokerPausesThePartitionAndNothingIsDropped) {
  Stack s(broker_config({{"queue_limit", 5}}));
  KafkaCluster kafka(s.dir(), kTopics);
  s.start_broker();
  Ingest ingest(s, ingest_config(kafka.brokers(), s.client_endpoint()));
  kafka.produce_all("core.messages", messages(0, 40));
  // No agents yet: the classifier's queue fills at 5 and the broker answers busy.
  ASSERT_TRUE(eventually([&] { return counter(s, "busy") > 0; }, 20s));
  EXPECT_TRUE(eventually([&] { return ingest.process->stderr_text().find("pausing the partition") != std::string::npos; }));
  s.start_banking_agents();
  EXPECT_TRUE(eventually([&] { return counter(s, "accepted") == 40; }, 40s)) << counter(s, "accepted");
  EXPECT_TRUE(kafka.read("casebus.dead-letter", 1, 1s).empty()) << "busy is never a reason to dead-letter";
  EXPECT_EQ(kafka.read("casebus.outcomes", 40, 30s).size(), 40u);
}

// Under systemd: READY, STATUS, WATCHDOG=1 from its loop, and on SIGTERM STOPPING=1, a final
// commit and a clean exit; a restart then has nothing to redeliver.
TEST(Ingest, SendsTheServiceManagerItsStatusAndStopsCleanly) {
  Stack s(broker_config());
  KafkaCluster kafka(s.dir(), kTopics);
  s.start_broker();
  s.start_banking_agents();
  Ingest ingest(s, ingest_config(kafka.brokers(), s.client_endpoint()), "ingest", {"WATCHDOG_USEC=300000"});
  kafka.produce_all("core.messages", messages(0, 20));
  ASSERT_TRUE(eventually([&] { return counter(s, "accepted") == 20; }, 30s));
  EXPECT_TRUE(ingest.process->wait_notify("WATCHDOG", 5s));
  EXPECT_TRUE(ingest.process->wait_notify("WATCHDOG", 5s));
  ingest.process->signal(SIGTERM);
  EXPECT_TRUE(ingest.process->wait_notify("STOPPING", 10s));
  EXPECT_EQ(ingest.process->wait_exit(20s), 0);
  EXPECT_NE(ingest.process->stderr_text().find("stopped consumed=20 accepted=20"), std::string::npos);
  // Everything was committed: a new member of the group finds nothing to take again.
  Ingest again(s, ingest_config(kafka.brokers(), s.client_endpoint()), "ingest-again");
  kafka.produce("core.messages", "cust-m99", message(99));
  ASSERT_TRUE(eventually([&] { return counter(s, "accepted") == 21; }, 30s));
  EXPECT_EQ(counter(s, "duplicates"), 0u) << "no event was submitted twice";
}

TEST(Ingest, ASecondIngestTakesOverThePartitionsWhenTheFirstDies) {
  Stack s(broker_config());
  KafkaCluster kafka(s.dir(), kTopics);
  s.start_broker();
  s.start_banking_agents();
  auto a = std::make_unique<Ingest>(s, ingest_config(kafka.brokers(), s.client_endpoint(), {{"instance", "ingest-a"}}), "ingest-a");
  Ingest b(s, ingest_config(kafka.brokers(), s.client_endpoint(), {{"instance", "ingest-b"}}), "ingest-b");
  kafka.produce_all("core.messages", messages(0, 100));
  ASSERT_TRUE(eventually([&] { return counter(s, "accepted") == 100; }, 30s));
  a->process->signal(SIGKILL);
  a->process->wait_exit(5s);
  kafka.produce_all("core.messages", messages(100, 200));
  // b gets a's partitions once the group notices a is gone (session.timeout.ms 6 s).
  EXPECT_TRUE(eventually([&] { return counter(s, "accepted") == 200; }, 45s)) << counter(s, "accepted");
  EXPECT_NE(b.process->stderr_text().find("total=6"), std::string::npos) << "b ends up with every partition";
}

}  // namespace
}  // namespace testsupport
