#include "settings.hpp"

#include <unistd.h>

namespace ingest {

using nlohmann::json;

namespace {

std::chrono::milliseconds ms_at(const json& j, const char* key, std::int64_t min, std::int64_t max, std::chrono::milliseconds dflt) {
  auto it = j.find(key);
  if (it == j.end()) return dflt;
  const auto v = common::json::integer_at(*it, key);
  if (v < min || v > max) throw std::invalid_argument(std::string(key) + " must be between " + std::to_string(min) + " and " + std::to_string(max));
  return std::chrono::milliseconds(v);
}

std::size_t size_at(const json& j, const char* key, std::int64_t min, std::int64_t max, std::size_t dflt) {
  auto it = j.find(key);
  if (it == j.end()) return dflt;
  const auto v = common::json::integer_at(*it, key);
  if (v < min || v > max) throw std::invalid_argument(std::string(key) + " must be between " + std::to_string(min) + " and " + std::to_string(max));
  return static_cast<std::size_t>(v);
}

bool topic_name_ok(const std::string& t) {
  return !t.empty() && t.size() <= 249 && t.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == std::string::npos;
}

}  // namespace

void from_json(const json& j, Settings& s) {
  common::json::reject_unknown_keys(j, {"brokers", "group_id", "broker_endpoint", "curve", "workflow", "topics",
                                        "dead_letter_topic", "max_in_flight", "max_event_bytes", "commit_interval_ms",
                                        "submit_timeout_ms", "outbox", "kafka", "kafka_consumer", "kafka_producer",
                                        "instance", "log"});
  common::json::get_optional(j, "brokers", s.brokers);
  common::json::get_optional(j, "group_id", s.group_id);
  common::json::get_optional(j, "broker_endpoint", s.broker_endpoint);
  if (auto it = j.find("curve"); it != j.end()) from_json(*it, s.curve);
  common::json::get_optional(j, "workflow", s.workflow);
  common::json::get_optional(j, "dead_letter_topic", s.dead_letter_topic);
  common::json::get_optional(j, "instance", s.instance);
  s.max_in_flight = size_at(j, "max_in_flight", 1, 100000, s.max_in_flight);
  s.max_event_bytes = size_at(j, "max_event_bytes", 256, 1 << 20, s.max_event_bytes);
  s.commit_interval = ms_at(j, "commit_interval_ms", 10, 60000, s.commit_interval);
  s.submit_timeout = ms_at(j, "submit_timeout_ms", 100, 600000, s.submit_timeout);
  if (auto it = j.find("topics"); it != j.end()) {
    if (!it->is_array()) throw std::invalid_argument("topics must be an array of {\"name\", \"mapping\"}");
    s.topics.clear();
    for (std::size_t i = 0; i < it->size(); ++i) {
      const auto& t = (*it)[i];
      const std::string where = "topics[" + std::to_string(i) + "]";
      if (!t.is_object()) throw std::invalid_argument(where + " must be an object");
      common::json::reject_unknown_keys(t, {"name", "mapping"});
      TopicSettings ts;
      common::json::get_optional(t, "name", ts.name);
      if (!topic_name_ok(ts.name)) throw std::invalid_argument(where + ".name must be a Kafka topic name");
      if (!t.contains("mapping")) throw std::invalid_argument(where + ".mapping is required");
      ts.mapping = mapping_from_json(t.at("mapping"), where + ".mapping");
      s.topics.push_back(std::move(ts));
    }
  }
  if (auto it = j.find("outbox"); it != j.end()) {
    const auto& o = *it;
    if (!o.is_object()) throw std::invalid_argument("outbox must be an object");
    common::json::reject_unknown_keys(o, {"outcome_topic", "action_topic", "poll_ms", "batch", "lease_ms"});
    common::json::get_optional(o, "outcome_topic", s.outbox.outcome_topic);
    common::json::get_optional(o, "action_topic", s.outbox.action_topic);
    s.outbox.poll = ms_at(o, "poll_ms", 10, 60000, s.outbox.poll);
    s.outbox.batch = size_at(o, "batch", 1, 1000, s.outbox.batch);
    s.outbox.lease = ms_at(o, "lease_ms", 1000, 600000, s.outbox.lease);
    for (const auto* t : {&s.outbox.outcome_topic, &s.outbox.action_topic}) {
      if (!t->empty() && !topic_name_ok(*t)) throw std::invalid_argument("outbox topics must be Kafka topic names");
    }
  }
  for (auto [key, out] : {std::pair{"kafka", &s.kafka}, std::pair{"kafka_consumer", &s.kafka_consumer},
                          std::pair{"kafka_producer", &s.kafka_producer}}) {
    auto it = j.find(key);
    if (it == j.end()) continue;
    if (!it->is_object()) throw std::invalid_argument(std::string(key) + " must be an object of librdkafka properties (strings)");
    for (auto p = it->begin(); p != it->end(); ++p) {
      const std::string where = std::string(key) + "." + p.key();
      if (!p->is_string()) throw std::invalid_argument(where + " must be a string");
      if (p.key() == "enable.auto.commit" || p.key() == "enable.auto.offset.store" || p.key() == "group.id" ||
          p.key() == "bootstrap.servers" || p.key() == "enable.idempotence") {
        throw std::invalid_argument(where + " is set by casebus-ingest itself");
      }
      (*out)[p.key()] = p->get<std::string>();
    }
  }
  common::json::get_optional(j, "log", s.log);
  if (s.brokers.empty()) throw std::invalid_argument("brokers must name the Kafka bootstrap servers");
  if (s.group_id.empty()) throw std::invalid_argument("group_id must not be empty");
  if (!s.topics.empty() && !topic_name_ok(s.dead_letter_topic)) {
    throw std::invalid_argument("dead_letter_topic must name a Kafka topic: bad events go there, never dropped");
  }
  if (s.topics.empty() && !s.outbox.enabled()) throw std::invalid_argument("nothing to do: configure topics, outbox, or both");
  if (s.instance.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    s.instance = std::string(host) + ":" + std::to_string(::getpid());
  }
}

json to_json(const Settings& s) {
  json topics = json::array();
  for (const auto& t : s.topics) topics.push_back({{"name", t.name}, {"mapping", to_json(t.mapping)}});
  auto masked = [](const std::map<std::string, std::string>& m) {
    json j = json::object();
    for (const auto& [k, v] : m) j[k] = (k.find("password") != std::string::npos || k.find("secret") != std::string::npos) ? "***" : v;
    return j;
  };
  return {{"brokers", s.brokers},
          {"group_id", s.group_id},
          {"broker_endpoint", s.broker_endpoint},
          {"curve", s.curve},
          {"workflow", s.workflow},
          {"topics", topics},
          {"dead_letter_topic", s.dead_letter_topic},
          {"max_in_flight", s.max_in_flight},
          {"max_event_bytes", s.max_event_bytes},
          {"commit_interval_ms", s.commit_interval.count()},
          {"submit_timeout_ms", s.submit_timeout.count()},
          {"outbox",
           {{"outcome_topic", s.outbox.outcome_topic},
            {"action_topic", s.outbox.action_topic},
            {"poll_ms", s.outbox.poll.count()},
            {"batch", s.outbox.batch},
            {"lease_ms", s.outbox.lease.count()}}},
          {"kafka", masked(s.kafka)},
          {"kafka_consumer", masked(s.kafka_consumer)},
          {"kafka_producer", masked(s.kafka_producer)},
          {"instance", s.instance},
          {"log", s.log}};
}

}  // namespace ingest
