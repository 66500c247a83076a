#pragma once
// Kafka for process tests: the mock cluster process (casebus-kafka-mock: librdkafka's mock
// cluster, the real protocol on loopback), a producer of test events and a reader of topics.
#include "process.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace testsupport {

struct KafkaRecord {
  std::string topic, key, value;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::map<std::string, std::string> headers;
};

class KafkaCluster final {
 public:
  // Topics as "name:partitions".
  KafkaCluster(const TempDir& dir, const std::vector<std::string>& topics);
  ~KafkaCluster();
  const std::string& brokers() const { return brokers_; }

  // Produces and waits for the acknowledgement of each (throws on failure). Partition -1: by key.
  void produce(const std::string& topic, const std::string& key, const std::string& value, std::int32_t partition = -1);
  void produce_all(const std::string& topic, const std::vector<std::pair<std::string, std::string>>& records);
  // Reads the topic from the beginning (every partition) until at least n records came or the
  // timeout passed; returns what came.
  std::vector<KafkaRecord> read(const std::string& topic, std::size_t n, std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Process> process_;
  std::string brokers_;
  std::unique_ptr<Impl> impl_;
};

std::string kafka_mock_binary();
std::string ingest_binary();

}  // namespace testsupport
