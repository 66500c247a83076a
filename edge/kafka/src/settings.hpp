#pragma once
// casebus-ingest's configuration (docs/event-bus.md#configuration).
#include "mapping.hpp"

#include "common/bus/curve.hpp"
#include "common/util/log.hpp"

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace ingest {

struct TopicSettings {
  std::string name;
  Mapping mapping;
};

struct OutboxSettings {
  std::string outcome_topic;  // empty: outcomes are not published
  std::string action_topic;   // empty: actions are not published
  std::chrono::milliseconds poll{200};
  std::size_t batch = 500;
  std::chrono::milliseconds lease{30000};
  bool enabled() const { return !outcome_topic.empty() || !action_topic.empty(); }
};

struct Settings {
  std::string brokers = "127.0.0.1:9092";  // Kafka bootstrap servers
  std::string group_id = "casebus-ingest";
  std::string broker_endpoint = "tcp://127.0.0.1:7101";  // the casebus broker's client endpoint
  common::bus::CurveClientSettings curve;
  std::string workflow = "banking";
  std::vector<TopicSettings> topics;
  std::string dead_letter_topic;  // required when topics are consumed
  std::size_t max_in_flight = 1000;  // cases submitted and not yet accepted, over all partitions
  std::size_t max_event_bytes = 64 * 1024;
  std::chrono::milliseconds commit_interval{500};
  std::chrono::milliseconds submit_timeout{10000};
  OutboxSettings outbox;
  // librdkafka properties for both clients (security.protocol, sasl.*, ssl.*, ...), and for the
  // consumer only (session.timeout.ms, ...) or the producer only (linger.ms, ...).
  std::map<std::string, std::string> kafka, kafka_consumer, kafka_producer;
  std::string instance;  // outbox lease owner and client.id; default <hostname>:<pid>
  common::log::Settings log;
};

// Strict: unknown keys and bad values throw std::invalid_argument naming the key.
void from_json(const nlohmann::json& j, Settings& s);
nlohmann::json to_json(const Settings& s);

}  // namespace ingest
