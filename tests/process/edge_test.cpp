// casebus-edge over HTTP, in front of the real broker and agents, on ephemeral ports.
#include "http_client.hpp"
#include "stack.hpp"
#include "tls.hpp"

#include "auth.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <ctime>
#include <filesystem>
#include <set>
#include <stdexcept>

namespace testsupport {
namespace {

using nlohmann::json;

constexpr char kSecret[] = "acme-secret-0123456789abcdef0123456789";
constexpr char kOtherSecret[] = "globex-secret-0123456789abcdef01234567";
constexpr char kToken[] = "internal-token-0123456789";

std::int64_t unix_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

// The shipped broker config, its store left to Stack (the test's own temp dir): the shipped
// state_dir, /var/lib/casebus, would be shared by every test and every run.
json broker_config() {
  auto j = shipped_broker_config();
  j.erase("storage");
  return j;
}

struct Edge {
  Stack stack{broker_config()};
  std::unique_ptr<Process> process;
  std::vector<std::unique_ptr<Process>> killed;  // earlier edge processes, for their stderr
  std::filesystem::path config_path;
  std::string endpoint;

  explicit Edge(const json& overrides = json::object(), bool agents = true) {
    stack.start_broker();
    if (agents) stack.start_banking_agents();
    json config{{"listen", "127.0.0.1:0"},
                {"broker_endpoint", stack.client_endpoint()},
                {"read_timeout_ms", 1000},
                {"idle_timeout_ms", 2000},
                {"log", {{"level", "debug"}}},
                {"tenants",
                 {{"acme", {{"secrets", {kSecret}}, {"bearer_sha256", {edge::to_hex(edge::sha256(kToken))}}}},
                  {"globex", {{"secrets", {kOtherSecret}}}}}}};
    config.merge_patch(overrides);
    config_path = stack.dir().write("edge.json", config.dump());
    start();
  }
  ~Edge() {
    std::vector<const Process*> all{process.get()};
    for (const auto& p : killed) all.push_back(p.get());
    dump_on_failure(all);
  }

  void start() {
    process = std::make_unique<Process>("edge", Binaries::edge(), std::vector<std::string>{"--config", config_path.string()}, stack.dir());
    endpoint = process->wait_ready().at("CASEBUS_HTTP_ENDPOINT");
  }
  // SIGKILL (no shutdown path runs: whatever the edge held in memory is gone), then a new edge
  // process with the same config, on a new ephemeral port, against the same broker.
  void kill_and_restart() {
    process->signal(SIGKILL);
    if (!process->wait_exit(std::chrono::seconds(5))) throw std::runtime_error("the edge outlived SIGKILL");
    killed.push_back(std::move(process));
    start();
  }

