#include "settings.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

namespace edge {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kSecret[] = "acme-secret-0123456789abcdef0123456789";
constexpr char kNewSecret[] = "acme-secret-new-0123456789abcdef012345";
constexpr char kOtherSecret[] = "globex-secret-0123456789abcdef01234567";
constexpr char kToken[] = "internal-token-0123456789";

json minimal() {
  return json{{"tenants", {{"acme", {{"secrets", {kSecret}}}}}}};
}

Settings parse(const json& j) {
  Settings s;
  from_json(j, s);
  return s;
}

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = testing::TempDir() + "edge_settings_test_" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(Settings, DefaultsNeedOnlyATenant) {
  const Settings s = parse(minimal());
  EXPECT_EQ(s.listen_address, "127.0.0.1");
  EXPECT_EQ(s.listen_port, 8080);
  EXPECT_EQ(s.broker_endpoint, "tcp://127.0.0.1:7101");
  EXPECT_EQ(s.workflow, "banking");
  EXPECT_EQ(s.required_agent_kinds, (std::vector<std::string>{"classifier", "fraud_reviewer", "response_drafter", "escalation"}));
  EXPECT_TRUE(s.tls_certificate.empty());
  EXPECT_TRUE(s.tls_private_key.empty());
  EXPECT_EQ(s.max_body_bytes, 64u * 1024);
  EXPECT_EQ(s.max_header_bytes, 8u * 1024);
  EXPECT_EQ(s.read_timeout, milliseconds(10000));
  EXPECT_EQ(s.idle_timeout, milliseconds(30000));
  EXPECT_EQ(s.max_connections, 1024u);
  EXPECT_EQ(s.max_wait, seconds(30));
  EXPECT_EQ(s.case_deadline, milliseconds(30000));
  EXPECT_EQ(s.case_retention, seconds(3600));
  EXPECT_EQ(s.max_cases, 100000u);
  EXPECT_EQ(s.idempotency_retention, seconds(86400));
  EXPECT_EQ(s.auth.max_skew, seconds(300));
  EXPECT_EQ(s.auth.replay_cache_limit, 1'000'000u);
  EXPECT_EQ(s.log.level, "info");
  EXPECT_EQ(s.log.format, common::log::Format::kText);
  ASSERT_EQ(s.tenants.size(), 1u);
  const Tenant& t = s.tenants[0];
  EXPECT_EQ(t.credentials.tenant, "acme");
  EXPECT_EQ(t.credentials.secrets, std::vector<std::string>{kSecret});
  EXPECT_TRUE(t.credentials.bearer_sha256.empty());
  EXPECT_EQ(t.limits.rate_per_s, 50);
  EXPECT_EQ(t.limits.burst, 100);
  EXPECT_EQ(t.limits.customer_rate_per_s, 2);
  EXPECT_EQ(t.limits.customer_burst, 10);
  EXPECT_EQ(t.limits.max_in_flight, 1000u);
}

TEST(Settings, ReadsEveryKey) {
  const std::string cert = write_file("cert.pem", "-----BEGIN CERTIFICATE-----\n");
  const std::string key = write_file("key.pem", "-----BEGIN PRIVATE KEY-----\n");
  const json j{
      {"listen", "0.0.0.0:0"},
      {"broker_endpoint", "tcp://10.0.0.5:7101"},
      {"workflow", "lending"},
      {"required_agent_kinds", {"classifier"}},
      {"tls", {{"certificate", cert}, {"private_key", key}}},
      {"max_body_bytes", 1024},
      {"max_header_bytes", 2048},
      {"read_timeout_ms", 500},
      {"idle_timeout_ms", 700},
      {"max_connections", 10},
      {"max_wait_s", 0},
      {"case_deadline_ms", 1500},
      {"case_retention_s", 60},
      {"max_cases", 50},
      {"idempotency_retention_s", 120},
      {"max_skew_s", 30},
      {"replay_cache_limit", 5000},
      {"log", {{"level", "debug"}, {"format", "json"}}},
      {"tenants",
       {{"acme",
         {{"secrets", {kSecret, kNewSecret}},
          {"bearer_sha256", {to_hex(sha256(kToken))}},
          {"rate_per_s", 5.5},
          {"burst", 20},
          {"customer_rate_per_s", 0.5},
          {"customer_burst", 3},
          {"max_in_flight", 7}}},
        {"globex", {{"bearer_sha256", {std::string(64, 'A')}}}}}},
  };
  const Settings s = parse(j);
  EXPECT_EQ(s.listen_address, "0.0.0.0");
  EXPECT_EQ(s.listen_port, 0);
  EXPECT_EQ(s.broker_endpoint, "tcp://10.0.0.5:7101");
  EXPECT_EQ(s.workflow, "lending");
  EXPECT_EQ(s.required_agent_kinds, std::vector<std::string>{"classifier"});
  EXPECT_EQ(s.tls_certificate, cert);
  EXPECT_EQ(s.tls_private_key, key);
  EXPECT_EQ(s.max_body_bytes, 1024u);
  EXPECT_EQ(s.max_header_bytes, 2048u);
  EXPECT_EQ(s.read_timeout, milliseconds(500));
  EXPECT_EQ(s.idle_timeout, milliseconds(700));
  EXPECT_EQ(s.max_connections, 10u);
  EXPECT_EQ(s.max_wait, seconds(0));
  EXPECT_EQ(s.case_deadline, milliseconds(1500));
  EXPECT_EQ(s.case_retention, seconds(60));
  EXPECT_EQ(s.max_cases, 50u);
  EXPECT_EQ(s.idempotency_retention, seconds(120));
  EXPECT_EQ(s.auth.max_skew, seconds(30));
  EXPECT_EQ(s.auth.replay_cache_limit, 5000u);
  EXPECT_EQ(s.log.level, "debug");
  EXPECT_EQ(s.log.format, common::log::Format::kJson);
  ASSERT_EQ(s.tenants.size(), 2u);
  const Tenant& acme = s.tenants[0].credentials.tenant == "acme" ? s.tenants[0] : s.tenants[1];
  const Tenant& globex = s.tenants[0].credentials.tenant == "acme" ? s.tenants[1] : s.tenants[0];
  EXPECT_EQ(acme.credentials.secrets, (std::vector<std::string>{kSecret, kNewSecret}));
  ASSERT_EQ(acme.credentials.bearer_sha256.size(), 1u);
  EXPECT_EQ(acme.credentials.bearer_sha256[0], sha256(kToken));
  EXPECT_EQ(acme.limits.rate_per_s, 5.5);
  EXPECT_EQ(acme.limits.burst, 20);
  EXPECT_EQ(acme.limits.customer_rate_per_s, 0.5);
  EXPECT_EQ(acme.limits.customer_burst, 3);
  EXPECT_EQ(acme.limits.max_in_flight, 7u);
  EXPECT_EQ(globex.credentials.tenant, "globex");
  EXPECT_TRUE(globex.credentials.secrets.empty());
  ASSERT_EQ(globex.credentials.bearer_sha256.size(), 1u);
  EXPECT_EQ(to_hex(globex.credentials.bearer_sha256[0]), std::string(64, 'a'));
  EXPECT_EQ(globex.limits.rate_per_s, 50);  // defaults per tenant
  std::remove(cert.c_str());
  std::remove(key.c_str());
}

TEST(Settings, BadConfigsNameTheKey) {
  struct Row {
    const char* name;
    json config;
    std::string key;  // the message starts with "<key>: "
  };
  auto with = [](const std::string& k, json v) {
    json j = minimal();
    j[k] = std::move(v);
    return j;
  };
  auto tenant = [](json t) { return json{{"tenants", {{"acme", std::move(t)}}}}; };
  const std::string hex(64, 'a');
  const Row rows[] = {
      {"not an object", json::array(), "config"},
      {"unknown key", with("listen_port", 8080), "listen_port"},
      {"listen without a port", with("listen", "127.0.0.1"), "listen"},
      {"listen without an address", with("listen", ":8080"), "listen"},
      {"listen with an empty port", with("listen", "127.0.0.1:"), "listen"},
      {"listen with a named port", with("listen", "127.0.0.1:http"), "listen"},
      {"listen with a port too large", with("listen", "127.0.0.1:65536"), "listen"},
      {"listen with a negative port", with("listen", "127.0.0.1:-1"), "listen"},
      {"listen with junk after the port", with("listen", "127.0.0.1:8080x"), "listen"},
      {"listen with a space before the port", with("listen", "127.0.0.1: 8080"), "listen"},
      {"listen not a string", with("listen", 8080), "listen"},
      {"broker_endpoint not a string", with("broker_endpoint", 7101), "broker_endpoint"},
      {"workflow not a name", with("workflow", "Banking Flow!"), "workflow"},
      {"required_agent_kinds not an array", with("required_agent_kinds", "classifier"), "required_agent_kinds"},
      {"tls with only a certificate", with("tls", {{"certificate", "/etc/edge/cert.pem"}}), "tls"},
      {"tls with only a key", with("tls", {{"private_key", "/etc/edge/key.pem"}}), "tls"},
      {"tls with an unknown key", with("tls", {{"certificate", "a"}, {"private_key", "b"}, {"ca", "c"}}), "tls.ca"},
      {"tls files that do not exist", with("tls", {{"certificate", "/nonexistent/cert.pem"}, {"private_key", "/nonexistent/key.pem"}}), "tls"},
      {"tls not an object", with("tls", "on"), "tls"},
      {"max_body_bytes too small", with("max_body_bytes", 10), "max_body_bytes"},
      {"max_body_bytes a fraction", with("max_body_bytes", 1024.5), "max_body_bytes"},
      {"max_body_bytes a string", with("max_body_bytes", "64k"), "max_body_bytes"},
      {"max_header_bytes too large", with("max_header_bytes", 2 << 20), "max_header_bytes"},
      {"read_timeout_ms zero", with("read_timeout_ms", 0), "read_timeout_ms"},
      {"idle_timeout_ms negative", with("idle_timeout_ms", -1), "idle_timeout_ms"},
      {"max_connections zero", with("max_connections", 0), "max_connections"},
      {"max_wait_s too long", with("max_wait_s", 301), "max_wait_s"},
      {"case_deadline_ms too short", with("case_deadline_ms", 99), "case_deadline_ms"},
      {"case_retention_s zero", with("case_retention_s", 0), "case_retention_s"},
      {"max_cases zero", with("max_cases", 0), "max_cases"},
      {"idempotency_retention_s zero", with("idempotency_retention_s", 0), "idempotency_retention_s"},
      {"max_skew_s zero", with("max_skew_s", 0), "max_skew_s"},
      {"replay_cache_limit zero", with("replay_cache_limit", 0), "replay_cache_limit"},
      {"log with an unknown key", with("log", {{"colour", true}}), "log"},
      {"log with an unknown level", with("log", {{"level", "loud"}}), "log"},
      {"log with an unknown format", with("log", {{"format", "xml"}}), "log"},
      {"no tenants", json::object(), "tenants"},
      {"tenants empty", json{{"tenants", json::object()}}, "tenants"},
      {"tenants an array", json{{"tenants", json::array({"acme"})}}, "tenants"},
      {"tenant name with a space", json{{"tenants", {{"acme corp", {{"secrets", {kSecret}}}}}}}, "tenants.acme corp"},
      {"tenant name upper case", json{{"tenants", {{"Acme", {{"secrets", {kSecret}}}}}}}, "tenants.Acme"},
      {"tenant not an object", tenant(kSecret), "tenants.acme"},
      {"tenant without credentials", tenant({{"burst", 5}}), "tenants.acme"},
      {"tenant with empty credentials", tenant({{"secrets", json::array()}, {"bearer_sha256", json::array()}}), "tenants.acme"},
      {"unknown tenant key", tenant({{"secrets", {kSecret}}, {"secret", kSecret}}), "tenants.acme.secret"},
      {"short secret", tenant({{"secrets", {"too-short-0123456789abcdef01234"}}}), "tenants.acme.secrets"},
      {"empty secret", tenant({{"secrets", {""}}}), "tenants.acme.secrets"},
      {"three secrets", tenant({{"secrets", {kSecret, kNewSecret, kOtherSecret}}}), "tenants.acme.secrets"},
      {"secrets not an array", tenant({{"secrets", kSecret}}), "tenants.acme.secrets"},
      {"a secret not a string", tenant({{"secrets", {1}}}), "tenants.acme.secrets"},
      {"bearer hex too short", tenant({{"bearer_sha256", {hex.substr(1)}}}), "tenants.acme.bearer_sha256"},
      {"bearer not hex", tenant({{"bearer_sha256", {std::string(64, 'g')}}}), "tenants.acme.bearer_sha256"},
      {"bearer a token, not its hash", tenant({{"bearer_sha256", {kToken}}}), "tenants.acme.bearer_sha256"},
      {"bearer not an array", tenant({{"bearer_sha256", hex}}), "tenants.acme.bearer_sha256"},
      {"rate_per_s zero", tenant({{"secrets", {kSecret}}, {"rate_per_s", 0}}), "tenants.acme.rate_per_s"},
      {"burst below one", tenant({{"secrets", {kSecret}}, {"burst", 0.5}}), "tenants.acme.burst"},
      {"customer_rate_per_s a string", tenant({{"secrets", {kSecret}}, {"customer_rate_per_s", "2"}}), "tenants.acme.customer_rate_per_s"},
      {"customer_burst too large", tenant({{"secrets", {kSecret}}, {"customer_burst", 1e8}}), "tenants.acme.customer_burst"},
      {"max_in_flight zero", tenant({{"secrets", {kSecret}}, {"max_in_flight", 0}}), "tenants.acme.max_in_flight"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    try {
      parse(r.config);
      ADD_FAILURE() << "accepted " << r.config.dump();
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind(r.key + ": ", 0), 0u) << what;
      EXPECT_EQ(what.find(kSecret), std::string::npos) << what;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not std::invalid_argument: " << e.what();
    }
  }
}

TEST(Settings, ToJsonShowsTheSettingsButNoSecret) {
  json j = minimal();
  j["tenants"]["acme"]["secrets"] = {kSecret, kNewSecret};
  j["tenants"]["acme"]["bearer_sha256"] = {to_hex(sha256(kToken))};
  j["tenants"]["globex"] = {{"secrets", {kOtherSecret}}, {"burst", 3}};
  j["listen"] = "0.0.0.0:9090";
  const json out = to_json(parse(j));
  const std::string text = out.dump();
  for (const char* secret : {kSecret, kNewSecret, kOtherSecret, kToken}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << text;
  }
  EXPECT_EQ(out.at("tenants").at("acme").at("secrets"), json({"***", "***"}));
  EXPECT_EQ(out.at("tenants").at("globex").at("secrets"), json({"***"}));
  // The hashes are not secrets: they are what the config holds, and what an operator compares.
  EXPECT_EQ(out.at("tenants").at("acme").at("bearer_sha256"), json({to_hex(sha256(kToken))}));
  EXPECT_EQ(out.at("tenants").at("globex").at("burst"), 3);
  EXPECT_EQ(out.at("listen"), "0.0.0.0:9090");
  EXPECT_EQ(out.at("tls"), json::object());
  EXPECT_EQ(out.at("max_wait_s"), 30);
  EXPECT_EQ(out.at("log").at("level"), "info");
}

}  // namespace
}  // namespace edge
