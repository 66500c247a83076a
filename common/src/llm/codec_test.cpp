#include "common/llm/anthropic.hpp"
#include "common/llm/checked.hpp"
#include "common/llm/openai.hpp"

#include <gtest/gtest.h>

namespace common::llm {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

CompletionRequest classify_request() {
  CompletionRequest r;
  r.system = "Classify the customer's message.";
  r.user = "I was charged twice for [card ending 1111].";
  r.schema = {{"type", "object"}, {"properties", {{"intent", {{"type", "string"}}}}}, {"required", {"intent"}}};
  r.max_tokens = 512;
  return r;
}

TEST(Anthropic, RequestForcesTheToolWhoseSchemaIsTheAnswer) {
  const auto body = json::parse(anthropic::request_body("claude-test", classify_request()));
  EXPECT_EQ(body.at("model"), "claude-test");
  EXPECT_EQ(body.at("max_tokens"), 512);
  EXPECT_EQ(body.at("temperature"), 0.0);
  EXPECT_EQ(body.at("system"), "Classify the customer's message.");
  EXPECT_EQ(body.at("messages"), json::parse(R"([{"role":"user","content":"I was charged twice for [card ending 1111]."}])"));
  EXPECT_EQ(body.at("tools")[0].at("name"), "record_result");
  EXPECT_EQ(body.at("tools")[0].at("input_schema"), classify_request().schema);
  EXPECT_EQ(body.at("tool_choice"), json::parse(R"({"type":"tool","name":"record_result"})"));
}

TEST(Anthropic, ReadsToolUseTextStopReasonAndUsage) {
  const auto r = anthropic::parse_response(200, R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-test",
    "content":[{"type":"text","text":"Here it is."},{"type":"tool_use","id":"toolu_1","name":"record_result","input":{"intent":"card_dispute"}}],
    "stop_reason":"tool_use","usage":{"input_tokens":321,"output_tokens":45}})");
  ASSERT_TRUE(r) << r.error().error.describe();
  EXPECT_EQ(r->text, "Here it is.");
  ASSERT_TRUE(r->structured);
  EXPECT_EQ(r->structured->at("intent"), "card_dispute");
  EXPECT_EQ(r->stop_reason, "tool_use");
  EXPECT_EQ(r->usage.input_tokens, 321);
  EXPECT_EQ(r->usage.output_tokens, 45);
  EXPECT_EQ(r->model, "claude-test");
  EXPECT_EQ(answer_object(*r).value().at("intent"), "card_dispute");
}

TEST(Anthropic, ErrorsSayWhetherToTryAgain) {
  struct Row {
    int status;
    const char* body;
    const char* retry_after;
    bool retryable;
    const char* type;
    std::optional<std::chrono::milliseconds> wait;
  };
  const Row rows[] = {
      {529, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})", "", true, "overloaded_error", std::nullopt},
      {429, R"({"type":"error","error":{"type":"rate_limit_error","message":"slow down"}})", "7", true, "rate_limit_error", 7000ms},
      {500, "<html>bad gateway</html>", "", true, "http_500", std::nullopt},
      {408, "", "", true, "http_408", std::nullopt},
      {400, R"({"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too large"}})", "", false,
       "invalid_request_error", std::nullopt},
      {401, R"({"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}})", "", false,
       "authentication_error", std::nullopt},
      {413, R"({"type":"error","error":{"type":"request_too_large","message":"too large"}})", "", false, "request_too_large", std::nullopt},
  };
  for (const auto& row : rows) {
    const auto r = anthropic::parse_response(row.status, row.body, row.retry_after);
    ASSERT_FALSE(r) << row.status;
    EXPECT_EQ(r.error().retryable, row.retryable) << row.status;
    EXPECT_EQ(r.error().http_status, row.status);
    EXPECT_EQ(r.error().error.field, row.type) << row.status;
    EXPECT_EQ(r.error().retry_after, row.wait) << row.status;
  }
}

TEST(Anthropic, AnAnswerThatIsNotAMessageOrWasCutOffIsNotUsable) {
  for (const char* body : {"not json", R"({"type":"error"})", R"({"type":"message"})",
                           R"({"type":"message","content":[{"type":"text","text":"{\"intent\":"}],"stop_reason":"max_tokens"})"}) {
    const auto r = anthropic::parse_response(200, body);
    ASSERT_FALSE(r) << body;
    EXPECT_FALSE(r.error().retryable) << body;
    EXPECT_EQ(r.error().error.code, Errc::kInvalidResult) << body;
  }
}

TEST(OpenAiCompatible, RequestUsesJsonModeAndStatesTheSchema) {
  const auto body = json::parse(openai::request_body("llama-3-8b", classify_request()));
  EXPECT_EQ(body.at("model"), "llama-3-8b");
  EXPECT_EQ(body.at("response_format"), json::parse(R"({"type":"json_object"})"));
  EXPECT_EQ(body.at("messages")[0].at("role"), "system");
  EXPECT_NE(body.at("messages")[0].at("content").get<std::string>().find(R"("required":["intent"])"), std::string::npos);
  EXPECT_EQ(body.at("messages")[1], json::parse(R"({"role":"user","content":"I was charged twice for [card ending 1111]."})"));
  EXPECT_EQ(body.at("temperature"), 0.0);
}

