#include "kafka.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <stdexcept>

namespace testsupport {

std::string kafka_mock_binary() {
  return CASEBUS_KAFKA_MOCK_BIN;
}

std::string ingest_binary() {
  return CASEBUS_INGEST_BIN;
}

namespace {

std::unique_ptr<RdKafka::Conf> conf_for(const std::string& brokers) {
  std::unique_ptr<RdKafka::Conf> c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  c->set("bootstrap.servers", brokers, err);
  return c;
}

}  // namespace

struct KafkaCluster::Impl {
  std::unique_ptr<RdKafka::Producer> producer;
  int group = 0;
};

KafkaCluster::KafkaCluster(const TempDir& dir, const std::vector<std::string>& topics) : impl_(std::make_unique<Impl>()) {
  process_ = std::make_unique<Process>("kafka-mock", kafka_mock_binary(), topics, dir);
  brokers_ = process_->wait_ready().at("CASEBUS_KAFKA_BROKERS");
  auto conf = conf_for(brokers_);
  std::string err;
  conf->set("enable.idempotence", "true", err);
  conf->set("linger.ms", "1", err);
  impl_->producer.reset(RdKafka::Producer::create(conf.get(), err));
  if (!impl_->producer) throw std::runtime_error("test producer: " + err);
}

KafkaCluster::~KafkaCluster() {
  if (impl_->producer) impl_->producer->flush(2000);
  impl_->producer.reset();
  dump_on_failure({process_.get()});
}

void KafkaCluster::produce(const std::string& topic, const std::string& key, const std::string& value, std::int32_t partition) {
  const auto err = impl_->producer->produce(topic, partition < 0 ? RdKafka::Topic::PARTITION_UA : partition,
                                            RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()), value.size(),
                                            key.data(), key.size(), 0, nullptr, nullptr);
  if (err != RdKafka::ERR_NO_ERROR) throw std::runtime_error("produce: " + RdKafka::err2str(err));
  if (impl_->producer->flush(10000) != RdKafka::ERR_NO_ERROR) throw std::runtime_error("produce: not acknowledged in 10 s");
}

void KafkaCluster::produce_all(const std::string& topic, const std::vector<std::pair<std::string, std::string>>& records) {
  for (const auto& [k, v] : records) {
    for (int tries = 0;; ++tries) {
      const auto err = impl_->producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                                const_cast<char*>(v.data()), v.size(), k.data(), k.size(), 0, nullptr, nullptr);
      if (err == RdKafka::ERR_NO_ERROR) break;
      if (err != RdKafka::ERR__QUEUE_FULL || tries > 1000) throw std::runtime_error("produce: " + RdKafka::err2str(err));
      impl_->producer->poll(10);
    }
  }
  if (impl_->producer->flush(30000) != RdKafka::ERR_NO_ERROR) throw std::runtime_error("produce: not acknowledged in 30 s");
}

std::vector<KafkaRecord> KafkaCluster::read(const std::string& topic, std::size_t n, std::chrono::milliseconds timeout) {
  auto conf = conf_for(brokers_);
  std::string err;
  conf->set("group.id", "casebus-test-reader-" + std::to_string(++impl_->group), err);
  conf->set("auto.offset.reset", "earliest", err);
  conf->set("enable.auto.commit", "false", err);
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!c) throw std::runtime_error("test consumer: " + err);
  c->subscribe({topic});
  std::vector<KafkaRecord> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(c->consume(100));
    if (!m || m->err() != RdKafka::ERR_NO_ERROR) continue;
    KafkaRecord r;
    r.topic = m->topic_name();
    r.partition = m->partition();
    r.offset = m->offset();
    if (m->key()) r.key = *m->key();
    r.value.assign(static_cast<const char*>(m->payload()), m->len());
    if (auto* h = m->headers()) {
      for (const auto& x : h->get_all()) r.headers[x.key()] = std::string(static_cast<const char*>(x.value()), x.value_size());
    }
    out.push_back(std::move(r));
  }
  c->close();
  return out;
}

}  // namespace testsupport
