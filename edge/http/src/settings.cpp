#include "settings.hpp"

#include "common/bus/envelope.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>

namespace edge {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& key, const std::string& why) {
  throw std::invalid_argument(key + ": " + why);
}

template <class T>
T number(const json& v, const std::string& key, T min, T max) {
  if (!v.is_number() || (std::is_integral_v<T> && !v.is_number_integer())) bad(key, "must be a number");
  const double d = v.get<double>();
  if (d < static_cast<double>(min) || d > static_cast<double>(max)) bad(key, fmt::format("must be between {} and {}", min, max));
  return v.get<T>();
}

std::string text(const json& v, const std::string& key) {
  if (!v.is_string()) bad(key, "must be a string");
  return v.get<std::string>();
}

Tenant tenant_of(const std::string& name, const json& j) {
  const std::string at = "tenants." + name;
  if (!common::bus::valid_tenant(name)) bad(at, "a tenant name is 1-64 characters of a-z 0-9 _ -");
  if (!j.is_object()) bad(at, "must be an object");
  Tenant t;
  t.credentials.tenant = name;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string key = at + "." + it.key();
    const json& v = *it;
    if (it.key() == "secrets") {
      if (!v.is_array()) bad(key, "must be an array of strings");
      for (const auto& s : v) t.credentials.secrets.push_back(text(s, key));
      // Authenticator checks these too, but its message would not name the key.
      if (t.credentials.secrets.size() > 2) bad(key, "at most two active secrets (one old, one new)");
      for (const auto& s : t.credentials.secrets) {
        if (s.size() < 32) bad(key, "a secret must be at least 32 bytes");
      }
    } else if (it.key() == "bearer_sha256") {
      if (!v.is_array()) bad(key, "must be an array of hex SHA-256 digests");
      for (const auto& s : v) {
        auto d = digest_from_hex(text(s, key));
        if (!d) bad(key, "must hold 64 hex digits each (echo -n \"$TOKEN\" | sha256sum)");
        t.credentials.bearer_sha256.push_back(*d);
      }
    } else if (it.key() == "rate_per_s") {
      t.limits.rate_per_s = number<double>(v, key, 0.001, 1e6);
    } else if (it.key() == "burst") {
      t.limits.burst = number<double>(v, key, 1, 1e7);
    } else if (it.key() == "customer_rate_per_s") {
      t.limits.customer_rate_per_s = number<double>(v, key, 0.001, 1e6);
    } else if (it.key() == "customer_burst") {
      t.limits.customer_burst = number<double>(v, key, 1, 1e7);
    } else if (it.key() == "max_in_flight") {
      t.limits.max_in_flight = number<std::size_t>(v, key, 1, 10'000'000);
    } else {
      bad(key, "unknown key (secrets, bearer_sha256, rate_per_s, burst, customer_rate_per_s, customer_burst, max_in_flight)");
    }
  }
  if (t.credentials.secrets.empty() && t.credentials.bearer_sha256.empty()) bad(at, "needs secrets or bearer_sha256");
  return t;
}

}  // namespace

