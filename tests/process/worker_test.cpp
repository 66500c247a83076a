// The Cloudflare Worker (deploy/cloudflare) end to end in workerd, Cloudflare's own runtime:
// client -> workerd -> casebus-edge -> broker -> agents -> back, on ephemeral loopback ports.
// workerd runs deploy/cloudflare/workerd.capnp as it is, its settings from the environment (test
// secrets generated here), its listening socket bound here and handed over with --socket-fd, its
// readiness read from --control-fd.
#include "http_client.hpp"
#include "stack.hpp"

#include "auth.hpp"

#include "common/redact/redact.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <sstream>
#include <stdexcept>

namespace testsupport {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr char kIssuer[] = "https://issuer.casebus.test/";
constexpr char kAudience[] = "casebus-edge";
// Every variable workerd.capnp reads (fromEnvironment).
constexpr const char* kWorkerVariables[] = {"ORIGIN_URL",   "TENANT_SECRETS", "JWT_SECRET",     "JWT_SECRET_PREVIOUS",
                                            "JWT_ISSUER",   "JWT_AUDIENCE",   "JWT_LEEWAY_S",   "API_KEYS",
                                            "MAX_BODY_BYTES", "RATE_PER_S",   "RATE_BURST",     "ORIGIN_TIMEOUT_MS"};

std::string workerd_binary() { return CASEBUS_WORKERD_BIN; }
std::string worker_dir() { return CASEBUS_WORKER_DIR; }

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// A test secret: 32 random bytes as hex (64 characters). Never a real one.
std::string random_secret() {
  unsigned char b[32];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("RAND_bytes failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += kHex[c >> 4];
    s += kHex[c & 0xf];
  }
  return s;
}

std::string base64url(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 | static_cast<unsigned char>(bytes[i + 1]) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (const std::size_t rest = bytes.size() - i; rest > 0) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    if (rest == 2) out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

// An HS256 JWT (RFC 7519) over claims.
std::string make_jwt(const json& claims, const std::string& secret, const json& header = {{"alg", "HS256"}, {"typ", "JWT"}}) {
  const std::string input = base64url(header.dump()) + "." + base64url(claims.dump());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(input.data()),
            input.size(), mac, &n)) {
    throw std::runtime_error("HMAC failed");
  }
  return input + "." + base64url(std::string_view(reinterpret_cast<const char*>(mac), n));
}

json customer_claims(const std::string& customer, const std::string& tenant = "acme") {
  const auto now = unix_now();
  return {{"iss", kIssuer}, {"aud", kAudience}, {"tenant", tenant}, {"customer_ref", customer}, {"iat", now}, {"exp", now + 300}};
}

// A TCP socket on 127.0.0.1, ephemeral port. listen: a backlog of 16; otherwise bound only, so
// that a connection to its port is refused (and no other process can take the port meanwhile).
struct LoopbackSocket {
  int fd = -1;
  std::uint16_t port = 0;
  LoopbackSocket(bool listen, bool inheritable) {
    fd = ::socket(AF_INET, SOCK_STREAM | (inheritable ? 0 : SOCK_CLOEXEC), 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        (listen && ::listen(fd, 16) != 0) || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("bind/listen on 127.0.0.1:0 failed");
    }
    port = ntohs(addr.sin_port);
  }
  ~LoopbackSocket() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// One HTTP/1.1 request as an origin receives it.
struct CapturedRequest {
  std::string method, target, body;
  Headers headers;  // names as sent
  std::string header(std::string name) const {
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const auto& [k, v] : headers) {
      std::string lower = k;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == name) return v;
    }
    return {};
  }
};

// An origin the test controls: it accepts one connection, reads one request, and answers what
// the test says, or never answers.
class FakeOrigin final {
 public:
  FakeOrigin() : socket_(true, false) {}
  ~FakeOrigin() {
    if (client_ >= 0) ::close(client_);
  }
  std::string url() const { return socket_.url(); }

