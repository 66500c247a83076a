#include "common/bus/envelope.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace common::bus {
namespace {

const char* kTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

nlohmann::json task() {
  return {{"v", 1},
          {"type", "task"},
          {"id", "c-1.1.1"},
          {"case_id", "c-1"},
          {"tenant", "acme"},
          {"to", "classifier"},
          {"attempt", 1},
          {"created_at", "2026-11-21T08:45:00.000Z"},
          {"deadline", "2026-11-21T08:45:30.000Z"},
          {"trace", kTrace},
          {"idempotency_key", "c-1/1"},
          {"payload", {{"message", "I was charged twice"}, {"amount_minor", 4250}}},
          {"context", nlohmann::json::object()}};
}

TEST(Envelope, TaskRoundTrips) {
  EnvelopeCodec codec;
  auto e = codec.decode(task().dump());
  ASSERT_TRUE(e) << e.error().describe();
  EXPECT_EQ(e->type, EnvelopeType::kTask);
  EXPECT_EQ(e->case_id, "c-1");
  EXPECT_EQ(e->deadline - e->created_at, 30000);
  const auto again = codec.decode(encode(*e));
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_EQ(nlohmann::json::parse(encode(*again)), task());
}

TEST(Envelope, MinimalSubmission) {
  EnvelopeCodec codec;
  auto e = codec.decode(R"({"v":1,"type":"case","tenant":"acme","to":"echo","payload":{"message":"hi"}})");
  ASSERT_TRUE(e) << e.error().describe();
  EXPECT_EQ(e->type, EnvelopeType::kCase);
  EXPECT_TRUE(e->case_id.empty());
  EXPECT_EQ(e->payload, R"({"message":"hi"})");
  EXPECT_EQ(e->context, "{}");
}

struct BadCase {
  const char* name;
  std::function<void(nlohmann::json&)> mutate;
  Errc code;
  const char* field;
};

TEST(Envelope, RejectsBadInputNamingTheField) {
  const BadCase cases[] = {
      {"missing tenant", [](auto& j) { j.erase("tenant"); }, Errc::kInvalidField, "tenant"},
      {"missing payload", [](auto& j) { j.erase("payload"); }, Errc::kInvalidField, "payload"},
      {"missing v", [](auto& j) { j.erase("v"); }, Errc::kInvalidField, "v"},
      {"task missing deadline", [](auto& j) { j.erase("deadline"); }, Errc::kInvalidField, "deadline"},
      {"wrong version", [](auto& j) { j["v"] = 2; }, Errc::kUnsupportedVersion, "v"},
      {"v as string", [](auto& j) { j["v"] = "1"; }, Errc::kInvalidField, "v"},
      {"unknown type", [](auto& j) { j["type"] = "job"; }, Errc::kInvalidField, "type"},
      {"unknown field", [](auto& j) { j["extra"] = 1; }, Errc::kInvalidField, "extra"},
      {"tenant uppercase", [](auto& j) { j["tenant"] = "ACME"; }, Errc::kInvalidField, "tenant"},
      {"to with dash", [](auto& j) { j["to"] = "fraud-reviewer"; }, Errc::kInvalidField, "to"},
      {"attempt zero", [](auto& j) { j["attempt"] = 0; }, Errc::kInvalidField, "attempt"},
      {"attempt float", [](auto& j) { j["attempt"] = 1.5; }, Errc::kInvalidField, "attempt"},
      {"bad timestamp", [](auto& j) { j["created_at"] = "yesterday"; }, Errc::kInvalidField, "created_at"},
      {"deadline before creation", [](auto& j) { j["deadline"] = "2026-11-21T08:00:00Z"; }, Errc::kInvalidField, "deadline"},
      {"bad trace", [](auto& j) { j["trace"] = "abc"; }, Errc::kInvalidField, "trace"},
      {"payload array", [](auto& j) { j["payload"] = nlohmann::json::array(); }, Errc::kInvalidField, "payload"},
      {"context string", [](auto& j) { j["context"] = "x"; }, Errc::kInvalidField, "context"},
      {"id with space", [](auto& j) { j["id"] = "a b"; }, Errc::kInvalidField, "id"},
      {"case id too long", [](auto& j) { j["case_id"] = std::string(129, 'a'); }, Errc::kInvalidField, "case_id"},
      {"key control char", [](auto& j) { j["idempotency_key"] = "a\nb"; }, Errc::kInvalidField, "idempotency_key"},
  };
  EnvelopeCodec codec;
  for (const auto& c : cases) {
    auto j = task();
    c.mutate(j);
    auto e = codec.decode(j.dump());
    ASSERT_FALSE(e) << c.name;
    EXPECT_EQ(e.error().code, c.code) << c.name << ": " << e.error().describe();
    EXPECT_EQ(e.error().field, c.field) << c.name << ": " << e.error().describe();
  }
}

TEST(Envelope, RejectsSyntaxAndDuplicates) {
  EnvelopeCodec codec;
  for (const char* text : {"", "{", "[]", "null", "{\"v\":1,}", "{\"v\":1} trailing", "\xff\xfe"}) {
    auto e = codec.decode(text);
    ASSERT_FALSE(e) << text;
    EXPECT_EQ(e.error().code, Errc::kMalformed) << text;
  }
  auto dup = codec.decode(R"({"v":1,"type":"case","tenant":"a","tenant":"b","to":"echo","payload":{}})");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().field, "tenant");
}

TEST(Envelope, SubmissionAttemptMustBeOne) {
  EnvelopeCodec codec;
  auto e = codec.decode(R"({"v":1,"type":"case","tenant":"a","to":"echo","attempt":2,"payload":{}})");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().field, "attempt");
}

TEST(AgentResult, ValidatesObjectAndNext) {
  EnvelopeCodec codec;
  auto ok = codec.decode_result(R"({"intent": "fraud", "next": "fraud_reviewer"})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->next, "fraud_reviewer");
  EXPECT_EQ(ok->json, R"({"intent":"fraud","next":"fraud_reviewer"})");
  EXPECT_FALSE(codec.decode_result(R"({"next": 3})"));
  EXPECT_FALSE(codec.decode_result(R"({"next": "Bad-Kind"})"));
  EXPECT_FALSE(codec.decode_result("[1,2]"));
  EXPECT_FALSE(codec.decode_result("{\"a\":"));
  auto no_next = codec.decode_result(R"({"next": null})");
  ASSERT_TRUE(no_next);
  EXPECT_FALSE(no_next->next);
}

TEST(SplitObject, KeepsMembersInOrder) {
  EnvelopeCodec codec;
  auto m = codec.split_object(R"({"b": {"x": 1}, "a": [1, 2]})");
  ASSERT_TRUE(m);
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].first, "b");
  EXPECT_EQ((*m)[0].second, R"({"x":1})");
  EXPECT_EQ((*m)[1].second, "[1,2]");
}

}  // namespace
}  // namespace common::bus
