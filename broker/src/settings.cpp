#include "broker/settings.hpp"

#include "common/policy/policy.hpp"
#include "workflow.hpp"

#include <stdexcept>

namespace broker {
namespace {

// Durations are bounded above too (30 days), so time arithmetic cannot overflow.
void ms(const nlohmann::json& j, const char* key, std::chrono::milliseconds& out, std::int64_t min) {
  constexpr std::int64_t kMax = 30LL * 24 * 3600 * 1000;
  auto it = j.find(key);
  if (it == j.end()) return;
  const auto v = common::json::integer_at(*it, key);
  if (v < min || v > kMax) {
    throw std::invalid_argument(std::string(key) + " must be between " + std::to_string(min) + " and " + std::to_string(kMax));
  }
  out = std::chrono::milliseconds(v);
}

template <class T>
void bounded(const nlohmann::json& j, const char* key, T& out, long long min, long long max) {
  auto it = j.find(key);
  if (it == j.end()) return;
  const auto v = common::json::integer_at(*it, key);
  if (v < min || v > max) {
    throw std::invalid_argument(std::string(key) + " must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  out = static_cast<T>(v);
}

}  // namespace

void from_json(const nlohmann::json& j, Settings& s) {
  common::json::reject_unknown_keys(
      j, {"client_endpoint", "agent_endpoint", "max_message_bytes", "shutdown_grace_ms", "heartbeat_interval_ms",
          "heartbeat_liveness", "queue_limit", "max_cases", "max_attempts", "retry_backoff_initial_ms",
          "retry_backoff_max_ms", "default_deadline_ms", "max_deadline_ms", "max_hops", "busy_poll_us", "storage", "curve", "outbox", "log", "workflows", "policy"});
  common::json::get_optional(j, "client_endpoint", s.client_endpoint);
  common::json::get_optional(j, "agent_endpoint", s.agent_endpoint);
  bounded(j, "max_message_bytes", s.max_message_bytes, 4096, 64LL << 20);
  s.core.max_message_bytes = static_cast<std::size_t>(s.max_message_bytes);
  ms(j, "shutdown_grace_ms", s.shutdown_grace, 0);
  if (auto it = j.find("busy_poll_us"); it != j.end()) {
    const auto v = common::json::integer_at(*it, "busy_poll_us");
    if (v < 0 || v > 10000) throw std::invalid_argument("busy_poll_us must be between 0 and 10000");
    s.busy_poll = std::chrono::microseconds(v);
  }
  auto& c = s.core;
  ms(j, "heartbeat_interval_ms", c.heartbeat_interval, 10);
  if (c.heartbeat_interval > std::chrono::minutes(10)) throw std::invalid_argument("heartbeat_interval_ms must be at most 600000");
  bounded(j, "heartbeat_liveness", c.heartbeat_liveness, 1, 100);
  bounded(j, "queue_limit", c.queue_limit, 1, 10'000'000);
  bounded(j, "max_cases", c.max_cases, 1, 100'000'000);
  bounded(j, "max_attempts", c.max_attempts, 1, 1000);
  ms(j, "retry_backoff_initial_ms", c.retry_backoff_initial, 1);
  ms(j, "retry_backoff_max_ms", c.retry_backoff_max, 1);
  ms(j, "default_deadline_ms", c.default_deadline, 1);
  ms(j, "max_deadline_ms", c.max_deadline, 1);
  bounded(j, "max_hops", c.max_hops, 1, 64);
  if (auto it = j.find("storage"); it != j.end()) {
    const auto& st = *it;
    if (!st.is_object()) throw std::invalid_argument("storage must be an object");
    common::json::reject_unknown_keys(st, {"mode", "state_dir", "retention_s", "dead_letter_retention_s", "max_ended_cases"});
    auto& g = s.storage;
    common::json::get_optional(st, "mode", g.mode);
    if (g.mode != "sqlite" && g.mode != "memory") throw std::invalid_argument("storage.mode must be \"sqlite\" or \"memory\"");
    common::json::get_optional(st, "state_dir", g.state_dir);
    if (g.mode == "sqlite" && g.state_dir.empty()) throw std::invalid_argument("storage.state_dir must not be empty");
    std::int64_t secs = g.retention.count();
    bounded(st, "retention_s", secs, 1, 3650LL * 86400);
    g.retention = std::chrono::seconds(secs);
    secs = g.dead_letter_retention.count();
    bounded(st, "dead_letter_retention_s", secs, 1, 3650LL * 86400);
    g.dead_letter_retention = std::chrono::seconds(secs);
    bounded(st, "max_ended_cases", g.max_ended_cases, 0, 1'000'000'000);
  }
  if (s.storage.mode == "memory" && s.storage.max_ended_cases == 0) s.storage.max_ended_cases = 10000;
  if (auto it = j.find("curve"); it != j.end()) from_json(*it, s.curve);
  if (auto it = j.find("outbox"); it != j.end()) {
    if (!it->is_object()) throw std::invalid_argument("outbox must be an object: {\"enabled\": true}");
    common::json::reject_unknown_keys(*it, {"enabled"});
    common::json::get_optional(*it, "enabled", c.outbox);
  }
  common::json::get_optional(j, "log", s.log);
  if (s.client_endpoint.empty() || s.agent_endpoint.empty()) throw std::invalid_argument("endpoints must not be empty");
  const bool wildcard = s.client_endpoint.ends_with(":*") || s.client_endpoint.ends_with(":0");
  if (!wildcard && s.client_endpoint == s.agent_endpoint) throw std::invalid_argument("client_endpoint and agent_endpoint must differ");
  if (c.retry_backoff_max < c.retry_backoff_initial) throw std::invalid_argument("retry_backoff_max_ms must be >= retry_backoff_initial_ms");
  if (c.max_deadline < c.default_deadline) throw std::invalid_argument("max_deadline_ms must be >= default_deadline_ms");
  common::policy::Config policy = common::policy::default_config();
  if (auto it = j.find("policy"); it != j.end()) common::policy::from_json(*it, policy);
  s.policy_json = common::policy::to_json(policy);
  c.policy = std::make_shared<const common::policy::Policy>(std::move(policy));
  s.workflows_json = j.contains("workflows") ? j.at("workflows") : nlohmann::json::object();
  c.workflows = std::make_shared<const Workflows>(parse_workflows(s.workflows_json, c.max_hops));
}

nlohmann::json to_json(const Settings& s) {
  const auto& c = s.core;
  return nlohmann::json{{"client_endpoint", s.client_endpoint},
                        {"agent_endpoint", s.agent_endpoint},
                        {"max_message_bytes", s.max_message_bytes},
                        {"shutdown_grace_ms", s.shutdown_grace.count()},
                        {"busy_poll_us", s.busy_poll.count()},
                        {"heartbeat_interval_ms", c.heartbeat_interval.count()},
                        {"heartbeat_liveness", c.heartbeat_liveness},
                        {"queue_limit", c.queue_limit},
                        {"max_cases", c.max_cases},
                        {"max_attempts", c.max_attempts},
                        {"retry_backoff_initial_ms", c.retry_backoff_initial.count()},
                        {"retry_backoff_max_ms", c.retry_backoff_max.count()},
                        {"default_deadline_ms", c.default_deadline.count()},
                        {"max_deadline_ms", c.max_deadline.count()},
                        {"max_hops", c.max_hops},
                        {"storage",
                         {{"mode", s.storage.mode},
                          {"state_dir", s.storage.state_dir},
                          {"retention_s", s.storage.retention.count()},
                          {"dead_letter_retention_s", s.storage.dead_letter_retention.count()},
                          {"max_ended_cases", s.storage.max_ended_cases}}},
                        {"curve", s.curve},
                        {"outbox", {{"enabled", c.outbox}}},
                        {"log", s.log},
                        {"workflows", s.workflows_json},
                        {"policy", s.policy_json}};
}

}  // namespace broker