  CapturedRequest take(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    if (!wait_readable(socket_.fd, deadline)) throw std::runtime_error("no connection reached the fake origin in time");
    client_ = ::accept4(socket_.fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client_ < 0) throw std::runtime_error("accept failed");
    std::string in;
    std::size_t head_end = std::string::npos;
    CapturedRequest r;
    std::size_t content_length = 0;
    while (true) {
      if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
        std::istringstream head(in.substr(0, head_end));
        std::string line;
        std::getline(head, line);
        std::istringstream first(line);
        first >> r.method >> r.target;
        while (std::getline(head, line)) {
          if (!line.empty() && line.back() == '\r') line.pop_back();
          const auto colon = line.find(':');
          if (colon == std::string::npos) continue;
          std::string value = line.substr(colon + 1);
          while (!value.empty() && value.front() == ' ') value.erase(0, 1);
          r.headers.emplace_back(line.substr(0, colon), value);
        }
        if (!r.header("transfer-encoding").empty()) throw std::runtime_error("the fake origin reads Content-Length bodies only");
        const auto cl = r.header("content-length");
        content_length = cl.empty() ? 0 : std::stoul(cl);
      }
      if (head_end != std::string::npos && in.size() >= head_end + 4 + content_length) {
        r.body = in.substr(head_end + 4, content_length);
        return r;
      }
      if (!wait_readable(client_, deadline)) throw std::runtime_error("the request to the fake origin did not arrive whole in time");
      char buf[16384];
      const auto n = ::recv(client_, buf, sizeof buf, 0);
      if (n <= 0) throw std::runtime_error("the fake origin's client closed early");
      in.append(buf, static_cast<std::size_t>(n));
    }
  }

  void answer(const std::string& raw) {
    ::send(client_, raw.data(), raw.size(), MSG_NOSIGNAL);
    ::close(client_);
    client_ = -1;
  }

 private:
  static bool wait_readable(int fd, Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    return left > 0 && ::poll(&p, 1, static_cast<int>(left)) > 0;
  }

  LoopbackSocket socket_;
  int client_ = -1;
};

std::string raw_response(int status, const std::string& reason, const std::string& content_type, const std::string& body,
                         const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + content_type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n" + extra_headers + "\r\n" + body;
}

// The shipped broker config with its store in the test's temp dir (Stack's default).
json broker_config() {
  auto j = shipped_broker_config();
  j.erase("storage");
  return j;
}

struct Options {
  bool agents = true;
  bool edge = true;                // false: the Worker's origin is origin_url
  std::string origin_url;          // with edge false
  std::map<std::string, std::string> worker;  // settings over the defaults below
};

// The whole chain: broker, agents (optional), casebus-edge with tenants acme and globex whose
// secrets the test generates, and workerd with the Worker in front of the edge.
struct Chain {
  Stack stack{broker_config()};
  std::string acme_secret = random_secret(), globex_secret = random_secret(), jwt_secret = random_secret();
  std::string api_key = random_secret();
  std::unique_ptr<Process> edge;
  std::unique_ptr<Process> workerd;
  std::string edge_endpoint, worker_endpoint;

  explicit Chain(const Options& o = {}) {
    if (!std::filesystem::exists(workerd_binary())) {
      throw std::runtime_error("workerd is not installed at " + workerd_binary() +
                               ": run tools/install-deps.sh (make test does), which runs npm ci in deploy/cloudflare");
    }
    std::string origin = o.origin_url;
    if (o.edge) {
      stack.start_broker();
      if (o.agents) stack.start_banking_agents();
      const json config{{"listen", "127.0.0.1:0"},
                        {"broker_endpoint", stack.client_endpoint()},
                        {"log", {{"level", "debug"}}},
                        {"tenants", {{"acme", {{"secrets", {acme_secret}}}}, {"globex", {{"secrets", {globex_secret}}}}}}};
      const auto path = stack.dir().write("edge.json", config.dump());
      edge = std::make_unique<Process>("edge", Binaries::edge(), std::vector<std::string>{"--config", path.string()}, stack.dir());
      edge_endpoint = edge->wait_ready().at("CASEBUS_HTTP_ENDPOINT");
      origin = "http://" + edge_endpoint;
    }
    std::map<std::string, std::string> settings{
        {"ORIGIN_URL", origin},
        {"TENANT_SECRETS", json{{"acme", acme_secret}, {"globex", globex_secret}}.dump()},
        {"JWT_SECRET", jwt_secret},
        {"JWT_ISSUER", kIssuer},
        {"JWT_AUDIENCE", kAudience},
        {"API_KEYS", json{{edge::to_hex(edge::sha256(api_key)), "acme"}}.dump()},
        {"ORIGIN_TIMEOUT_MS", "15000"},
    };
    for (const auto& [k, v] : o.worker) settings[k] = v;
    start_workerd(settings);
  }

  ~Chain() {
    std::vector<const Process*> all;
    if (edge) all.push_back(edge.get());
    if (workerd) all.push_back(workerd.get());
    dump_on_failure(all);
  }

