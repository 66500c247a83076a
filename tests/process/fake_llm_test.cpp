// The scripted fake language-model server (tests/support/fake_llm.hpp) checked with the raw POSIX
// clients of tests/support (http_client.hpp, tls.hpp), so that the providers' tests can trust it.
#include "fake_llm.hpp"

#include "http_client.hpp"
#include "process.hpp"
#include "tls.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <memory>
#include <thread>

namespace testsupport {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

HttpResponse post(const FakeLlmServer& server, const std::string& body = R"({"model":"fake-model"})",
                  std::vector<std::pair<std::string, std::string>> headers = {{"content-type", "application/json"}}) {
  return http_request(server.endpoint(), "POST", "/v1/messages", headers, body, 10s);
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}

TEST(FakeLlm, AnswersAToolUseWithOkBeforeAnyScript) {
  FakeLlmServer server;
  EXPECT_EQ(server.base_url(), "http://" + server.endpoint());
  EXPECT_TRUE(server.ca_file().empty());
  const auto r = post(server);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  const auto body = json::parse(r.body);
  EXPECT_EQ(body.at("type"), "message");
  EXPECT_EQ(body.at("stop_reason"), "tool_use");
  EXPECT_EQ(body.at("content").at(0).at("input"), json({{"ok", true}}));
}

TEST(FakeLlm, RepliesComeInOrderAndTheLastRepeats) {
  FakeLlmServer server;
  server.script({{500, FakeLlmServer::anthropic_error("api_error", "boom")},
                 {529, FakeLlmServer::anthropic_error("overloaded_error", "Overloaded")},
                 {200, FakeLlmServer::anthropic_text("done")}});
  std::vector<int> statuses;
  for (int i = 0; i < 4; ++i) statuses.push_back(post(server).status);
  EXPECT_EQ(statuses, (std::vector<int>{500, 529, 200, 200}));
  EXPECT_EQ(server.request_count(), 4u);
  // A new script starts from its first reply.
  server.script({{404, FakeLlmServer::anthropic_error("not_found_error", "no")}});
  EXPECT_EQ(post(server).status, 404);
  EXPECT_EQ(post(server).status, 404);
}

TEST(FakeLlm, RecordsMethodTargetHeadersAndBody) {
  FakeLlmServer server;
  const std::string body = R"({"model":"fake-model","messages":[{"role":"user","content":"hi"}]})";
  ASSERT_EQ(post(server, body, {{"X-Api-Key", "k-1"}, {"anthropic-version", "2023-06-01"}, {"Content-Type", "application/json"}}).status, 200);
  ASSERT_EQ(http_request(server.endpoint(), "POST", "/v1/chat/completions", {{"authorization", "Bearer t"}}, "{}", 10s).status, 200);
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/v1/messages");
  EXPECT_EQ(seen[0].headers.at("x-api-key"), "k-1");
  EXPECT_EQ(seen[0].headers.at("anthropic-version"), "2023-06-01");
  EXPECT_EQ(seen[0].headers.at("content-type"), "application/json");
  EXPECT_EQ(seen[0].body, body);
  EXPECT_EQ(seen[1].target, "/v1/chat/completions");
  EXPECT_EQ(seen[1].headers.at("authorization"), "Bearer t");
  EXPECT_EQ(seen[1].body, "{}");
}

TEST(FakeLlm, SendsTheScriptedHeaders) {
  FakeLlmServer server;
  server.script({{429, FakeLlmServer::anthropic_error("rate_limit_error", "slow down"), {{"retry-after", "1"}}}});
  const auto r = post(server);
  ASSERT_EQ(r.status, 429);
  EXPECT_EQ(r.header("retry-after"), "1");
  const auto body = json::parse(r.body);
  EXPECT_EQ(body.at("error").at("type"), "rate_limit_error");
  EXPECT_EQ(body.at("error").at("message"), "slow down");
}

TEST(FakeLlm, WaitsOutTheDelay) {
  FakeLlmServer server;
  server.script({{200, FakeLlmServer::anthropic_text("late"), {}, 300ms}});
  const auto start = Clock::now();
  const auto r = post(server);
  const auto took = Clock::now() - start;
  ASSERT_EQ(r.status, 200);
  EXPECT_GE(took, 250ms);
}

TEST(FakeLlm, DelaysDoNotHoldOtherConnections) {
  FakeLlmServer server;
  server.script({{200, FakeLlmServer::anthropic_text("late"), {}, 300ms}});
  constexpr int kClients = 256;
  std::vector<int> statuses(kClients);
  std::vector<std::thread> clients;
  const auto start = Clock::now();
  for (int i = 0; i < kClients; ++i) clients.emplace_back([&, i] { statuses[i] = post(server).status; });
  for (auto& t : clients) t.join();
  const auto took = Clock::now() - start;
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), kClients);
  EXPECT_EQ(server.connections_accepted(), static_cast<std::size_t>(kClients));
  // One after the other would take 77 s.
  EXPECT_LT(took, 5s);
}

TEST(FakeLlm, ResetClosesWithoutAnAnswer) {
  FakeLlmServer server;
  FakeReply reset;
  reset.reset = true;
  server.script({reset, {200, FakeLlmServer::anthropic_text("after")}});
  EXPECT_EQ(post(server).status, 0);
  EXPECT_EQ(server.request_count(), 1u) << "the request is read before the reset";
  EXPECT_EQ(post(server).status, 200);
}

