#include "mapping.hpp"
#include "settings.hpp"

#include <gtest/gtest.h>

namespace ingest {
namespace {

using nlohmann::json;

Mapping alerts() {
  return mapping_from_json(json::parse(R"({
    "tenant": {"const": "acme"},
    "idempotency_key": "/event_id",
    "payload": {
      "kind": {"const": "transaction_alert"},
      "channel": {"const": "event_bus"},
      "customer_ref": "/customer/ref",
      "message": {"field": "/note", "optional": true},
      "transaction": "/transaction"
    }})"),
                           "mapping");
}

const char* kAlert = R"({"event_id": "evt-881", "customer": {"ref": "cust-10492"},
  "note": "customer called: card 4111 1111 1111 1111 was used abroad",
  "transaction": {"id": "tx-1", "amount_minor": 129900, "currency": "USD", "merchant": "ACME Electronics"}})";

const Mapped& mapped(const std::variant<Mapped, Refusal>& r) {
  if (const auto* f = std::get_if<Refusal>(&r)) ADD_FAILURE() << f->reason << " " << f->field << " " << f->message;
  return std::get<Mapped>(r);
}

TEST(Mapping, AnEventBecomesARedactedCaseEnvelope) {
  const auto r = map_event(alerts(), kAlert, {"core.card-alerts", 3, 77}, {});
  ASSERT_TRUE(std::holds_alternative<Mapped>(r));
  const auto& m = mapped(r);
  EXPECT_EQ(m.tenant, "acme");
  EXPECT_EQ(m.idempotency_key, "event:evt-881");
  EXPECT_EQ(m.redactions, 1);
  const auto env = json::parse(m.envelope);
  EXPECT_EQ(env.at("type"), "case");
  EXPECT_EQ(env.at("to"), "banking");
  EXPECT_EQ(env.at("id"), "kafka:core.card-alerts/3/77");
  EXPECT_EQ(env.at("payload").at("kind"), "transaction_alert");
  EXPECT_EQ(env.at("payload").at("transaction").at("amount_minor"), 129900);
  EXPECT_EQ(m.envelope.find("4111"), std::string::npos) << "the card number never reaches the bus";
}

TEST(Mapping, WithoutAnEventIdTheKeyIsTheRecordsPlace) {
  auto j = json::parse(R"({"tenant": "/bank", "payload": {"kind": {"const": "support_message"},
                           "customer_ref": "/cust", "message": "/text"}})");
  const auto m = mapping_from_json(j, "mapping");
  const auto r = map_event(m, R"({"bank": "acme", "cust": "cust-1", "text": "I lost my card"})", {"msgs", 0, 5}, {});
  EXPECT_EQ(mapped(r).idempotency_key, "kafka:msgs/0/5");
  // Redelivered: the same key, so the broker returns the same case.
  EXPECT_EQ(mapped(map_event(m, R"({"bank": "acme", "cust": "cust-1", "text": "I lost my card"})", {"msgs", 0, 5}, {})).envelope,
            mapped(r).envelope);
}

TEST(Mapping, BadEventsAreRefusedWithAReasonAndTheField) {
  const auto m = alerts();
  struct Row {
    std::string event, reason, field;
  } rows[] = {
      {"not json", "not_json", ""},
      {"[1,2]", "not_json", ""},
      {R"({"event_id": "e1", "customer": {"ref": "c-1"}})", "missing_field", "payload.transaction"},
      {R"({"customer": {"ref": "c-1"}, "transaction": {}})", "missing_field", "idempotency_key"},
      {R"({"event_id": "e1", "customer": {"ref": "c-1"}, "transaction": {"amount_minor": "lots", "currency": "USD"}})",
       "invalid_field", "payload.transaction.amount_minor"},
      {R"({"event_id": "e1", "customer": {"ref": "4111111111111111"}, "transaction": {"amount_minor": 1, "currency": "USD"}})",
       "personal_reference", "payload.customer_ref"},
  };
  for (const auto& row : rows) {
    const auto r = map_event(m, row.event, {"t", 0, 1}, {});
    ASSERT_TRUE(std::holds_alternative<Refusal>(r)) << row.event;
    const auto& f = std::get<Refusal>(r);
    EXPECT_EQ(f.reason, row.reason) << row.event << " -> " << f.message;
    EXPECT_EQ(f.field, row.field) << row.event << " -> " << f.message;
    EXPECT_EQ(f.message.find("4111"), std::string::npos) << "refusals never quote the event";
  }
  MapOptions small;
  small.max_event_bytes = 300;
  const auto big = map_event(m, std::string(R"({"note": ")") + std::string(400, 'x') + "\"}", {"t", 0, 1}, small);
  EXPECT_EQ(std::get<Refusal>(big).reason, "too_large");
}

TEST(Mapping, ConfigurationErrorsNameTheKey) {
  auto what = [](const std::string& text) {
    try {
      mapping_from_json(json::parse(text), "topics[0].mapping");
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(what(R"({"payload": {"kind": {"const": "support_message"}}})").find("topics[0].mapping.tenant"), std::string::npos);
  EXPECT_NE(what(R"({"tenant": "acme", "payload": {"kind": {"const": "support_message"}}})").find("JSON pointer"), std::string::npos);
  EXPECT_NE(what(R"({"tenant": "/t", "payload": {"message": "/m"}})").find("payload.kind"), std::string::npos);
  EXPECT_NE(what(R"({"tenant": "/t", "payload": {"kind": "/k"}, "extra": 1})").find("extra"), std::string::npos);
}

TEST(IngestSettings, NeedADeadLetterTopicAndRefuseOffsetSettingsOfTheirOwn) {
  const json topic = {{"name", "core.alerts"}, {"mapping", json::parse(R"({"tenant": "/t", "payload": {"kind": "/k"}})")}};
  Settings s;
  EXPECT_THROW(from_json(json{{"topics", {topic}}}, s), std::invalid_argument);
  Settings ok;
  from_json(json{{"topics", {topic}}, {"dead_letter_topic", "casebus.dead-letter"}}, ok);
  EXPECT_EQ(ok.topics.size(), 1u);
  EXPECT_FALSE(ok.instance.empty());
  Settings bad;
  EXPECT_THROW(from_json(json{{"topics", {topic}}, {"dead_letter_topic", "dlq"}, {"kafka", {{"enable.auto.commit", "true"}}}}, bad),
               std::invalid_argument);
  Settings none;
  EXPECT_THROW(from_json(json::object(), none), std::invalid_argument) << "nothing to do";
  Settings secret;
  from_json(json{{"outbox", {{"outcome_topic", "casebus.outcomes"}}}, {"kafka", {{"sasl.password", "hunter2"}}}}, secret);
  EXPECT_EQ(to_json(secret).dump().find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace ingest