TEST(OpenAiCompatible, ReadsTheMessageAndNormalisesTheStopReason) {
  const auto r = openai::parse_response(200, R"({"id":"c1","model":"llama-3-8b","choices":[{"index":0,
    "message":{"role":"assistant","content":"```json\n{\"intent\":\"balance\"}\n```"},"finish_reason":"stop"}],
    "usage":{"prompt_tokens":200,"completion_tokens":12,"total_tokens":212}})");
  ASSERT_TRUE(r) << r.error().error.describe();
  EXPECT_EQ(r->stop_reason, "end_turn");
  EXPECT_EQ(r->usage.input_tokens, 200);
  EXPECT_EQ(r->usage.output_tokens, 12);
  EXPECT_FALSE(r->structured);
  EXPECT_EQ(answer_object(*r).value().at("intent"), "balance");

  const auto cut = openai::parse_response(200, R"({"choices":[{"message":{"content":"{\"in"},"finish_reason":"length"}]})");
  ASSERT_FALSE(cut);
  EXPECT_FALSE(cut.error().retryable);
  const auto err = openai::parse_response(503, R"({"error":{"message":"model is loading","type":"server_error"}})", "2");
  ASSERT_FALSE(err);
  EXPECT_TRUE(err.error().retryable);
  EXPECT_EQ(err.error().error.field, "server_error");
  EXPECT_EQ(err.error().retry_after, 2000ms);
  const auto ollama = openai::parse_response(404, R"({"error":"model \"x\" not found, try pulling it first"})");
  ASSERT_FALSE(ollama);
  EXPECT_FALSE(ollama.error().retryable);
  EXPECT_NE(ollama.error().error.message.find("not found"), std::string::npos);
}

TEST(ExtractJson, TakesOffFencesAndProseAndNothingMore) {
  struct Row {
    const char* text;
    const char* expect;  // nullptr: an error
  };
  const Row rows[] = {
      {R"({"intent":"fraud"})", R"({"intent":"fraud"})"},
      {"```json\n{\"intent\":\"fraud\"}\n```", R"({"intent":"fraud"})"},
      {"```\n{\"intent\":\"fraud\"}\n```", R"({"intent":"fraud"})"},
      {"Sure! Here is the result:\n{\"intent\":\"fraud\",\"note\":\"a } in a string\"}\nLet me know.",
       R"({"intent":"fraud","note":"a } in a string"})"},
      {"I think {maybe} the answer is {\"intent\":\"refund\"}.", R"({"intent":"refund"})"},
      {"{\"outer\":{\"inner\":1}}", R"({"outer":{"inner":1}})"},
      {"The intent is fraud.", nullptr},
      {"[1, 2, 3]", nullptr},
      {"{\"intent\": fraud}", nullptr},
      {"", nullptr},
  };
  for (const auto& row : rows) {
    const auto r = extract_json_object(row.text);
    if (row.expect) {
      ASSERT_TRUE(r) << row.text;
      EXPECT_EQ(*r, json::parse(row.expect)) << row.text;
    } else {
      ASSERT_FALSE(r) << row.text;
      EXPECT_EQ(r.error().code, Errc::kInvalidResult);
      EXPECT_EQ(r.error().field, "result");
    }
  }
}

TEST(Retry, StatusesRetryAfterAndBackoff) {
  for (int s : {408, 409, 429, 500, 502, 503, 504, 529}) EXPECT_TRUE(retryable_status(s)) << s;
  for (int s : {200, 400, 401, 403, 404, 413, 422}) EXPECT_FALSE(retryable_status(s)) << s;

  EXPECT_EQ(parse_retry_after("3"), 3000ms);
  EXPECT_EQ(parse_retry_after(" 1.5 "), 1500ms);
  EXPECT_EQ(parse_retry_after("99999"), 3600000ms) << "capped at an hour";
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_retry_after("-1"), std::nullopt);
  EXPECT_EQ(parse_retry_after(""), std::nullopt);
  EXPECT_EQ(parse_retry_after("1.2.3"), std::nullopt);

  EXPECT_EQ(backoff(2, std::nullopt, 0.999999), 499ms);
  EXPECT_EQ(backoff(3, std::nullopt, 0.5), 500ms);
  EXPECT_EQ(backoff(5, std::nullopt, 1.0), 4000ms);
  EXPECT_EQ(backoff(30, std::nullopt, 1.0), 8000ms) << "capped";
  EXPECT_EQ(backoff(2, std::nullopt, 0.0), 0ms) << "full jitter";
  EXPECT_EQ(backoff(2, 7000ms, 0.1), 7000ms) << "never sooner than the server asked";
}

TEST(FreeText, ASummaryForPeopleHoldsNoPersonalNumbers) {
  EXPECT_EQ(free_text_problem("Debt to income 0.52 is above the 0.45 limit; $250,000 requested.", 1000, "s"), "");
  EXPECT_EQ(free_text_problem("Two lines.\nSecond line.", 1000, "s"), "");
  EXPECT_EQ(free_text_problem("", 1000, "s"), "s: must be 1 to 1000 bytes");
  EXPECT_EQ(free_text_problem(std::string(1001, 'a'), 1000, "s"), "s: must be 1 to 1000 bytes");
  EXPECT_EQ(free_text_problem("Card 4111 1111 1111 1111.", 1000, "s"), "s: holds a personal number or address");
  EXPECT_EQ(free_text_problem("SSN 123-45-6789.", 1000, "s"), "s: holds a personal number or address");
  EXPECT_EQ(free_text_problem("Mail jordan@example.com.", 1000, "s"), "s: holds a personal number or address");
  EXPECT_EQ(free_text_problem("Order 123 456 78.", 1000, "s"), "s: a run of 6 or more digits");
  EXPECT_EQ(free_text_problem("Bell\a.", 1000, "s"), "s: control character");
}

}  // namespace
}  // namespace common::llm
