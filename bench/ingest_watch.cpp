// bench/ingest_watch: the clock of bench/ingest.sh. Connects to the Kafka cluster and to the
// broker first, checks that the input topic holds exactly --events records, prints "ready", then
// waits for SIGUSR1, which the script sends just before it starts casebus-ingest: that is t0.
// From then on it samples, on a fixed grid of --interval-ms after t0:
//   - the broker's counters (casebusctl stats: accepted, completed, ...), also every
//     --first-poll-ms until the first case has completed;
//   - the consumer group's committed offsets on the input topic (an OffsetFetch for the group,
//     without joining it): lag = events - sum of committed offsets over the partitions;
//   - the end offsets (high watermarks) of the outcomes and dead-letter topics.
// It stops once every event is a completed case, committed, and its outcome is on the outcomes
// topic, and prints one RUN line (crossing times interpolated linearly between the two samples
// around them); or, past --timeout-s, says what was reached and exits 1.
#include "common/bus/client.hpp"

#include <boost/program_options.hpp>
#include <librdkafka/rdkafkacpp.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

struct Counters {
  double t = 0;  // seconds after t0
  std::int64_t accepted = 0, completed = 0, resolved = 0, escalated = 0, rejected_by_workflow = 0, failed = 0, busy = 0;
};

struct KafkaSample {
  double t = 0, scheduled = 0;
  std::int64_t committed = 0, outcomes = 0, dead_letters = 0;
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "ingest_watch: %s\n", what.c_str());
  std::exit(1);
}

class Kafka {
 public:
  Kafka(const std::string& brokers, const std::string& group) {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string err;
    // The ingest's group id, to read its committed offsets; never subscribed, so never a member.
    if (conf->set("bootstrap.servers", brokers, err) != RdKafka::Conf::CONF_OK ||
        conf->set("group.id", group, err) != RdKafka::Conf::CONF_OK ||
        conf->set("enable.auto.commit", "false", err) != RdKafka::Conf::CONF_OK ||
        conf->set("client.id", "casebus-bench-ingest-watch", err) != RdKafka::Conf::CONF_OK) {
      die("kafka configuration: " + err);
    }
    consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
    if (!consumer_) die("cannot create the Kafka client: " + err);
  }
  ~Kafka() { consumer_->close(); }

  int partitions(const std::string& topic) {
    std::string err;
    std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(consumer_.get(), topic, nullptr, err));
    if (!t) die("topic handle " + topic + ": " + err);
    RdKafka::Metadata* raw = nullptr;
    if (const auto e = consumer_->metadata(false, t.get(), &raw, 5000); e != RdKafka::ERR_NO_ERROR) {
      die("no metadata for " + topic + ": " + RdKafka::err2str(e));
    }
    std::unique_ptr<RdKafka::Metadata> md(raw);
    for (const auto* tm : *md->topics()) {
      if (tm->topic() == topic && tm->err() == RdKafka::ERR_NO_ERROR) return static_cast<int>(tm->partitions()->size());
    }
    die("topic " + topic + " does not exist on the cluster");
  }

  // Sum of the high watermarks (end offsets) over the topic's partitions.
  std::optional<std::int64_t> end_offsets(const std::string& topic, int partitions) {
    std::int64_t sum = 0;
    for (int p = 0; p < partitions; ++p) {
      std::int64_t low = 0, high = 0;
      if (consumer_->query_watermark_offsets(topic, p, &low, &high, 2000) != RdKafka::ERR_NO_ERROR) return std::nullopt;
      sum += high;
    }
    return sum;
  }

  // Sum of the group's committed offsets (a partition without one counts 0: the topic is new).
  std::optional<std::int64_t> committed(const std::string& topic, int partitions) {
    std::vector<RdKafka::TopicPartition*> l;
    for (int p = 0; p < partitions; ++p) l.push_back(RdKafka::TopicPartition::create(topic, p));
    std::optional<std::int64_t> sum;
    if (consumer_->committed(l, 2000) == RdKafka::ERR_NO_ERROR) {
      sum = 0;
      for (auto* tp : l) {
        if (tp->err() != RdKafka::ERR_NO_ERROR) {
          sum.reset();
          break;
        }
        if (tp->offset() >= 0) *sum += tp->offset();
      }
    }
    RdKafka::TopicPartition::destroy(l);
    return sum;
  }

 private:
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
};

std::int64_t counter(const nlohmann::json& c, const char* name) {
  return c.at(name).get<std::int64_t>();
}