TEST(FakeLlm, ServesManyRequestsOnOneConnection) {
  FakeLlmServer server;
  RawConnection c(server.endpoint());
  const std::string keep = "POST /v1/messages HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}";
  const std::string last = "POST /v1/messages HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}";
  ASSERT_TRUE(c.send(keep));
  ASSERT_TRUE(eventually([&] { return server.request_count() == 1; }, 5s));
  // Then two pipelined in one write: the second waits in the server's buffer.
  ASSERT_TRUE(c.send(keep + last));
  ASSERT_TRUE(c.closed_within(5s)) << c.received();
  EXPECT_EQ(count(c.received(), "HTTP/1.1 200 OK\r\n"), 3u) << c.received();
  EXPECT_EQ(server.request_count(), 3u);
  EXPECT_EQ(server.connections_accepted(), 1u);
}

TEST(FakeLlm, AnswersExpectContinue) {
  FakeLlmServer server;
  RawConnection c(server.endpoint());
  ASSERT_TRUE(c.send("POST /v1/messages HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"));
  ASSERT_TRUE(c.closed_within(5s));
  EXPECT_TRUE(c.received().starts_with("HTTP/1.1 100 Continue\r\n")) << c.received();
  EXPECT_EQ(count(c.received(), "HTTP/1.1 200 OK\r\n"), 1u) << c.received();
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].body, "{}");
}

TEST(FakeLlm, ServesHttpsWithItsCertificate) {
  FakeLlmServer server(true);
  EXPECT_EQ(server.base_url(), "https://" + server.endpoint());
  ASSERT_TRUE(std::filesystem::exists(server.ca_file()));
  server.script({{200, FakeLlmServer::openai_message("hello")}});
  std::string error;
  const auto r = https_request(server.endpoint(), server.ca_file(), "POST", "/v1/chat/completions",
                               {{"authorization", "Bearer t"}}, R"({"model":"fake-model"})", &error);
  ASSERT_EQ(r.status, 200) << error;
  EXPECT_EQ(json::parse(r.body).at("choices").at(0).at("message").at("content"), "hello");
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].headers.at("authorization"), "Bearer t");
  // Plain HTTP to the TLS port: no request gets through.
  EXPECT_EQ(post(server).status, 0);
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(FakeLlm, StopsPromptlyWithARequestWaitingOutItsDelay) {
  auto server = std::make_unique<FakeLlmServer>();
  server->script({{200, FakeLlmServer::anthropic_text("never"), {}, 10s}});
  HttpResponse r;
  std::thread client([&r, endpoint = server->endpoint()] {
    r = http_request(endpoint, "POST", "/v1/messages", {}, "{}", 10s);
  });
  EXPECT_TRUE(eventually([&] { return server->request_count() == 1; }, 5s));
  const auto start = Clock::now();
  server.reset();
  EXPECT_LT(Clock::now() - start, 1s);
  client.join();
  EXPECT_EQ(r.status, 0);
  EXPECT_LT(Clock::now() - start, 1s) << "the client should see the connection close at once";
}

TEST(FakeLlm, BodiesHaveTheProvidersShapes) {
  const auto tool = json::parse(FakeLlmServer::anthropic_tool_use(json{{"intent", "x"}}, 7, 3));
  EXPECT_EQ(tool.at("id"), "msg_fake");
  EXPECT_EQ(tool.at("role"), "assistant");
  EXPECT_EQ(tool.at("model"), "fake-model");
  EXPECT_EQ(tool.at("content").at(0).at("type"), "tool_use");
  EXPECT_EQ(tool.at("content").at(0).at("id"), "toolu_fake");
  EXPECT_EQ(tool.at("content").at(0).at("name"), "record_result");
  EXPECT_EQ(tool.at("content").at(0).at("input"), json({{"intent", "x"}}));
  EXPECT_EQ(tool.at("usage"), json({{"input_tokens", 7}, {"output_tokens", 3}}));

  const auto text = json::parse(FakeLlmServer::anthropic_text("hi"));
  EXPECT_EQ(text.at("content"), json::parse(R"([{"type":"text","text":"hi"}])"));
  EXPECT_EQ(text.at("stop_reason"), "end_turn");
  EXPECT_EQ(text.at("usage"), json({{"input_tokens", 100}, {"output_tokens", 20}}));

  EXPECT_EQ(json::parse(FakeLlmServer::anthropic_error("overloaded_error", "Overloaded")),
            json::parse(R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"));

  const auto chat = json::parse(FakeLlmServer::openai_message("{\"a\":1}", 5, 6));
  EXPECT_EQ(chat.at("id"), "chatcmpl-fake");
  EXPECT_EQ(chat.at("object"), "chat.completion");
  EXPECT_EQ(chat.at("choices").at(0).at("index"), 0);
  EXPECT_EQ(chat.at("choices").at(0).at("message"), json({{"role", "assistant"}, {"content", "{\"a\":1}"}}));
  EXPECT_EQ(chat.at("choices").at(0).at("finish_reason"), "stop");
  EXPECT_EQ(chat.at("usage"), json({{"prompt_tokens", 5}, {"completion_tokens", 6}, {"total_tokens", 11}}));
}

}  // namespace
}  // namespace testsupport