  void start_workerd(const std::map<std::string, std::string>& settings) {
    // The child's environment is this process's plus these: a variable of the same name set
    // around the test would come first, so none is.
    for (const char* name : kWorkerVariables) ::unsetenv(name);
    std::vector<std::string> env;
    for (const auto& [k, v] : settings) env.push_back(k + "=" + v);
    // The listening socket and the control pipe's write end are inherited (no CLOEXEC) by
    // workerd alone: they are closed here right after the fork.
    LoopbackSocket listener(true, true);
    int control[2];
    if (::pipe2(control, 0) != 0) throw std::runtime_error("pipe failed");
    ::fcntl(control[0], F_SETFD, FD_CLOEXEC);
    workerd = std::make_unique<Process>(
        "workerd", workerd_binary(),
        std::vector<std::string>{"serve", worker_dir() + "/workerd.capnp", "--socket-fd", "http=" + std::to_string(listener.fd),
                                 "--control-fd", std::to_string(control[1])},
        stack.dir(), env);
    ::close(control[1]);
    listener.close();
    worker_endpoint = "127.0.0.1:" + std::to_string(listener.port);
    // workerd writes {"event":"listen","socket":"http","port":N} to the control fd when it serves.
    const auto deadline = Clock::now() + std::chrono::seconds(15);
    std::string got;
    while (got.find("\"listen\"") == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{control[0], POLLIN, 0};
      char buf[512];
      ssize_t n = 0;
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0 || (n = ::read(control[0], buf, sizeof buf)) <= 0) {
        ::close(control[0]);
        throw std::runtime_error("workerd did not report listening in time:\n" + workerd->stderr_text());
      }
      got.append(buf, static_cast<std::size_t>(n));
    }
    ::close(control[0]);
  }

  std::string token(const std::string& customer, const std::string& tenant = "acme") const {
    return make_jwt(customer_claims(customer, tenant), jwt_secret);
  }

  HttpResponse post(const std::string& path, const std::string& body, const std::string& bearer, Headers extra = {}) const {
    if (!bearer.empty()) extra.emplace_back("Authorization", "Bearer " + bearer);
    extra.emplace_back("Content-Type", "application/json");
    return http_request(worker_endpoint, "POST", path, extra, body);
  }
  HttpResponse get(const std::string& path, const std::string& bearer) const {
    return http_request(worker_endpoint, "GET", path, {{"Authorization", "Bearer " + bearer}}, "");
  }
  int accepted() { return stack.stats().at("counters").at("accepted").get<int>(); }
};

std::string support_message(const std::string& message = "I was charged twice on my debit card yesterday.") {
  return json{{"kind", "support_message"}, {"channel", "web"}, {"message", message}}.dump();
}

std::string error_code(const HttpResponse& r) {
  try {
    return json::parse(r.body).at("error").at("code").get<std::string>();
  } catch (const json::exception&) {
    return "<no error code in: " + r.body + ">";
  }
}