  HttpResponse signed_post(const std::string& path, const std::string& body, std::vector<std::pair<std::string, std::string>> extra = {},
                           const std::string& tenant = "acme", const char* secret = kSecret, std::int64_t t = 0) {
    if (t == 0) t = unix_now();
    extra.emplace_back("X-Casebus-Tenant", tenant);
    extra.emplace_back("X-Casebus-Signature", "t=" + std::to_string(t) + ",v1=" + edge::sign(secret, t, "POST", path, body));
    extra.emplace_back("Content-Type", "application/json");
    return http_request(endpoint, "POST", path, extra, body);
  }
  HttpResponse get(const std::string& target, const std::string& tenant = "acme", const char* secret = kSecret) {
    const auto t = unix_now();
    return http_request(endpoint, "GET", target,
                        {{"X-Casebus-Tenant", tenant}, {"X-Casebus-Signature", "t=" + std::to_string(t) + ",v1=" + edge::sign(secret, t, "GET", target, "")}},
                        "");
  }
};

std::string charged_twice(const std::string& customer = "cust-10492") {
  return json{{"kind", "support_message"}, {"channel", "web"}, {"customer_ref", customer},
              {"message", "I was charged twice on my debit card yesterday."}}
      .dump();
}

TEST(Edge, SubmitsAndWaitsForTheFinalCase) {
  Edge e;
  const auto r = e.signed_post("/v1/cases", charged_twice(), {{"Prefer", "wait=10"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto c = json::parse(r.body);
  EXPECT_EQ(c.at("status"), "resolved");
  EXPECT_EQ(c.at("tenant"), "acme");
  EXPECT_EQ(c.at("intent"), "card_dispute");
  EXPECT_FALSE(r.header("traceparent").empty());
  EXPECT_EQ(r.header("x-casebus-case-id"), c.at("case_id"));
  // The owner reads it back; another tenant gets what an unknown id gets.
  const auto mine = e.get("/v1/cases/" + c.at("case_id").get<std::string>());
  EXPECT_EQ(mine.status, 200);
  EXPECT_EQ(json::parse(mine.body).at("case_id"), c.at("case_id"));
  const auto theirs = e.get("/v1/cases/" + c.at("case_id").get<std::string>(), "globex", kOtherSecret);
  EXPECT_EQ(theirs.status, 404);
  EXPECT_EQ(e.get("/v1/cases/c-00000000000000000000000000000000").status, 404);
  EXPECT_EQ(json::parse(theirs.body), json::parse(e.get("/v1/cases/c-00000000000000000000000000000000").body));
}

TEST(Edge, WithoutAWaitAnswers202AndTheCaseCanBeFetched) {
  Edge e;
  const std::string trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const auto r = e.signed_post("/v1/cases", charged_twice(), {{"traceparent", trace}});
  ASSERT_EQ(r.status, 202) << r.body;
  const auto id = json::parse(r.body).at("case_id").get<std::string>();
  EXPECT_EQ(r.header("location"), "/v1/cases/" + id);
  EXPECT_EQ(r.header("traceparent"), trace);
  json final_case;
  ASSERT_TRUE(eventually([&] {
    const auto g = e.get("/v1/cases/" + id);
    if (g.status != 200) return false;
    final_case = json::parse(g.body);
    return final_case.value("status", "") == "resolved";
  }));
  EXPECT_EQ(final_case.at("trace"), trace);
}

TEST(Edge, BearerTokensAndIdempotencyKeys) {
  Edge e;
  const std::vector<std::pair<std::string, std::string>> h{
      {"Authorization", std::string("Bearer ") + kToken}, {"Idempotency-Key", "web-form-7f3a9c"}, {"Prefer", "wait=10"}};
  const auto first = http_request(e.endpoint, "POST", "/v1/cases", h, charged_twice());
  ASSERT_EQ(first.status, 200) << first.body;
  const auto again = http_request(e.endpoint, "POST", "/v1/cases", h, charged_twice());
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(again.body).at("case_id"), json::parse(first.body).at("case_id"));
  const auto other_body = http_request(e.endpoint, "POST", "/v1/cases", h, charged_twice("cust-other"));
  EXPECT_EQ(other_body.status, 422) << other_body.body;
  EXPECT_EQ(json::parse(e.stack.stats().at("counters").dump()).at("accepted"), 1);
}

// The broker's store outlives the edge: a GET that this edge process cannot answer from memory is
// answered from the broker, for the case's own tenant only.
TEST(Edge, AfterARestartGetAnswersFromTheBroker) {
  Edge e;
  const auto r = e.signed_post("/v1/cases", charged_twice(), {{"Prefer", "wait=10"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto submitted = json::parse(r.body);
  const auto id = submitted.at("case_id").get<std::string>();
  e.kill_and_restart();
  const auto mine = e.get("/v1/cases/" + id);
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(json::parse(mine.body), submitted);
  // Another tenant, an unknown id and a malformed id: the same 404, byte for byte.
  const auto theirs = e.get("/v1/cases/" + id, "globex", kOtherSecret);
  const auto unknown = e.get("/v1/cases/c-00000000000000000000000000000000");
  const auto malformed = e.get("/v1/cases/not-a-case-id");
  EXPECT_EQ(theirs.status, 404) << theirs.body;
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(malformed.status, 404) << malformed.body;
  EXPECT_EQ(theirs.body, unknown.body);
  EXPECT_EQ(malformed.body, unknown.body);
  EXPECT_EQ(json::parse(unknown.body).at("error").at("code"), "not_found");
}

TEST(Edge, AfterARestartARunningCaseIsInProgressAndNoBrokerIsA503) {
  Edge e(json::object(), false);  // no agents: the case stays queued at the broker
  const auto r = e.signed_post("/v1/cases", charged_twice());
  ASSERT_EQ(r.status, 202) << r.body;
  const auto id = json::parse(r.body).at("case_id").get<std::string>();
  e.kill_and_restart();
  const auto mine = e.get("/v1/cases/" + id);
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(json::parse(mine.body), (json{{"case_id", id}, {"status", "in_progress"}}));
  EXPECT_EQ(e.get("/v1/cases/" + id, "globex", kOtherSecret).status, 404);
  // The broker gone: 503 after the lookup timeout (2 s), not a request that hangs.
  e.stack.broker().signal(SIGKILL);
  ASSERT_TRUE(e.stack.broker().wait_exit(std::chrono::seconds(5)));
  const auto started = std::chrono::steady_clock::now();
  const auto gone = e.get("/v1/cases/" + id);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  ASSERT_EQ(gone.status, 503) << gone.body;
  EXPECT_EQ(json::parse(gone.body).at("error").at("code"), "broker_unavailable");
  EXPECT_EQ(gone.header("retry-after"), "1");
}

// The broker remembers Idempotency-Keys in its store: a retry through a new edge process is the
// same case, and another body under the key is refused as the edge itself refuses it.
TEST(Edge, AnIdempotencyKeyOutlivesTheEdge) {
  Edge e;
  const std::vector<std::pair<std::string, std::string>> h{{"Idempotency-Key", "web-form-restart-1"}, {"Prefer", "wait=10"}};
  const auto first = e.signed_post("/v1/cases", charged_twice(), h);
  ASSERT_EQ(first.status, 200) << first.body;
  const auto id = json::parse(first.body).at("case_id").get<std::string>();
  e.kill_and_restart();
  // The new edge knows no keys: this one is the broker's refusal.
  const auto other_body = e.signed_post("/v1/cases", charged_twice("cust-other"), h);
  ASSERT_EQ(other_body.status, 422) << other_body.body;
  const auto err = json::parse(other_body.body).at("error");
  EXPECT_EQ(err.at("code"), "idempotency_key_reused");
  EXPECT_EQ(err.at("field"), "Idempotency-Key");
  const auto again = e.signed_post("/v1/cases", charged_twice(), h);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(again.body).at("case_id"), id);
  EXPECT_EQ(json::parse(again.body).at("status"), "resolved");
  EXPECT_EQ(again.header("x-casebus-case-id"), id);
  const auto counters = e.stack.stats().at("counters");
  EXPECT_EQ(counters.at("accepted"), 1) << counters;
  EXPECT_GE(counters.at("duplicates").get<int>(), 1) << counters;
}

TEST(Edge, TheSeedWorkersRoutes) {
  Edge e;
  struct Row {
    const char* path;
    json body;
    const char* status;
  };
  const Row rows[] = {
      {"/agent", {{"customer_id", "cust_12345"}, {"message", "I need help disputing a duplicate card charge."}, {"channel", "web"}}, "resolved"},
      {"/route", {{"customer_id", "cust_10492"}, {"channel", "mobile_app"}, {"request_text", "My debit card was charged twice for the same purchase."},
                  {"intent", "card_dispute"}, {"agent_chain", {"anthropic_classifier", "cloudflare_orchestrator"}}}, "resolved"},
      {"/dispatch", {{"customer_id", "cust_1"}, {"message", "Customer reports duplicate debit card charge."}, {"intent", "card_dispute"},
                     {"urgency", "high"}, {"next_action", "refund"}}, "resolved"},
      {"/lending-review", {{"applicant_id", "A123"}, {"income", 95000}, {"debt_to_income", 0.31}, {"employment_years", 4}}, "escalated"},
      {"/api/payments", {{"source", "anthropic-agent"}, {"customer_id", "cust_2"},
                         {"decision", {{"action", "refund"}, {"reason", "duplicate charge"}, {"amount_minor", 4250}, {"currency", "USD"}}}}, "escalated"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.path);
    const auto r = e.signed_post(row.path, row.body.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body).at("status"), row.status) << r.body;
  }
  // /validate: the edge's checks only; no case reaches the broker.
  const auto before = e.stack.stats().at("counters").at("accepted").get<int>();
  auto v = e.signed_post("/validate", json{{"applicant_id", "A123"}, {"income", 95000}, {"debt_to_income", 0.31}, {"employment_years", 4}}.dump());
  ASSERT_EQ(v.status, 200) << v.body;
  EXPECT_EQ(json::parse(v.body).at("ok"), true);
  v = e.signed_post("/validate", json{{"applicant_id", "A123"}, {"income", 95000}, {"debt_to_income", 12}, {"employment_years", 4}}.dump());
  ASSERT_EQ(v.status, 200) << v.body;
  EXPECT_EQ(json::parse(v.body).at("ok"), false);
  EXPECT_EQ(json::parse(v.body).at("field"), "payload.application.debt_to_income");
  EXPECT_EQ(e.stack.stats().at("counters").at("accepted").get<int>(), before);
}

TEST(Edge, BadInputGetsTheDocumentedAnswerAndTheEdgeKeepsServing) {
  Edge e(json{{"tenants", {{"globex", {{"burst", 2}, {"rate_per_s", 0.01}}}}}});
  struct Row {
    const char* name;
    std::function<HttpResponse()> send;
    int status;
    const char* code;
    const char* field;
  };
  const auto t = unix_now();
  const std::string body = charged_twice();
  const std::string sig = "t=" + std::to_string(t) + ",v1=" + edge::sign(kSecret, t, "POST", "/v1/cases", body);
  const Row rows[] = {
      {"malformed JSON", [&] { return e.signed_post("/v1/cases", "{\"kind\":"); }, 400, "malformed", nullptr},
      {"wrong type", [&] { auto j = json::parse(body); j["message"] = 5; return e.signed_post("/v1/cases", j.dump()); }, 400,
       "invalid_field", "payload.message"},
      {"missing field", [&] { auto j = json::parse(body); j.erase("customer_ref"); return e.signed_post("/v1/cases", j.dump()); }, 400,
       "invalid_field", "payload.customer_ref"},
      {"oversize body", [&] { return e.signed_post("/v1/cases", std::string(70 * 1024, ' ')); }, 413, "too_large", nullptr},
      {"bad signature", [&] { return http_request(e.endpoint, "POST", "/v1/cases", {{"X-Casebus-Tenant", "acme"}, {"X-Casebus-Signature", "t=" + std::to_string(t) + ",v1=" + std::string(64, '0')}}, body); },
       401, "bad_signature", nullptr},
      {"stale timestamp", [&] { return e.signed_post("/v1/cases", body, {}, "acme", kSecret, t - 600); }, 401, "stale_timestamp", nullptr},
      {"unknown tenant", [&] { return e.signed_post("/v1/cases", body, {}, "initech", kSecret); }, 401, "bad_signature", nullptr},
      {"no credentials", [&] { return http_request(e.endpoint, "POST", "/v1/cases", {}, body); }, 401, "missing_credentials", nullptr},
      {"bad token", [&] { return http_request(e.endpoint, "POST", "/v1/cases", {{"Authorization", "Bearer nope"}}, body); }, 401, "bad_token", nullptr},
      {"unknown route", [&] { return e.signed_post("/v2/everything", body); }, 404, "not_found", nullptr},
      {"wrong method", [&] { return e.get("/v1/cases"); }, 405, "method_not_allowed", nullptr},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    const auto r = row.send();
    ASSERT_EQ(r.status, row.status) << r.body;
    const auto err = json::parse(r.body).at("error");
    EXPECT_EQ(err.at("code"), row.code) << r.body;
    if (row.field) {
      EXPECT_EQ(err.at("field"), row.field) << r.body;
    }
    EXPECT_EQ(r.header("content-type"), "application/json");
  }
  // Replay: the same signed request twice.
  const std::vector<std::pair<std::string, std::string>> signed_headers{{"X-Casebus-Tenant", "acme"}, {"X-Casebus-Signature", sig}};
  EXPECT_EQ(http_request(e.endpoint, "POST", "/v1/cases", signed_headers, body).status, 202);
  const auto replay = http_request(e.endpoint, "POST", "/v1/cases", signed_headers, body);
  EXPECT_EQ(replay.status, 401);
  EXPECT_EQ(json::parse(replay.body).at("error").at("code"), "replayed_signature");
  // Rate limit: globex has a burst of 2.
  int limited = 0;
  HttpResponse last;
  for (int i = 0; i < 4; ++i) {
    last = e.signed_post("/v1/cases", charged_twice("cust-g" + std::to_string(i)), {}, "globex", kOtherSecret);
    if (last.status == 429) ++limited;
  }
  EXPECT_EQ(limited, 2);
  EXPECT_FALSE(last.header("retry-after").empty());
  // A client that sends a byte a second is cut off by the read timeout (1 s here).
  RawConnection slow(e.endpoint);
  ASSERT_TRUE(slow.send("P"));
  bool cut = false;
  for (int i = 0; i < 5 && !cut; ++i) {
    cut = slow.closed_within(std::chrono::seconds(1)) || !slow.send("O");
  }
  EXPECT_TRUE(cut) << "the edge kept a dribbling connection open";
  // Still serving.
  const auto ok = e.signed_post("/v1/cases", charged_twice("cust-after"), {{"Prefer", "wait=10"}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(http_request(e.endpoint, "GET", "/healthz", {}, "").status, 200);
}

TEST(Edge, ServesTlsWhenConfigured) {
  TempDir certs;
  const auto files = make_self_signed(certs.path());
  Edge e(json{{"tls", {{"certificate", files.certificate.string()}, {"private_key", files.private_key.string()}}}});
  std::string error;
  const auto r = https_request(e.endpoint, files.certificate, "POST", "/v1/cases",
                               {{"Authorization", std::string("Bearer ") + kToken}, {"Prefer", "wait=10"}}, charged_twice(), &error);
  ASSERT_EQ(r.status, 200) << error << r.body;
  EXPECT_EQ(json::parse(r.body).at("status"), "resolved");
  // Plain HTTP to a TLS port gets nothing useful and the edge keeps serving.
  EXPECT_EQ(http_request(e.endpoint, "GET", "/healthz", {}, "", std::chrono::seconds(3)).status, 0);
  EXPECT_EQ(https_request(e.endpoint, files.certificate, "GET", "/healthz", {}, "", &error).status, 200) << error;
}

TEST(Edge, ServesWithSeveralConnectionThreads) {
  TempDir certs;
  const auto files = make_self_signed(certs.path());
  Edge e(json{{"threads", 3}, {"tls", {{"certificate", files.certificate.string()}, {"private_key", files.private_key.string()}}}});
  // A dribbling client on one thread does not hold up the others.
  RawConnection slow(e.endpoint);
  ASSERT_TRUE(slow.send("\x16"));
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    std::string error;
    const auto r = https_request(e.endpoint, files.certificate, "POST", "/v1/cases",
                                 {{"Authorization", std::string("Bearer ") + kToken}, {"Prefer", "wait=10"}},
                                 charged_twice("cust-t" + std::to_string(i)), &error);
    ASSERT_EQ(r.status, 200) << error << r.body;
    ids.push_back(json::parse(r.body).at("case_id").get<std::string>());
  }
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
  EXPECT_TRUE(slow.closed_within(std::chrono::seconds(5))) << "the read timeout applies on every thread";
  // SIGTERM: stops cleanly within the grace period.
  e.process->signal(SIGTERM);
  const auto code = e.process->wait_exit(std::chrono::seconds(15));
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
}

TEST(Edge, ABrokerThatIsGoneIsA503WithRetryAfter) {
  Edge e(json::object(), false);
  e.stack.broker().signal(SIGKILL);
  ASSERT_TRUE(e.stack.broker().wait_exit(std::chrono::seconds(5)));
  const auto r = e.signed_post("/v1/cases", charged_twice(), {{"Prefer", "wait=1"}});
  ASSERT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(json::parse(r.body).at("error").at("code"), "broker_unavailable");
  EXPECT_EQ(r.header("retry-after"), "1");
  EXPECT_EQ(http_request(e.endpoint, "GET", "/readyz", {}, "").status, 503);
  EXPECT_EQ(http_request(e.endpoint, "GET", "/healthz", {}, "").status, 200);
  EXPECT_EQ(http_request(e.endpoint, "POST", "/healthz", {}, "").status, 405);
}

TEST(Edge, ReadinessFollowsTheAgents) {
  Edge e(json::object(), false);
  auto r = http_request(e.endpoint, "GET", "/readyz", {}, "");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(json::parse(r.body).at("missing_agent_kinds").size(), 4u);
  e.stack.start_banking_agents();
  EXPECT_TRUE(eventually([&] { return http_request(e.endpoint, "GET", "/readyz", {}, "").status == 200; }));
}

TEST(Edge, CardNumbersIbansAndEmailsNeverReachTheBusOrALog) {
  Edge e;
  const std::string pii[] = {"4111 1111 1111 1111", "4111111111111111", "GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432",
                             "jane.doe@example.com"};
  const auto body = json{{"kind", "support_message"},
                         {"channel", "web"},
                         {"customer_ref", "cust-pii"},
                         {"message", "My card 4111 1111 1111 1111 (also 4111111111111111) was charged twice; refund to IBAN "
                                     "GB82 WEST 1234 5698 7654 32 or GB82WEST12345698765432, mail jane.doe@example.com"}}
                        .dump();
  const auto r = e.signed_post("/v1/cases", body, {{"Prefer", "wait=10"}});
  ASSERT_EQ(r.status, 200) << r.body;
  for (const auto& p : pii) EXPECT_EQ(r.body.find(p), std::string::npos) << p << " in " << r.body;
  EXPECT_NE(r.body.find("[card ending 1111]"), std::string::npos) << r.body;
  e.process->stop();
  std::string logs = e.process->stderr_text() + e.stack.all_stderr();
  for (const auto& p : pii) EXPECT_EQ(logs.find(p), std::string::npos) << p << " in a log";
}

}  // namespace
}  // namespace testsupport
