// The model providers' HTTP(S) transport (common/llm/client.hpp) against the scripted fake server
// (tests/support/fake_llm.hpp) on loopback: what goes on the wire, what comes back, retries,
// deadlines, resets, TLS, keep-alive, concurrency, cancellation.
#include "fake_llm.hpp"
#include "process.hpp"
#include "stack.hpp"

#include "common/llm/client.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <fstream>

namespace testsupport {
namespace {

namespace llm = common::llm;
using nlohmann::json;
using namespace std::chrono_literals;

struct Outcome {
  std::optional<llm::CallResult<llm::Completion>> result;
  llm::CallStats stats;
};

class ProviderTest : public ::testing::Test {
 protected:
  llm::ProviderSettings settings(const FakeLlmServer& server, const std::string& provider = "anthropic") {
    llm::ProviderSettings s;
    s.provider = provider;
    s.base_url = server.base_url();
    s.model = "fake-model";
    s.api_key = "test-key-not-a-secret";
    s.backoff_initial = 20ms;
    s.backoff_max = 100ms;
    s.ca_file = server.ca_file().string();
    return s;
  }
  static llm::CompletionRequest request() {
    llm::CompletionRequest r;
    r.system = "Classify.";
    r.user = "I was charged twice for [card ending 1111].";
    r.schema = {{"type", "object"}};
    return r;
  }
  // Runs one call to its end (bounded by the io_context's run_for).
  Outcome call(llm::Provider& p, std::chrono::milliseconds deadline = 5s) {
    Outcome o;
    p.complete(request(), common::MonoClock::now() + deadline, [&](llm::CallResult<llm::Completion> r, const llm::CallStats& st) {
      o.result = std::move(r);
      o.stats = st;
    });
    const auto end = std::chrono::steady_clock::now() + deadline + 5s;
    while (!o.result && std::chrono::steady_clock::now() < end) io_.run_for(10ms);
    io_.restart();
    return o;
  }
  boost::asio::io_context io_;
};

TEST_F(ProviderTest, AnthropicCallCarriesTheHeadersAndReadsTheToolUse) {
  FakeLlmServer server;
  server.script({{200, FakeLlmServer::anthropic_tool_use(json{{"intent", "card_dispute"}}, 321, 45)}});
  llm::Provider p(io_, settings(server));
  const auto o = call(p);
  ASSERT_TRUE(o.result && *o.result) << (o.result ? o.result->error().error.describe() : "no outcome");
  EXPECT_EQ((*o.result)->structured->at("intent"), "card_dispute");
  EXPECT_EQ((*o.result)->usage.input_tokens, 321);
  EXPECT_EQ(o.stats.attempts, 1);
  EXPECT_EQ(o.stats.last_status, 200);
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/v1/messages");
  EXPECT_EQ(seen[0].headers.at("x-api-key"), "test-key-not-a-secret");
  EXPECT_EQ(seen[0].headers.at("anthropic-version"), "2023-06-01");
  EXPECT_EQ(seen[0].headers.at("content-type"), "application/json");
  const auto body = json::parse(seen[0].body);
  EXPECT_EQ(body.at("model"), "fake-model");
  EXPECT_EQ(body.at("tool_choice").at("name"), "record_result");
  EXPECT_EQ(body.at("messages")[0].at("content"), "I was charged twice for [card ending 1111].");
}

TEST_F(ProviderTest, RetriesOverloadRateLimitsAndServerErrorsHonouringRetryAfter) {
  FakeLlmServer server;
  server.script({{429, FakeLlmServer::anthropic_error("rate_limit_error", "slow down"), {{"retry-after", "0.3"}}},
                 {529, FakeLlmServer::anthropic_error("overloaded_error", "Overloaded")},
                 {500, "oops"},
                 {200, FakeLlmServer::anthropic_tool_use(json{{"ok", true}})}});
  llm::Provider p(io_, settings(server));
  const auto start = std::chrono::steady_clock::now();
  const auto o = call(p);
  ASSERT_TRUE(o.result && *o.result);
  EXPECT_EQ(o.stats.attempts, 4);
  EXPECT_EQ(server.request_count(), 4u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms) << "retry-after was not honoured";
}

TEST_F(ProviderTest, GivesUpAfterMaxAttemptsWithTheLastError) {
  FakeLlmServer server;
  server.script({{529, FakeLlmServer::anthropic_error("overloaded_error", "Overloaded")}});
  auto s = settings(server);
  s.max_attempts = 3;
  llm::Provider p(io_, s);
  const auto o = call(p);
  ASSERT_TRUE(o.result && !*o.result);
  EXPECT_EQ(o.result->error().error.field, "overloaded_error");
  EXPECT_EQ(o.stats.attempts, 3);
  EXPECT_EQ(server.request_count(), 3u);
}

TEST_F(ProviderTest, ClientErrorsAreNotRetried) {
  for (const auto& [status, type] : std::vector<std::pair<int, std::string>>{
           {400, "invalid_request_error"}, {401, "authentication_error"}, {403, "permission_error"}, {404, "not_found_error"}}) {
    FakeLlmServer server;
    server.script({{status, FakeLlmServer::anthropic_error(type, "no")}});
    llm::Provider p(io_, settings(server));
    const auto o = call(p);
    ASSERT_TRUE(o.result && !*o.result) << status;
    EXPECT_EQ(o.stats.attempts, 1) << status;
    EXPECT_EQ(o.result->error().error.field, type);
    EXPECT_EQ(o.result->error().http_status, status);
  }
}

TEST_F(ProviderTest, TheDeadlineEndsASlowReply) {
  FakeLlmServer server;
  server.script({{200, FakeLlmServer::anthropic_tool_use(json{{"ok", true}}), {}, 3000ms}});
  llm::Provider p(io_, settings(server));
  const auto start = std::chrono::steady_clock::now();
  const auto o = call(p, 300ms);
  ASSERT_TRUE(o.result && !*o.result);
  EXPECT_EQ(o.result->error().error.code, common::Errc::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST_F(ProviderTest, AConnectionResetIsRetried) {
  FakeLlmServer server;
  FakeReply reset;
  reset.reset = true;
  server.script({reset, {200, FakeLlmServer::anthropic_tool_use(json{{"ok", true}})}});
  llm::Provider p(io_, settings(server));
  const auto o = call(p);
  ASSERT_TRUE(o.result && *o.result) << o.result->error().error.describe();
  EXPECT_EQ(o.stats.attempts, 2);
}

TEST_F(ProviderTest, KeepAliveConnectionsAreReused) {
  FakeLlmServer server;
  server.script({{200, FakeLlmServer::anthropic_tool_use(json{{"ok", true}})}});
  llm::Provider p(io_, settings(server));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(*call(p).result);
  EXPECT_EQ(server.connections_accepted(), 1u);
}

TEST_F(ProviderTest, ManyCallsInFlightOnOneThread) {
  FakeLlmServer server;
  server.script({{200, FakeLlmServer::anthropic_tool_use(json{{"ok", true}}), {}, 300ms}});
  llm::Provider p(io_, settings(server));
  int ok = 0, failed = 0;
  for (int i = 0; i < 256; ++i) {
    p.complete(request(), common::MonoClock::now() + 20s,
               [&](llm::CallResult<llm::Completion> r, const llm::CallStats&) { (r ? ok : failed)++; });
  }
  EXPECT_EQ(p.in_flight(), 256u);
  const auto end = std::chrono::steady_clock::now() + 20s;
  while (ok + failed < 256 && std::chrono::steady_clock::now() < end) io_.run_for(10ms);
  EXPECT_EQ(ok, 256);
  EXPECT_EQ(failed, 0);
  EXPECT_GE(server.connections_accepted(), 200u) << "calls were serialised instead of concurrent";
}

TEST_F(ProviderTest, CancelEndsACallAtOnce) {
  FakeLlmServer server;
  server.script({{200, FakeLlmServer::anthropic_tool_use(json{{"ok", true}}), {}, 3000ms}});
  llm::Provider p(io_, settings(server));
  std::optional<llm::CallResult<llm::Completion>> result;
  const auto id = p.complete(request(), common::MonoClock::now() + 10s,
                             [&](llm::CallResult<llm::Completion> r, const llm::CallStats&) { result = std::move(r); });
  while (server.request_count() == 0) io_.run_for(5ms);
  p.cancel(id);
  const auto end = std::chrono::steady_clock::now() + 2s;
  while (!result && std::chrono::steady_clock::now() < end) io_.run_for(5ms);
  ASSERT_TRUE(result && !*result);
  EXPECT_EQ(result->error().error.code, common::Errc::kCancelled);
}

TEST_F(ProviderTest, TlsVerifiesTheServerAgainstTheConfiguredTrustStore) {
  FakeLlmServer server(true);
  server.script({{200, FakeLlmServer::anthropic_tool_use(json{{"ok", true}})}});
  {
    llm::Provider p(io_, settings(server));
    const auto o = call(p);
    ASSERT_TRUE(o.result && *o.result) << o.result->error().error.describe();
  }
  // The system's trust store does not know the test CA: refused, and not retried.
  auto s = settings(server);
  s.ca_file.clear();
  llm::Provider untrusted(io_, s);
  const auto o = call(untrusted);
  ASSERT_TRUE(o.result && !*o.result);
  EXPECT_EQ(o.result->error().error.field, "tls");
  EXPECT_EQ(o.stats.attempts, 1);
  EXPECT_EQ(server.request_count(), 1u) << "no request may go to an unverified server";
}

TEST_F(ProviderTest, OpenAiCompatibleServerWithAFencedAnswer) {
  FakeLlmServer server;
  server.script({{200, FakeLlmServer::openai_message("Here you go:\n```json\n{\"intent\":\"balance\"}\n```")}});
  auto s = settings(server, "openai");
  s.api_key = "on-prem-token";
  llm::Provider p(io_, s);
  const auto o = call(p);
  ASSERT_TRUE(o.result && *o.result) << o.result->error().error.describe();
  EXPECT_EQ(llm::answer_object(**o.result).value().at("intent"), "balance");
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].target, "/v1/chat/completions");
  EXPECT_EQ(seen[0].headers.at("authorization"), "Bearer on-prem-token");
  EXPECT_EQ(seen[0].headers.count("x-api-key"), 0u);
  EXPECT_EQ(json::parse(seen[0].body).at("response_format").at("type"), "json_object");
}

TEST(ProviderSettings, ReadStrictlyWithTheKeyFromTheEnvironmentOrAFile) {
  TempDir dir;
  const auto key = dir.write("key", "sk-from-file\n");
  llm::ProviderSettings s;
  json{{"provider", "anthropic"}, {"model", "claude-x"}, {"api_key_file", key.string()}}.get_to(s);
  EXPECT_EQ(s.api_key, "sk-from-file");
  EXPECT_EQ(s.base_url, "https://api.anthropic.com");
  ::setenv("CASEBUS_TEST_LLM_KEY", "sk-from-env", 1);
  llm::ProviderSettings e;
  json{{"model", "claude-x"}, {"api_key_env", "CASEBUS_TEST_LLM_KEY"}}.get_to(e);
  EXPECT_EQ(e.api_key, "sk-from-env");
  llm::ProviderSettings local;
  json{{"provider", "openai"}, {"model", "llama"}}.get_to(local);
  EXPECT_EQ(local.base_url, "http://127.0.0.1:8000");
  EXPECT_TRUE(local.api_key.empty());
  struct Row {
    json config;
    const char* message;
  };
  const Row rows[] = {
      {{{"model", "m"}, {"api_key_env", "CASEBUS_TEST_UNSET_VARIABLE"}}, "no API key for the anthropic provider: set the environment variable CASEBUS_TEST_UNSET_VARIABLE"},
      {{{"provider", "openai"}}, "model must be set"},
      {{{"provider", "gemini"}, {"model", "m"}}, "provider must be"},
      {{{"provider", "openai"}, {"model", "m"}, {"base_url", "ftp://x"}}, "base_url must start with"},
      {{{"provider", "openai"}, {"model", "m"}, {"max_attempts", 0}}, "max_attempts must be between 1 and 10"},
      {{{"provider", "openai"}, {"model", "m"}, {"api_key", "inline"}}, "api_key"},
  };
  for (const auto& row : rows) {
    llm::ProviderSettings bad;
    try {
      row.config.get_to(bad);
      ADD_FAILURE() << "accepted " << row.config.dump();
    } catch (const std::exception& e) {  // invalid_argument, or nlohmann's error for an unknown key
      EXPECT_NE(std::string(e.what()).find(row.message), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace testsupport

// ---------------------------------------------------------------------------------------------
// The classifier agent with a language model (settings.mode llm / cascade), through the real
// broker, against the fake Messages API.

namespace testsupport {
namespace {

class ClassifierLlm : public ::testing::Test {
 protected:
  // Starts the broker and a classifier in `mode` against the fake server; cases go straight to
  // the classifier kind (a plain case) so its result is the final case's result.
  void start(const std::string& mode, double threshold = 0.75) {
    stack_.start_broker();
    const nlohmann::json config{
        {"settings",
         {{"mode", mode},
          {"cascade_threshold", threshold},
          {"prompt_file", source_path("agents/classifier/prompts/classify.v1.txt")},
          {"provider",
           {{"provider", "anthropic"}, {"base_url", server_.base_url()}, {"model", "fake-model"}, {"api_key_env", "CASEBUS_TEST_LLM_KEY"},
            {"backoff_initial_ms", 20}, {"backoff_max_ms", 50}}}}}};
    const auto path = stack_.dir().write("classifier.json", config.dump());
    stack_.start_agent("classifier-1", {"--config", path.string()}, Binaries::classifier(), {"CASEBUS_TEST_LLM_KEY=test-key-not-a-secret"});
    ASSERT_TRUE(stack_.wait_workers("classifier", 1));
  }
  nlohmann::json classify(const std::string& message) {
    const nlohmann::json env{{"v", 1}, {"type", "case"}, {"tenant", "acme"}, {"to", "classifier"},
                             {"payload", {{"kind", "support_message"}, {"channel", "web"}, {"customer_ref", "cust-9"}, {"message", message}}}};
    const auto o = stack_.submit(env.dump(), 15s);
    EXPECT_EQ(o.status, common::bus::Outcome::Status::kCompleted) << o.error.describe();
    return o.status == common::bus::Outcome::Status::kCompleted ? nlohmann::json::parse(o.body) : nlohmann::json();
  }
  FakeLlmServer server_;
  Stack stack_;
};

TEST_F(ClassifierLlm, TheModelClassifiesAndSeesOnlyRedactedText) {
  server_.script({{200, FakeLlmServer::anthropic_tool_use({{"intent", "fraud"}, {"confidence", 0.93}})}});
  start("llm");
  const auto c = classify("Someone used my card 4111 1111 1111 1111 at a shop I have never been to.");
  ASSERT_EQ(c.value("status", ""), "completed") << c.dump();
  EXPECT_EQ(c.at("result").at("intent"), "fraud");
  EXPECT_EQ(c.at("result").at("confidence"), 0.93);
  EXPECT_EQ(c.at("result").at("model"), "llm:fake-model/classify.v1.txt") << "the outcome says which model answered";
  const auto& call = c.at("trail")[0].at("model_call");
  EXPECT_EQ(call.at("model"), "fake-model");
  EXPECT_EQ(call.at("model_calls"), 1);
  EXPECT_EQ(call.at("input_tokens"), 100) << "usage per hop in the trail";
  EXPECT_EQ(call.at("output_tokens"), 20);
  EXPECT_GE(call.at("model_ms").get<int>(), 0);
  const auto seen = server_.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].body.find("4111"), std::string::npos) << "a card number reached the model: " << seen[0].body;
  EXPECT_NE(seen[0].body.find("[card ending 1111]"), std::string::npos) << seen[0].body;
  EXPECT_NE(seen[0].body.find("Choose exactly one intent"), std::string::npos) << "the prompt file is the system prompt";
}

TEST_F(ClassifierLlm, AnInvalidAnswerGetsOneRepairRequestThenTheHopFails) {
  server_.script({{200, FakeLlmServer::anthropic_tool_use({{"intent", "refund_now"}, {"confidence", 0.9}})},
                  {200, FakeLlmServer::anthropic_tool_use({{"intent", "fraud"}, {"confidence", 0.9}, {"action", "refund"}})}});
  start("llm");
  const auto c = classify("Please look at this charge.");
  EXPECT_EQ(c.value("status", ""), "failed") << c.dump();
  EXPECT_EQ(c.at("error").at("field"), "model_invalid_output");
  ASSERT_EQ(server_.request_count(), 2u) << "one repair request, no more";
  EXPECT_NE(server_.requests()[1].body.find("Your previous answer was not acceptable (result.intent"), std::string::npos);

  // Repaired on the second answer: accepted.
  server_.script({{200, FakeLlmServer::anthropic_text("The intent is probably fraud.")},
                  {200, FakeLlmServer::anthropic_text("```json\n{\"intent\":\"card_dispute\",\"confidence\":0.7}\n```")}});
  const auto ok = classify("Please look at this charge again.");
  EXPECT_EQ(ok.value("status", ""), "completed") << ok.dump();
  EXPECT_EQ(ok.at("result").at("intent"), "card_dispute");
}

// Seed 003: the model proposes the structured payment decision; the broker's policy still decides.
TEST_F(ClassifierLlm, TheModelProposesThePaymentDecisionOfSeed003) {
  const nlohmann::json decision{{"action", "refund"}, {"reason", "duplicate_charge"}, {"amount_minor", 4250}, {"currency", "USD"}};
  server_.script({{200, FakeLlmServer::anthropic_tool_use({{"intent", "fraud"}, {"confidence", 0.9}, {"payment_decision", decision}})},
                  {200, FakeLlmServer::anthropic_tool_use({{"intent", "payments"}, {"confidence", 0.9}, {"payment_decision", decision}})}});
  start("llm");
  const auto c = classify("Refund $42.50 USD for invoice INV-1042, I was charged twice.");
  ASSERT_EQ(c.value("status", ""), "completed") << c.dump();
  EXPECT_EQ(c.at("result").at("intent"), "payments");
  EXPECT_EQ(c.at("result").at("payment_decision"), decision);
  ASSERT_EQ(server_.request_count(), 2u) << "a payment decision for another intent is refused once";
  EXPECT_NE(server_.requests()[1].body.find("result.payment_decision: only with the payments intent"), std::string::npos);
}

TEST_F(ClassifierLlm, CascadeAsksTheModelOnlyWhenTheEmbeddedModelIsUnsure) {
  server_.script({{200, FakeLlmServer::anthropic_tool_use({{"intent", "account_access"}, {"confidence", 0.8}})}});
  start("cascade", 0.6);
  // The embedded model is sure of this one (seed 001's message).
  const auto sure = classify("I was charged twice on my debit card yesterday.");
  EXPECT_EQ(sure.at("result").at("model"), "embedded-keywords-v1");
  EXPECT_EQ(server_.request_count(), 0u);
  const auto unsure = classify("Something is wrong and I do not know what to do.");
  EXPECT_EQ(unsure.at("result").at("model"), "llm:fake-model/classify.v1.txt");
  EXPECT_EQ(unsure.at("result").at("intent"), "account_access");
  EXPECT_EQ(server_.request_count(), 1u);
  // The model down: the embedded answer stands.
  server_.script({{529, FakeLlmServer::anthropic_error("overloaded_error", "Overloaded")}});
  const auto down = classify("Something else is wrong and I do not know what to do.");
  EXPECT_EQ(down.value("status", ""), "completed");
  EXPECT_EQ(down.at("result").at("model"), "embedded-keywords-v1");
}

}  // namespace
}  // namespace testsupport

namespace testsupport {
namespace {

// The banking workflow end to end with the classifier on a language model: a good answer flows on
// to resolution; answers refused twice send the case to a person.
TEST(BankingWorkflowLlm, TheModelsAnswerFlowsOnAndARefusedOneEndsWithAPerson) {
  FakeLlmServer server;
  server.script({{200, FakeLlmServer::anthropic_tool_use({{"intent", "card_dispute"}, {"confidence", 0.9}})}});
  Stack s(shipped_broker_config());
  s.start_broker();
  s.start_banking_agents({"classifier"});
  const nlohmann::json config{
      {"settings",
       {{"mode", "llm"},
        {"prompt_file", source_path("agents/classifier/prompts/classify.v1.txt")},
        {"provider", {{"provider", "anthropic"}, {"base_url", server.base_url()}, {"model", "fake-model"}, {"api_key_env", "CASEBUS_TEST_LLM_KEY"}}}}}};
  const auto path = s.dir().write("classifier.json", config.dump());
  s.start_agent("classifier-1", {"--config", path.string()}, Binaries::classifier(), {"CASEBUS_TEST_LLM_KEY=test-key-not-a-secret"});
  ASSERT_TRUE(s.wait_workers("classifier", 1));
  ASSERT_TRUE(s.wait_workers("escalation", 1));
  const auto submit = [&](const std::string& message) {
    const nlohmann::json env{{"v", 1}, {"type", "case"}, {"tenant", "acme"}, {"to", "banking"},
                             {"payload", {{"kind", "support_message"}, {"channel", "web"}, {"customer_ref", "cust-7"}, {"message", message}}}};
    const auto o = s.submit(env.dump(), 20s);
    EXPECT_EQ(o.status, common::bus::Outcome::Status::kCompleted) << o.error.describe();
    return o.status == common::bus::Outcome::Status::kCompleted ? nlohmann::json::parse(o.body) : nlohmann::json::object();
  };
  const auto resolved = submit("I was charged twice on my debit card yesterday.");
  EXPECT_EQ(resolved.value("status", ""), "resolved") << resolved.dump();
  EXPECT_EQ(resolved.value("intent", ""), "card_dispute");
  EXPECT_EQ(resolved.at("context").at("classifier").at("model"), "llm:fake-model/classify.v1.txt");

  server.script({{200, FakeLlmServer::anthropic_text("I cannot tell.")}});
  const auto escalated = submit("Please check my account, something happened.");
  EXPECT_EQ(escalated.value("status", ""), "escalated") << escalated.dump();
  ASSERT_FALSE(escalated.at("violations").empty());
  EXPECT_EQ(escalated.at("violations")[0].at("agent"), "classifier");
  EXPECT_EQ(escalated.at("violations")[0].at("code"), "agent_failed");
  EXPECT_TRUE(escalated.at("approved_actions").empty());
}

}  // namespace
}  // namespace testsupport

namespace testsupport {
namespace {

// The banking workflow with the response drafter on a language model: a reply that breaks the
// policy gets one repair request, then the hop fails into escalation; a reply within the rules is
// sent, and says which model wrote it.
TEST(BankingWorkflowLlm, TheDraftersModelReplyPassesTheSameChecksAsTheTemplates) {
  FakeLlmServer server;
  server.script({{200, FakeLlmServer::anthropic_tool_use({{"reply", "Good news: we will refund you today."}})},
                 {200, FakeLlmServer::anthropic_tool_use({{"reply", "Your card 4111111111111111 is fine."}})}});
  Stack s(shipped_broker_config());
  s.start_broker();
  s.start_banking_agents({"response_drafter"});
  nlohmann::json config{{"settings",
                         {{"templates_dir", source_path("deploy/templates/reply")},
                          {"mode", "llm"},
                          {"prompt_file", source_path("agents/response_drafter/prompts/reply.v1.txt")},
                          {"provider", {{"provider", "anthropic"}, {"base_url", server.base_url()}, {"model", "fake-model"},
                                        {"api_key_env", "CASEBUS_TEST_LLM_KEY"}}}}}};
  const auto path = s.dir().write("drafter.json", config.dump());
  s.start_agent("drafter-1", {"--config", path.string()}, Binaries::response_drafter(), {"CASEBUS_TEST_LLM_KEY=test-key-not-a-secret"});
  ASSERT_TRUE(s.wait_workers("response_drafter", 1));
  ASSERT_TRUE(s.wait_workers("escalation", 1));
  const auto submit = [&]() {
    const nlohmann::json env{{"v", 1}, {"type", "case"}, {"tenant", "acme"}, {"to", "banking"},
                             {"payload", {{"kind", "support_message"}, {"channel", "web"}, {"customer_ref", "cust-8"},
                                          {"message", "What is the balance of my checking account?"}}}};
    const auto o = s.submit(env.dump(), 20s);
    EXPECT_EQ(o.status, common::bus::Outcome::Status::kCompleted) << o.error.describe();
    return o.status == common::bus::Outcome::Status::kCompleted ? nlohmann::json::parse(o.body) : nlohmann::json::object();
  };
  const auto refused = submit();
  EXPECT_EQ(refused.value("status", ""), "escalated") << refused.dump();
  ASSERT_EQ(server.request_count(), 2u) << "one repair request";
  EXPECT_NE(server.requests()[1].body.find("Your previous answer was not acceptable"), std::string::npos);
  ASSERT_FALSE(refused.at("violations").empty());
  EXPECT_EQ(refused.at("violations")[0].at("agent"), "response_drafter");
  const auto reply = refused.value("reply", nlohmann::json()).dump();
  EXPECT_EQ(reply.find("refund you"), std::string::npos) << "the model's promise reached the customer";
  EXPECT_EQ(reply.find("4111"), std::string::npos);

  // A reply within the rules: the facts the drafter sent include the policy-safe reference reply.
  const auto facts = nlohmann::json::parse(nlohmann::json::parse(server.requests()[0].body).at("messages")[0].at("content").get<std::string>());
  server.script({{200, FakeLlmServer::anthropic_tool_use({{"reply", "Thanks for reaching out. " + facts.at("reference_reply").get<std::string>()}})}});
  const auto sent = submit();
  EXPECT_EQ(sent.value("status", ""), "resolved") << sent.dump();
  EXPECT_EQ(sent.at("context").at("response_drafter").at("model"), "llm:fake-model/reply.v1.txt");
  EXPECT_EQ(sent.at("reply").get<std::string>().rfind("Thanks for reaching out. ", 0), 0u);
}

}  // namespace
}  // namespace testsupport

namespace testsupport {
namespace {

// The fraud reviewer with a language model: the rules decide the risk; the model's evidence
// summary is added as a reason that cannot move it, and a summary holding a card number is refused.
TEST(BankingWorkflowLlm, TheFraudReviewersModelWritesOnlyTheEvidenceSummary) {
  FakeLlmServer server;
  server.script({{200, FakeLlmServer::anthropic_tool_use({{"summary", "Card 4111 1111 1111 1111 was used online."}})},
                 {200, FakeLlmServer::anthropic_tool_use({{"summary", "A large card-not-present purchase at a new merchant at night."}})}});
  Stack s(shipped_broker_config());
  s.start_broker();
  s.start_banking_agents({"fraud_reviewer"});
  auto settings = nlohmann::json::parse(std::ifstream(source_path("deploy/config/fraud-reviewer.json"))).value("settings", nlohmann::json::object());
  settings["mode"] = "llm";
  settings["prompt_file"] = source_path("agents/fraud_reviewer/prompts/evidence.v1.txt");
  settings["provider"] = {{"provider", "anthropic"}, {"base_url", server.base_url()}, {"model", "fake-model"}, {"api_key_env", "CASEBUS_TEST_LLM_KEY"}};
  const auto path = s.dir().write("fraud.json", nlohmann::json{{"settings", settings}}.dump());
  s.start_agent("fraud-1", {"--config", path.string()}, Binaries::fraud_reviewer(), {"CASEBUS_TEST_LLM_KEY=test-key-not-a-secret"});
  ASSERT_TRUE(s.wait_workers("fraud_reviewer", 1));
  ASSERT_TRUE(s.wait_workers("escalation", 1));
  std::ifstream f(source_path("examples/transaction-alert.json"));
  auto env = nlohmann::json::parse(f);
  env["tenant"] = "acme";
  const auto o = s.submit(env.dump(), 20s);
  ASSERT_EQ(o.status, common::bus::Outcome::Status::kCompleted) << o.error.describe();
  const auto c = nlohmann::json::parse(o.body);
  const auto& review = c.at("context").at("fraud_reviewer");
  EXPECT_TRUE(review.at("model").get<std::string>().ends_with("+llm:fake-model/evidence.v1.txt")) << review.dump();
  const auto& last = review.at("reasons").back();
  EXPECT_EQ(last.at("rule"), "model_summary");
  EXPECT_EQ(last.at("contribution"), 0);
  EXPECT_EQ(last.at("detail"), "A large card-not-present purchase at a new merchant at night.");
  ASSERT_EQ(server.request_count(), 2u);
  EXPECT_NE(server.requests()[1].body.find("result.summary: holds a personal number"), std::string::npos);
  EXPECT_EQ(c.dump().find("4111 1111"), std::string::npos) << "the refused summary reached the case";
  EXPECT_EQ(c.at("trail")[0].at("model_call").at("model_calls"), 2);
}

}  // namespace
}  // namespace testsupport

namespace testsupport {
namespace {

// The escalation agent with a language model: for a loan application (seed 002) the model writes
// the reviewer's summary of the pre-screen; everything else in the review stays the rules'.
TEST(BankingWorkflowLlm, TheEscalationModelWritesTheLendingReviewSummary) {
  FakeLlmServer server;
  const std::string summary = "Loan application pre-screened: debt to income is above the limit, so an underwriter must decide.";
  server.script({{200, FakeLlmServer::anthropic_tool_use({{"summary", "Applicant SSN 123-45-6789 looks fine."}})},
                 {200, FakeLlmServer::anthropic_tool_use({{"summary", summary}})}});
  Stack s(shipped_broker_config());
  s.start_broker();
  s.start_banking_agents({"escalation"});
  auto settings = nlohmann::json::parse(std::ifstream(source_path("deploy/config/escalation.json"))).value("settings", nlohmann::json::object());
  // The shipped config's relative paths are relative to deploy/config.
  for (auto it = settings.begin(); it != settings.end(); ++it) {
    if (it->is_string() && it.key().ends_with("_dir")) *it = source_path("deploy/config/" + it->get<std::string>());
  }
  settings["mode"] = "llm";
  settings["prompt_file"] = source_path("agents/escalation/prompts/review.v1.txt");
  settings["provider"] = {{"provider", "anthropic"}, {"base_url", server.base_url()}, {"model", "fake-model"}, {"api_key_env", "CASEBUS_TEST_LLM_KEY"}};
  const auto path = s.dir().write("escalation.json", nlohmann::json{{"settings", settings}}.dump());
  s.start_agent("escalation-1", {"--config", path.string()}, Binaries::escalation(), {"CASEBUS_TEST_LLM_KEY=test-key-not-a-secret"});
  ASSERT_TRUE(s.wait_workers("escalation", 1));
  std::ifstream f(source_path("examples/loan-application.json"));
  auto env = nlohmann::json::parse(f);
  env["tenant"] = "acme";
  const auto o = s.submit(env.dump(), 20s);
  ASSERT_EQ(o.status, common::bus::Outcome::Status::kCompleted) << o.error.describe();
  const auto c = nlohmann::json::parse(o.body);
  EXPECT_EQ(c.value("status", ""), "escalated") << c.dump();
  EXPECT_EQ(c.at("review").at("summary"), summary);
  EXPECT_TRUE(c.at("review").contains("underwriting")) << "the pre-screen stays the rules'";
  EXPECT_TRUE(c.at("context").at("escalation").at("model").get<std::string>().ends_with("+llm:fake-model/review.v1.txt"));
  ASSERT_EQ(server.request_count(), 2u);
  EXPECT_NE(server.requests()[1].body.find("result.summary: holds a personal number"), std::string::npos);
  EXPECT_EQ(c.dump().find("123-45-6789"), std::string::npos);
  EXPECT_EQ(c.at("trail").back().at("model_call").at("model_calls"), 2);
}

}  // namespace
}  // namespace testsupport