TEST(Worker, AValidTokenGetsTheFinalCaseBackThroughTheWorker) {
  Chain c;
  const std::string card = "4111 1111 1111 1111";
  const auto r = c.post("/v1/cases", support_message("I was charged twice on my debit card " + card + " yesterday; mail jane.doe@example.com"),
                        c.token("cust-10492"), {{"Prefer", "wait=10"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto kase = json::parse(r.body);
  EXPECT_EQ(kase.at("status"), "resolved") << r.body;
  EXPECT_EQ(kase.at("tenant"), "acme");
  EXPECT_EQ(kase.at("intent"), "card_dispute");
  // The customer comes from the token; the text was redacted before it left the Worker.
  EXPECT_EQ(kase.at("payload").at("customer_ref"), "cust-10492");
  const auto message = kase.at("payload").at("message").get<std::string>();
  EXPECT_NE(message.find("[card ending 1111]"), std::string::npos) << message;
  EXPECT_NE(message.find("[email]"), std::string::npos) << message;
  EXPECT_EQ(r.body.find(card), std::string::npos);
  EXPECT_EQ(r.header("x-casebus-case-id"), kase.at("case_id"));
  EXPECT_FALSE(r.header("traceparent").empty());
  EXPECT_EQ(r.header("x-request-id").size(), 36u) << "a UUID";
  EXPECT_EQ(r.header("cache-control"), "no-store");

  // The customer reads the case back; another customer of the tenant gets what an unknown id gets.
  const std::string path = "/v1/cases/" + kase.at("case_id").get<std::string>();
  const auto mine = c.get(path, c.token("cust-10492"));
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(json::parse(mine.body).at("case_id"), kase.at("case_id"));
  const auto theirs = c.get(path, c.token("cust-other"));
  EXPECT_EQ(theirs.status, 404) << theirs.body;
  EXPECT_EQ(json::parse(theirs.body), json::parse(c.get("/v1/cases/c-00000000000000000000000000000000", c.token("cust-10492")).body));

  // A seed Worker's route, and an API key (a server-side caller naming the customer in the body).
  const auto seed = c.post("/agent", json{{"message", "I need help disputing a duplicate card charge."}}.dump(), c.token("cust-12345"));
  ASSERT_EQ(seed.status, 200) << seed.body;
  EXPECT_EQ(json::parse(seed.body).at("status"), "resolved");
  EXPECT_EQ(json::parse(seed.body).at("payload").at("customer_ref"), "cust-12345");
  const auto keyed = c.post("/v1/cases", json{{"kind", "support_message"}, {"channel", "web"}, {"customer_ref", "cust-30988"},
                                              {"message", "I was charged twice."}}.dump(),
                            c.api_key, {{"Prefer", "wait=10"}});
  ASSERT_EQ(keyed.status, 200) << keyed.body;
  EXPECT_EQ(json::parse(keyed.body).at("payload").at("customer_ref"), "cust-30988");
  EXPECT_EQ(c.accepted(), 3);
  // The Worker logs no token and no body.
  const auto logs = c.workerd->stderr_text();
  EXPECT_EQ(logs.find(c.token("cust-10492").substr(0, 40)), std::string::npos);
  EXPECT_EQ(logs.find("charged twice"), std::string::npos);
  EXPECT_NE(logs.find("\"status\":200"), std::string::npos) << logs;
}

TEST(Worker, MissingBadAndExpiredTokensAre401) {
  Chain c({.agents = false});
  const auto now = unix_now();
  auto claims = [&](const json& patch) {
    auto j = customer_claims("cust-1");
    j.merge_patch(patch);
    return j;
  };
  struct Row {
    const char* name;
    std::string authorization;  // empty: no header
    const char* code;
  };
  const Row rows[] = {
      {"no credentials", "", "missing_credentials"},
      {"not bearer", "Basic dXNlcjpwYXNz", "malformed_credentials"},
      {"unknown opaque token", "Bearer not-a-configured-key", "bad_token"},
      {"another key's signature", "Bearer " + make_jwt(customer_claims("cust-1"), random_secret()), "bad_token"},
      {"tampered claims", "Bearer " + [&] {
         auto t = c.token("cust-1");
         const auto dot1 = t.find('.'), dot2 = t.rfind('.');
         return t.substr(0, dot1 + 1) + base64url(claims({{"tenant", "globex"}}).dump()) + t.substr(dot2);
       }(), "bad_token"},
      {"alg none", "Bearer " + base64url(R"({"alg":"none"})") + "." + base64url(customer_claims("cust-1").dump()) + ".", "bad_token"},
      {"HS512", "Bearer " + make_jwt(customer_claims("cust-1"), c.jwt_secret, {{"alg", "HS512"}}), "bad_token"},
      {"expired", "Bearer " + make_jwt(claims({{"exp", now - 120}}), c.jwt_secret), "expired_token"},
      {"not yet valid", "Bearer " + make_jwt(claims({{"nbf", now + 600}}), c.jwt_secret), "token_not_yet_valid"},
      {"no exp", "Bearer " + make_jwt(claims({{"exp", nullptr}}), c.jwt_secret), "invalid_claims"},
      {"other audience", "Bearer " + make_jwt(claims({{"aud", "someone-else"}}), c.jwt_secret), "invalid_claims"},
      {"other issuer", "Bearer " + make_jwt(claims({{"iss", "https://evil.test/"}}), c.jwt_secret), "invalid_claims"},
      {"unknown tenant", "Bearer " + make_jwt(claims({{"tenant", "initech"}}), c.jwt_secret), "invalid_claims"},
      {"card number as customer", "Bearer " + make_jwt(claims({{"customer_ref", "4111111111111111"}}), c.jwt_secret), "invalid_claims"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    Headers h{{"Content-Type", "application/json"}};
    if (!row.authorization.empty()) h.emplace_back("Authorization", row.authorization);
    const auto r = http_request(c.worker_endpoint, "POST", "/v1/cases", h, support_message());
    ASSERT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(error_code(r), row.code);
    EXPECT_TRUE(r.header("www-authenticate").starts_with("Bearer realm=\"casebus\"")) << r.header("www-authenticate");
    EXPECT_FALSE(r.header("x-request-id").empty());
  }
  // The token's customer is the only one its bearer may act for.
  auto body = json::parse(support_message());
  body["customer_ref"] = "cust-2";
  const auto other = c.post("/v1/cases", body.dump(), c.token("cust-1"));
  EXPECT_EQ(other.status, 403) << other.body;
  EXPECT_EQ(error_code(other), "customer_mismatch");
  EXPECT_EQ(json::parse(other.body).at("error").at("field"), "payload.customer_ref");
  // Nothing refused here reached the bus.
  EXPECT_EQ(c.accepted(), 0);
}

TEST(Worker, BodiesAreCheckedAndSizeLimited) {
  Chain c({.agents = false, .worker = {{"MAX_BODY_BYTES", "4096"}}});
  const auto token = c.token("cust-1");
  // Over the limit by Content-Length: refused before the body is read.
  const auto big = c.post("/v1/cases", support_message(std::string(5000, 'a')), token);
  ASSERT_EQ(big.status, 413) << big.body;
  EXPECT_EQ(error_code(big), "too_large");
  // Over the limit without a Content-Length (chunked): refused while reading.
  {
    RawConnection raw(c.worker_endpoint);
    std::string req = "POST /v1/cases HTTP/1.1\r\nHost: worker\r\nConnection: close\r\nAuthorization: Bearer " + token +
                      "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 6; ++i) req += "400\r\n" + std::string(1024, ' ') + "\r\n";
    req += "0\r\n\r\n";
    raw.send(req);
    ASSERT_TRUE(raw.closed_within(std::chrono::seconds(10)));
    EXPECT_TRUE(raw.received().starts_with("HTTP/1.1 413")) << raw.received().substr(0, 200);
    EXPECT_NE(raw.received().find("too_large"), std::string::npos);
  }
  struct Row {
    const char* name;
    std::string body;
    std::string content_type;
    int status;
    const char* code;
    const char* field;
  };
  const Row rows[] = {
      {"not JSON", "{\"kind\":", "application/json", 400, "malformed", nullptr},
      {"not an object", "[1,2]", "application/json", 400, "malformed", nullptr},
      {"not UTF-8", "{\"message\":\"\xff\"}", "application/json", 400, "malformed", nullptr},
      {"message not a string", json{{"kind", "support_message"}, {"channel", "web"}, {"message", 5}}.dump(), "application/json", 400,
       "invalid_field", "payload.message"},
      {"payment not an object", json{{"kind", "payment_request"}, {"channel", "web"}, {"payment", "x"}}.dump(), "application/json", 400,
       "invalid_field", "payload.payment"},
      {"form post", "kind=support_message", "application/x-www-form-urlencoded", 415, "unsupported_media_type", nullptr},
      // The edge's own schema check, relayed: it names the field.
      {"unknown kind (the edge)", json{{"kind", "nonsense"}, {"channel", "web"}, {"message", "hi"}}.dump(), "application/json; charset=utf-8",
       400, "invalid_field", "payload.kind"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    const auto r = http_request(c.worker_endpoint, "POST", "/v1/cases", {{"Authorization", "Bearer " + token}, {"Content-Type", row.content_type}},
                                row.body);
    ASSERT_EQ(r.status, row.status) << r.body;
    EXPECT_EQ(error_code(r), row.code);
    if (row.field) {
      EXPECT_EQ(json::parse(r.body).at("error").at("field"), row.field) << r.body;
    }
  }
  // Routes: unknown is 404, a wrong method 405 with Allow, a malformed case id 404.
  const auto unknown = c.post("/v2/everything", "{}", token);
  EXPECT_EQ(unknown.status, 404);
  const auto wrong = c.get("/v1/cases", token);
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.header("allow"), "POST");
  EXPECT_EQ(c.get("/v1/cases/not-an-id", token).status, 404);
  EXPECT_EQ(c.accepted(), 0);
}

TEST(Worker, EachCustomerIsRateLimitedWith429AndRetryAfter) {
  Chain c({.agents = false, .worker = {{"RATE_BURST", "2"}, {"RATE_PER_S", "0.01"}}});
  const auto validate = [&](const std::string& customer) {
    return c.post("/validate", json{{"kind", "support_message"}, {"channel", "web"}, {"message", "hello"}}.dump(), c.token(customer));
  };
  // Two identical requests, very likely within one second: each is signed with a t of its own,
  // or the edge would refuse the second as a replay of the first.
  for (int i = 0; i < 2; ++i) {
    const auto r = validate("cust-busy");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body).at("ok"), true) << r.body;
  }
  const auto limited = validate("cust-busy");
  ASSERT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(error_code(limited), "rate_limited");
  // One token per 100 s: the next one is about 100 s away.
  const int retry_after = std::stoi(limited.header("retry-after"));
  EXPECT_GE(retry_after, 90);
  EXPECT_LE(retry_after, 100);
  // Another customer of the same tenant has a bucket of its own; GETs count too.
  EXPECT_EQ(validate("cust-quiet").status, 200);
  EXPECT_EQ(c.get("/v1/cases/c-00000000000000000000000000000000", c.token("cust-busy")).status, 429);
}

TEST(Worker, AnOriginThatRefusesConnectionsIs502) {
  LoopbackSocket closed(false, false);  // bound, not listening: connections are refused
  Chain c({.edge = false, .origin_url = closed.url()});
  const auto started = Clock::now();
  const auto r = c.post("/v1/cases", support_message(), c.token("cust-1"));
  ASSERT_EQ(r.status, 502) << r.body;
  EXPECT_EQ(error_code(r), "origin_unreachable");
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(5));
}

TEST(Worker, AnOriginThatDoesNotAnswerIs504AndBrokenAnswersAre502) {
  FakeOrigin silent;
  {
    Chain c({.edge = false, .origin_url = silent.url(), .worker = {{"ORIGIN_TIMEOUT_MS", "1500"}}});
    const auto started = Clock::now();
    const auto r = c.post("/v1/cases", support_message(), c.token("cust-1"));
    const auto took = Clock::now() - started;
    ASSERT_EQ(r.status, 504) << r.body;
    EXPECT_EQ(error_code(r), "origin_timeout");
    EXPECT_GE(took, std::chrono::milliseconds(1400));
    EXPECT_LT(took, std::chrono::seconds(10));
  }
  struct Row {
    const char* name;
    std::string origin_answer;
    int status;
    const char* code;
    const char* retry_after;
  };
  const Row rows[] = {
      {"HTML error page", raw_response(500, "Internal Server Error", "text/html", "<h1>oops</h1>"), 502, "origin_error", ""},
      {"the edge's busy", raw_response(503, "Service Unavailable", "application/json",
                                       R"({"error":{"code":"busy","message":"the broker is at capacity; retry later"}})", "Retry-After: 1\r\n"),
       503, "busy", "1"},
      {"the edge refusing the signature", raw_response(401, "Unauthorized", "application/json",
                                                       R"({"error":{"code":"bad_signature","message":"the signature does not match"}})"),
       502, "origin_auth_failed", ""},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    FakeOrigin origin;
    Chain c({.edge = false, .origin_url = origin.url()});
    auto pending = std::async(std::launch::async, [&] { return c.post("/v1/cases", support_message(), c.token("cust-1")); });
    origin.take(std::chrono::seconds(10));
    origin.answer(row.origin_answer);
    ASSERT_EQ(pending.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    const auto r = pending.get();
    ASSERT_EQ(r.status, row.status) << r.body;
    EXPECT_EQ(error_code(r), row.code);
    EXPECT_EQ(r.header("retry-after"), row.retry_after);
  }
}

// What the Worker sends is what the edge verifies; the same request altered, unsigned, or sent
// twice is refused by the edge itself.
TEST(Worker, TheEdgeRejectsTamperedUnsignedAndReplayedRequests) {
  Chain real({.agents = false});  // the edge, to send captured requests to
  FakeOrigin origin;
  // A second Worker in front of the fake origin, with the real edge's tenant secret and JWT key.
  Chain front({.edge = false,
               .origin_url = origin.url(),
               .worker = {{"TENANT_SECRETS", json{{"acme", real.acme_secret}}.dump()}, {"JWT_SECRET", real.jwt_secret}}});

  auto pending = std::async(std::launch::async, [&] {
    return front.post("/v1/cases", support_message("Charged twice on 4111-1111-1111-1111, call +44 20 7946 0958"), real.token("cust-42"),
                      {{"Idempotency-Key", "web-form-1"}, {"Prefer", "wait=3"}});
  });
  const auto captured = origin.take(std::chrono::seconds(10));
  origin.answer(raw_response(200, "OK", "application/json", R"({"ok":true})"));
  ASSERT_EQ(pending.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_EQ(pending.get().status, 200);

  // What left the Worker: redacted, bound to the token's customer, signed as the edge verifies.
  EXPECT_EQ(captured.method, "POST");
  EXPECT_EQ(captured.target, "/v1/cases");
  const auto sent = json::parse(captured.body);
  EXPECT_EQ(sent.at("message"), "Charged twice on [card ending 1111], call [phone]");
  EXPECT_EQ(sent.at("customer_ref"), "cust-42");
  EXPECT_EQ(captured.header("x-casebus-tenant"), "acme");
  EXPECT_EQ(captured.header("idempotency-key"), "web-form-1");
  EXPECT_EQ(captured.header("prefer"), "wait=3");
  const auto sig = captured.header("x-casebus-signature");
  ASSERT_TRUE(sig.starts_with("t=")) << sig;
  const auto comma = sig.find(",v1=");
  ASSERT_NE(comma, std::string::npos) << sig;
  const auto t = std::stoll(sig.substr(2, comma - 2));
  EXPECT_LE(std::abs(t - unix_now()), 5);
  EXPECT_EQ(sig.substr(comma + 4), edge::sign(real.acme_secret, t, "POST", "/v1/cases", captured.body));

  auto to_edge = [&](const std::string& body, Headers h) { return http_request(real.edge_endpoint, "POST", "/v1/cases", h, body); };
  const Headers signed_headers{{"X-Casebus-Tenant", "acme"}, {"X-Casebus-Signature", sig}, {"Content-Type", "application/json"}};
  // The body altered after signing.
  auto altered = captured.body;
  altered.replace(altered.find("twice"), 5, "trice");
  const auto tampered = to_edge(altered, signed_headers);
  ASSERT_EQ(tampered.status, 401) << tampered.body;
  EXPECT_EQ(error_code(tampered), "bad_signature");
  // The signature moved to another tenant.
  const auto moved = to_edge(captured.body, {{"X-Casebus-Tenant", "globex"}, {"X-Casebus-Signature", sig}});
  ASSERT_EQ(moved.status, 401) << moved.body;
  EXPECT_EQ(error_code(moved), "bad_signature");
  // No signature at all.
  const auto unsigned_request = to_edge(captured.body, {{"Content-Type", "application/json"}});
  ASSERT_EQ(unsigned_request.status, 401) << unsigned_request.body;
  EXPECT_EQ(error_code(unsigned_request), "missing_credentials");
  // The request exactly as the Worker sent it is accepted (the refusals above used nothing up)...
  const auto as_sent = to_edge(captured.body, signed_headers);
  ASSERT_EQ(as_sent.status, 202) << as_sent.body;
  const auto id = json::parse(as_sent.body).at("case_id").get<std::string>();
  // ... once.
  const auto replayed = to_edge(captured.body, signed_headers);
  ASSERT_EQ(replayed.status, 401) << replayed.body;
  EXPECT_EQ(error_code(replayed), "replayed_signature");
  EXPECT_EQ(real.accepted(), 1);

  // A GET is signed over its path and an empty body.
  auto get_pending = std::async(std::launch::async, [&] { return front.get("/v1/cases/" + id, real.token("cust-42")); });
  const auto get_captured = origin.take(std::chrono::seconds(10));
  origin.answer(raw_response(200, "OK", "application/json", json{{"case_id", id}, {"status", "in_progress"}}.dump()));
  ASSERT_EQ(get_pending.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_EQ(get_pending.get().status, 200);
  EXPECT_TRUE(get_captured.body.empty());
  const auto got = http_request(real.edge_endpoint, "GET", get_captured.target,
                                {{"X-Casebus-Tenant", "acme"}, {"X-Casebus-Signature", get_captured.header("x-casebus-signature")}}, "");
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(json::parse(got.body).at("case_id"), id);
}

// The Worker's redactor (deploy/cloudflare/src/redact.js) gives casebus-edge's results
// (common::redact) byte for byte: the documented examples and limits, and generated text.
TEST(Worker, RedactsExactlyAsTheEdgeDoes) {
  std::vector<std::string> corpus = {
      "Hi, I'm jane.doe@example.com. My card 4111 1111 1111 1111 was charged $89.99 twice on 2026-11-20 (invoice INV-1042).",
      "Please send the refund to IBAN DE89 3704 0044 0532 0130 00, not to my old account number 12345678.",
      "My SSN is 123-45-6789; call me on +1 (555) 123-4567 or at home on 555-867-5309.",
      "order 123456, invoice 12345678, INV-1042, ticket 5551234567",
      "$1,234.56, 42.50 USD, 25,000 EUR, account balance 1234567.89",
      "2026-11-20, 11/20/2026, 14:03:59, account opened 2026-11-20",
      "card ending in 4417", "4111 1111 1111 1112", "DE89 3704 0044 0532 0130 02",
      "000-12-3456, 666-12-3456, 900-12-3456, 123-00-4567, 123-45-0000",
      "123-456-7890, 555 123 4567", "user@localhost, a@b.c, me@192.168.0.1",
      "from account 12345678 to 87654321", "call +1 555 123 4567 or 5559876543", "account 12345678 and order 987654",
      "account 12345678; order 987654", "PAN4111111111111111exp1227", "4111111111111111GB29NWBK60161331926819",
      "john4111111111111111@example.com", "mail john@bank.com4111111111111111.org", "my account PAN4111111111111111 is 12345678",
      "Amex 3782 822463 10005 was declined", "UnionPay 621234 5678901234569!", "\xEF\xBC\x94\xEF\xBC\x91" "11111111111111",
      "carte 4111\xE2\x80\xAF" "1111\xE2\x80\xAF" "1111\xE2\x80\xAF" "1111, merci", "\xE2\x82\xAC" "4111111111111111",
      "acct # 0012-3456-789", "routing 021000021", "ssn 123456789", "social security number is 123 45 6789",
      "+44 20 7946 0958, +33 1 23 45 67 89, +49.151.12345678", "1-555-123-4567 and (555) 123-4567",
      ".jane@example.com- and -x+y@bank.co.uk.", "tel 5551234567.", "[card ending 1111] [iban] [account] 12345678",
  };
  // Generated: fragments with and without PII, in random order and with random glue.
  const std::vector<std::string> fragments = {
      "card", "account", "acct", "ssn", "call", "phone", "my", "number", "is", "to", "and", "refund", "IBAN",
      "4111111111111111", "4111 1111 1111 1111", "5555-5555-5555-4444", "4000056655665556", "3782 822463 10005",
      "GB29 NWBK 6016 1331 9268 19", "DE89370400440532013000", "123-45-6789", "123456789", "12345678", "0012-3456-789",
      "+1 (555) 123-4567", "555-867-5309", "555 123 4567", "5559876543", "jane.doe@example.com", "x@bank.co.uk", "2026-11-20",
      "$89.99", "1,234.56", "INV-1042", "4111111111111112", "\xC2\xA0", "\xE2\x80\x89", "\xEF\xBC\x95", "caf\xC3\xA9", "[phone]",
      "[card ending 4444]", ";", ",", ".", "-", "(", ")", "/", "@", "+", "\n"};
  const std::string glue[] = {" ", " ", " ", "", "-", ".", ", ", "  ", "\t", "/"};
  std::mt19937 rng(20261121);
  for (int i = 0; i < 3000; ++i) {
    std::string s;
    const int n = 1 + static_cast<int>(rng() % 10);
    for (int k = 0; k < n; ++k) s += fragments[rng() % fragments.size()] + glue[rng() % std::size(glue)];
    corpus.push_back(s);
  }
  // Random Luhn-valid cards in the documented layouts.
  for (int i = 0; i < 500; ++i) {
    std::string d = "4";
    while (d.size() < 15) d += static_cast<char>('0' + rng() % 10);
    int sum = 0;
    for (std::size_t k = 0; k < d.size(); ++k) {
      int v = d[d.size() - 1 - k] - '0';
      if (k % 2 == 0 && (v *= 2) > 9) v -= 9;
      sum += v;
    }
    d += static_cast<char>('0' + (10 - sum % 10) % 10);
    const std::string sep[] = {"", " ", "-", ".", "/", "\xC2\xA0", "  "};
    const auto& g = sep[rng() % std::size(sep)];
    corpus.push_back("card " + d.substr(0, 4) + g + d.substr(4, 4) + g + d.substr(8, 4) + g + d.substr(12, 4) + " thanks");
  }
  TempDir dir;
  const auto in = dir.write("in.json", json(corpus).dump());
  const auto out = dir.path() / "out.json";
  Process node("node", CASEBUS_NODE_BIN, {worker_dir() + "/test/redact_cli.mjs", in.string(), out.string()}, dir);
  const auto code = node.wait_exit(std::chrono::seconds(30));
  ASSERT_TRUE(code) << "node did not finish";
  ASSERT_EQ(*code, 0) << node.stderr_text();
  std::ifstream f(out);
  const auto got = json::parse(f);
  ASSERT_EQ(got.size(), corpus.size());
  int mismatches = 0;
  for (std::size_t i = 0; i < corpus.size() && mismatches < 10; ++i) {
    const auto want = common::redact::redact_text(corpus[i]);
    if (got[i].get<std::string>() != want) {
      ++mismatches;
      ADD_FAILURE() << "in:   " << corpus[i] << "\nedge: " << want << "\njs:   " << got[i].get<std::string>();
    }
  }
}

}  // namespace
}  // namespace testsupport