void from_json(const json& j, Settings& s) {
  if (!j.is_object()) bad("config", "must be a JSON object");
  auto ms = [](const json& v, const std::string& key, std::int64_t min, std::int64_t max) {
    return std::chrono::milliseconds(number<std::int64_t>(v, key, min, max));
  };
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = *it;
    if (k == "listen") {
      const std::string l = text(v, k);
      const auto colon = l.rfind(':');
      if (colon == std::string::npos || colon == 0) bad(k, "must be <address>:<port>, e.g. 127.0.0.1:8080");
      s.listen_address = l.substr(0, colon);
      // Digits only: std::stoi alone would take " 8080" or "8080x" as 8080.
      const std::string port = l.substr(colon + 1);
      if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
          std::stoi(port) > 65535) {
        bad(k, "the port must be 0-65535");
      }
      s.listen_port = static_cast<std::uint16_t>(std::stoi(port));
    } else if (k == "threads") {
      s.threads = number<std::size_t>(v, k, 1, 64);
    } else if (k == "broker_endpoint") {
      s.broker_endpoint = text(v, k);
    } else if (k == "curve") {
      from_json(v, s.curve);
    } else if (k == "workflow") {
      s.workflow = text(v, k);
      if (!common::bus::valid_agent_kind(s.workflow)) bad(k, "must be a workflow name like banking");
    } else if (k == "required_agent_kinds") {
      if (!v.is_array()) bad(k, "must be an array of agent kinds");
      s.required_agent_kinds.clear();
      for (const auto& x : v) s.required_agent_kinds.push_back(text(x, k));
    } else if (k == "tls") {
      if (!v.is_object()) bad(k, "must be {\"certificate\": path, \"private_key\": path}");
      for (auto t = v.begin(); t != v.end(); ++t) {
        if (t.key() == "certificate") {
          s.tls_certificate = text(*t, "tls.certificate");
        } else if (t.key() == "private_key") {
          s.tls_private_key = text(*t, "tls.private_key");
        } else {
          bad("tls." + t.key(), "unknown key (certificate, private_key)");
        }
      }
      if (s.tls_certificate.empty() != s.tls_private_key.empty()) bad(k, "needs both certificate and private_key");
    } else if (k == "max_body_bytes") {
      s.max_body_bytes = number<std::size_t>(v, k, 256, 16 << 20);
    } else if (k == "max_header_bytes") {
      s.max_header_bytes = number<std::size_t>(v, k, 1024, 1 << 20);
    } else if (k == "read_timeout_ms") {
      s.read_timeout = ms(v, k, 100, 600000);
    } else if (k == "idle_timeout_ms") {
      s.idle_timeout = ms(v, k, 100, 3600000);
    } else if (k == "max_connections") {
      s.max_connections = number<std::size_t>(v, k, 1, 1'000'000);
    } else if (k == "max_wait_s") {
      s.max_wait = std::chrono::seconds(number<std::int64_t>(v, k, 0, 300));
    } else if (k == "case_deadline_ms") {
      s.case_deadline = ms(v, k, 100, 86400000);
    } else if (k == "case_retention_s") {
      s.case_retention = std::chrono::seconds(number<std::int64_t>(v, k, 1, 30 * 86400));
    } else if (k == "max_cases") {
      s.max_cases = number<std::size_t>(v, k, 1, 100'000'000);
    } else if (k == "idempotency_retention_s") {
      s.idempotency_retention = std::chrono::seconds(number<std::int64_t>(v, k, 1, 30 * 86400));
    } else if (k == "max_skew_s") {
      s.auth.max_skew = std::chrono::seconds(number<std::int64_t>(v, k, 1, 3600));
    } else if (k == "replay_cache_limit") {
      s.auth.replay_cache_limit = number<std::size_t>(v, k, 1, 100'000'000);
    } else if (k == "tenants") {
      if (!v.is_object() || v.empty()) bad(k, "must be an object of tenants");
      s.tenants.clear();
      for (auto t = v.begin(); t != v.end(); ++t) s.tenants.push_back(tenant_of(t.key(), *t));
    } else if (k == "log") {
      try {
        v.get_to(s.log);
      } catch (const nlohmann::json::exception& e) {
        bad(k, e.what());
      } catch (const std::invalid_argument& e) {
        bad(k, e.what());
      }
    } else {
      bad(k, "unknown key");
    }
  }
  if (s.tenants.empty()) bad("tenants", "at least one tenant is required (see deploy/config/edge.json)");
  if (s.case_deadline > s.max_wait + std::chrono::hours(24)) bad("case_deadline_ms", "is too long");
  // The secrets and keys are checked here, before any socket opens.
  std::vector<TenantCredentials> creds;
  for (const auto& t : s.tenants) creds.push_back(t.credentials);
  Authenticator check(std::move(creds), s.auth);
  for (const auto* path : {&s.tls_certificate, &s.tls_private_key}) {
    if (!path->empty() && !std::ifstream(*path)) bad("tls", "cannot read " + *path);
  }
}

json to_json(const Settings& s) {
  json tenants = json::object();
  for (const auto& t : s.tenants) {
    json hashes = json::array();
    for (const auto& d : t.credentials.bearer_sha256) hashes.push_back(to_hex(d));
    tenants[t.credentials.tenant] = {{"secrets", json::array()},
                                     {"bearer_sha256", hashes},
                                     {"rate_per_s", t.limits.rate_per_s},
                                     {"burst", t.limits.burst},
                                     {"customer_rate_per_s", t.limits.customer_rate_per_s},
                                     {"customer_burst", t.limits.customer_burst},
                                     {"max_in_flight", t.limits.max_in_flight}};
    for (std::size_t i = 0; i < t.credentials.secrets.size(); ++i) tenants[t.credentials.tenant]["secrets"].push_back("***");
  }
  json tls = json::object();
  if (!s.tls_certificate.empty()) tls = {{"certificate", s.tls_certificate}, {"private_key", s.tls_private_key}};
  return json{{"listen", s.listen_address + ":" + std::to_string(s.listen_port)},
              {"threads", s.threads},
              {"broker_endpoint", s.broker_endpoint},
              {"curve", s.curve},
              {"workflow", s.workflow},
              {"required_agent_kinds", s.required_agent_kinds},
              {"tls", tls},
              {"max_body_bytes", s.max_body_bytes},
              {"max_header_bytes", s.max_header_bytes},
              {"read_timeout_ms", s.read_timeout.count()},
              {"idle_timeout_ms", s.idle_timeout.count()},
              {"max_connections", s.max_connections},
              {"max_wait_s", s.max_wait.count()},
              {"case_deadline_ms", s.case_deadline.count()},
              {"case_retention_s", s.case_retention.count()},
              {"max_cases", s.max_cases},
              {"idempotency_retention_s", s.idempotency_retention.count()},
              {"max_skew_s", s.auth.max_skew.count()},
              {"replay_cache_limit", s.auth.replay_cache_limit},
              {"tenants", tenants},
              {"log", s.log}};
}

}  // namespace edge
