// casebus-kafka-mock: a Kafka cluster for tests and benchmarks, on loopback, from librdkafka's own
// mock cluster (a real implementation of the Kafka protocol: produce, fetch, consumer groups,
// offset commits, idempotent producers). Creates the topics given as NAME:PARTITIONS, reports the
// bootstrap servers in its sd_notify READY=1 datagram (CASEBUS_KAFKA_BROKERS=...) and on stdout,
// and runs until SIGTERM or SIGINT.
//
//   casebus-kafka-mock [--brokers N] topic:partitions ...
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <systemd/sd-daemon.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  int brokers = 1;
  std::vector<std::pair<std::string, int>> topics;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--brokers" && i + 1 < argc) {
      brokers = std::atoi(argv[++i]);
      continue;
    }
    const auto colon = a.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      std::fprintf(stderr, "casebus-kafka-mock: expected topic:partitions, got %s\n", a.c_str());
      return 2;
    }
    topics.emplace_back(a.substr(0, colon), std::atoi(a.c_str() + colon + 1));
  }
  // Signals are taken synchronously below; block them before librdkafka starts its threads.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The mock cluster needs a client instance to live in; a producer that never produces.
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    std::fprintf(stderr, "casebus-kafka-mock: %s\n", err);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (!cluster) {
    std::fprintf(stderr, "casebus-kafka-mock: cannot create the mock cluster\n");
    return 1;
  }
  for (const auto& [name, partitions] : topics) {
    if (rd_kafka_mock_topic_create(cluster, name.c_str(), partitions, 1) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "casebus-kafka-mock: cannot create topic %s\n", name.c_str());
      return 1;
    }
  }
  const std::string bootstrap = rd_kafka_mock_cluster_bootstraps(cluster);
  std::printf("%s\n", bootstrap.c_str());
  std::fflush(stdout);
  sd_notifyf(0, "READY=1\nSTATUS=mock Kafka cluster at %s\nCASEBUS_KAFKA_BROKERS=%s", bootstrap.c_str(), bootstrap.c_str());
  int sig = 0;
  sigwait(&set, &sig);
  sd_notify(0, "STOPPING=1");
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