// When field(x) first reached target, linearly between the two observations around it; -1: never.
template <class T>
double crossing(const std::vector<T>& v, const std::function<double(const T&)>& field, double target) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (field(v[i]) < target) continue;
    if (i == 0) return v[0].t;
    const double a = field(v[i - 1]), b = field(v[i]);
    return v[i - 1].t + (target - a) / (b - a) * (v[i].t - v[i - 1].t);
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string kafka_brokers, group, topic, outcomes_topic, dead_letter_topic, broker;
  std::int64_t events = 0;
  int interval_ms = 250, first_poll_ms = 10, timeout_s = 200, log_every_ms = 1000, rep = 1;
  po::options_description desc("ingest_watch");
  desc.add_options()("kafka", po::value(&kafka_brokers)->required(), "Kafka bootstrap servers")(
      "group", po::value(&group)->required(), "casebus-ingest's consumer group")(
      "topic", po::value(&topic)->required(), "the input topic")("outcomes", po::value(&outcomes_topic)->required())(
      "dead-letter", po::value(&dead_letter_topic)->required())(
      "broker", po::value(&broker)->required(), "the casebus broker's client endpoint")(
      "events", po::value(&events)->required(), "records on the input topic")(
      "interval-ms", po::value(&interval_ms)->default_value(250))("first-poll-ms", po::value(&first_poll_ms)->default_value(10))(
      "timeout-s", po::value(&timeout_s)->default_value(200))("log-every-ms", po::value(&log_every_ms)->default_value(1000))(
      "rep", po::value(&rep)->default_value(1));
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "ingest_watch: %s\n%s", e.what(), (std::ostringstream() << desc).str().c_str());
    return 2;
  }
  if (events <= 0 || interval_ms <= 0 || first_poll_ms <= 0) die("--events, --interval-ms and --first-poll-ms must be positive");

  // SIGUSR1 is taken synchronously; blocked before librdkafka and ZeroMQ start their threads.
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, nullptr);

  Kafka kafka(kafka_brokers, group);
  const int in_parts = kafka.partitions(topic), out_parts = kafka.partitions(outcomes_topic),
            dl_parts = kafka.partitions(dead_letter_topic);
  const auto produced = kafka.end_offsets(topic, in_parts);
  if (!produced) die("cannot read the end offsets of " + topic);
  if (*produced != events) {
    die(topic + " holds " + std::to_string(*produced) + " records, expected " + std::to_string(events) +
        " (the producer did not deliver them all)");
  }
  common::bus::SyncBusClient bus(broker);
  auto stats = [&](double t) -> std::optional<Counters> {
    const auto r = bus.stats(2s);
    if (r.status != common::bus::Outcome::Status::kReply) return std::nullopt;
    const auto c = nlohmann::json::parse(r.body).at("counters");
    return Counters{t,
                    counter(c, "accepted"),
                    counter(c, "completed"),
                    counter(c, "resolved"),
                    counter(c, "escalated"),
                    counter(c, "rejected_by_workflow"),
                    counter(c, "failed"),
                    counter(c, "busy")};
  };
  const auto before = stats(0);
  if (!before) die("no answer from the broker at " + broker);
  if (before->accepted != 0) die("the broker has cases already; the benchmark needs a fresh one");
  std::printf("ready partitions=%d events=%lld\n", in_parts, static_cast<long long>(events));
  std::fflush(stdout);

  const timespec wait_for_start{120, 0};
  if (sigtimedwait(&usr1, nullptr, &wait_for_start) != SIGUSR1) die("no start signal (SIGUSR1) within 120 s");
  const auto t0 = Clock::now();
  const auto since = [&](Clock::time_point t) { return std::chrono::duration<double>(t - t0).count(); };

  std::vector<Counters> bus_obs;
  std::vector<KafkaSample> kafka_obs;
  double first_case = -1;
  int unanswered = 0;
  auto observe_bus = [&] {
    auto c = stats(since(Clock::now()));
    if (!c) {
      if (++unanswered >= 5) die("the broker did not answer stats 5 times in a row");
      return;
    }
    unanswered = 0;
    // The time of the answer: the counters were read at most a round trip earlier.
    c->t = since(Clock::now());
    if (first_case < 0 && c->completed > 0) first_case = c->t;
    bus_obs.push_back(*c);
  };

  const auto interval = std::chrono::milliseconds(interval_ms);
  const auto deadline = t0 + std::chrono::seconds(timeout_s);
  double next_log = 0;
  for (std::int64_t k = 1;; ++k) {
    const auto at = t0 + k * interval;
    // Until the first case is done, the broker is asked more often, for its time.
    while (first_case < 0 && Clock::now() + std::chrono::milliseconds(first_poll_ms) < at) {
      std::this_thread::sleep_for(std::chrono::milliseconds(first_poll_ms));
      observe_bus();
    }
    std::this_thread::sleep_until(at);
    observe_bus();
    const auto committed = kafka.committed(topic, in_parts);
    const auto outcomes = kafka.end_offsets(outcomes_topic, out_parts);
    const auto dead = kafka.end_offsets(dead_letter_topic, dl_parts);
    if (committed && outcomes && dead) {
      kafka_obs.push_back({since(Clock::now()), since(at), *committed, *outcomes, *dead});
    } else {
      std::fprintf(stderr, "ingest_watch: a Kafka query failed at t=%.2fs, sampled again next time\n", since(at));
    }
    const Counters last_bus = bus_obs.empty() ? Counters{} : bus_obs.back();
    const KafkaSample last_kafka = kafka_obs.empty() ? KafkaSample{} : kafka_obs.back();
    const bool done = last_bus.completed >= events && last_kafka.committed >= events && last_kafka.outcomes >= events;
    if (since(at) >= next_log || done) {
      std::fprintf(stderr, "SAMPLE t_s=%.2f accepted=%lld completed=%lld committed=%lld lag=%lld outcomes=%lld dead_letters=%lld busy=%lld\n",
                   since(at), static_cast<long long>(last_bus.accepted), static_cast<long long>(last_bus.completed),
                   static_cast<long long>(last_kafka.committed), static_cast<long long>(events - last_kafka.committed),
                   static_cast<long long>(last_kafka.outcomes), static_cast<long long>(last_kafka.dead_letters),
                   static_cast<long long>(last_bus.busy));
      next_log += log_every_ms / 1000.0;
    }
    if (done) break;
    if (Clock::now() >= deadline) {
      die("not done " + std::to_string(timeout_s) + " s after casebus-ingest started: completed " +
          std::to_string(last_bus.completed) + "/" + std::to_string(events) + ", accepted " + std::to_string(last_bus.accepted) +
          ", committed " + std::to_string(last_kafka.committed) + ", outcomes " + std::to_string(last_kafka.outcomes) +
          ", on the dead-letter topic " + std::to_string(last_kafka.dead_letters));
    }
  }

  const double n = static_cast<double>(events);
  const double complete_s = crossing<Counters>(bus_obs, [](const Counters& c) { return double(c.completed); }, n);
  const double accept_s = crossing<Counters>(bus_obs, [](const Counters& c) { return double(c.accepted); }, n);
  const double drain_s = crossing<KafkaSample>(kafka_obs, [](const KafkaSample& s) { return double(s.committed); }, n);
  const double outbox_s = crossing<KafkaSample>(kafka_obs, [](const KafkaSample& s) { return double(s.outcomes); }, n);
  std::int64_t max_lag = 0;
  for (const auto& s : kafka_obs) max_lag = std::max(max_lag, events - s.committed);
  // The lag at t: the last sample scheduled at or before t; after the drain it is 0.
  auto lag_at = [&](double t) {
    std::int64_t lag = events;
    for (const auto& s : kafka_obs) {
      if (s.scheduled <= t + 1e-9) lag = events - s.committed;
    }
    return lag;
  };
  const auto& end = bus_obs.back();
  // eps counts from the ingest's start (its group join included); eps_from_first from the first case.
  std::printf("RUN rep=%d events=%lld eps=%.0f first_case_ms=%.0f drain_s=%.3f max_lag=%lld lag_1s=%lld lag_5s=%lld "
              "lag_10s=%lld outbox_s=%.3f eps_from_first=%.0f complete_s=%.3f accept_s=%.3f resolved=%lld escalated=%lld "
              "rejected_by_workflow=%lld failed=%lld busy=%lld dead_letters=%lld samples=%zu\n",
              rep, static_cast<long long>(events), n / complete_s, first_case * 1000, drain_s, static_cast<long long>(max_lag),
              static_cast<long long>(lag_at(1)), static_cast<long long>(lag_at(5)), static_cast<long long>(lag_at(10)), outbox_s,
              complete_s > first_case ? n / (complete_s - first_case) : 0.0, complete_s, accept_s, static_cast<long long>(end.resolved),
              static_cast<long long>(end.escalated), static_cast<long long>(end.rejected_by_workflow),
              static_cast<long long>(end.failed), static_cast<long long>(end.busy),
              static_cast<long long>(kafka_obs.back().dead_letters), kafka_obs.size());
  std::fflush(stdout);
  return 0;
}
