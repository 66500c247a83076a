#include "bridge.hpp"

#include "offsets.hpp"

#include "common/bus/client.hpp"
#include "common/util/log.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <deque>
#include <map>

namespace ingest {

namespace asio = boost::asio;
namespace bus = common::bus;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

using PartitionKey = std::pair<std::string, std::int32_t>;

std::string describe(const PartitionKey& k) {
  return k.first + "/" + std::to_string(k.second);
}

// Refusals of the broker that a later try may not get: the event itself is wrong.
bool retryable(const std::string& code) {
  return code == "busy" || code == "storage_unavailable" || code == "shutting_down" || code == "unavailable";
}

void set_or_throw(RdKafka::Conf& conf, const std::string& key, const std::string& value) {
  std::string err;
  if (conf.set(key, value, err) != RdKafka::Conf::CONF_OK) throw std::invalid_argument("kafka." + key + ": " + err);
}

// Owns TopicPartition pointers for the librdkafka calls that take a vector of them.
struct PartitionList {
  std::vector<RdKafka::TopicPartition*> list;
  PartitionList() = default;
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
  ~PartitionList() { RdKafka::TopicPartition::destroy(list); }
  void add(const PartitionKey& k, std::int64_t offset = RdKafka::Topic::OFFSET_INVALID) {
    list.push_back(RdKafka::TopicPartition::create(k.first, k.second, offset));
  }
};

}  // namespace

struct Bridge::Impl : std::enable_shared_from_this<Impl>, RdKafka::RebalanceCb, RdKafka::DeliveryReportCb {
  // One event between the consumer and its end (a case accepted, or on the dead-letter topic).
  struct Event {
    PartitionKey partition;
    std::uint64_t generation = 0;  // of the partition's assignment: later callbacks of a revoked one are ignored
    std::int64_t offset = 0;
    std::string envelope;  // the case to submit
    std::chrono::milliseconds backoff{50};
  };
  struct Partition {
    std::uint64_t generation = 0;
    PartitionOffsets offsets;
    std::deque<Event> backlog;  // held while the broker says busy, in offset order
    bool blocked = false;       // a retryable refusal: only the backlog's head is tried, after a backoff
    std::unique_ptr<asio::steady_timer> retry;
  };
  // What a delivery report belongs to.
  struct Delivery {
    enum class Kind { kDeadLetter, kOutbox } kind;
    PartitionKey partition;
    std::uint64_t generation = 0;
    std::int64_t offset = 0;
    std::int64_t seq = 0;        // kOutbox
    std::uint64_t batch = 0;     // kOutbox
    std::string topic, key, value;
    std::vector<std::pair<std::string, std::string>> headers;
  };

  asio::io_context& io;
  Settings settings;
  std::shared_ptr<spdlog::logger> log;
  std::map<std::string, const Mapping*> mappings;
  bus::BusClient bus;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  std::unique_ptr<RdKafka::Producer> producer;
  asio::steady_timer poll_timer, commit_timer, outbox_timer, stop_timer;
  std::map<PartitionKey, Partition> partitions;
  std::uint64_t next_generation = 1;
  std::size_t in_flight = 0;         // submissions waiting for ACCEPTED or a refusal
  std::size_t dead_letters_out = 0;  // produced to the dead-letter topic, not yet acknowledged
  bool stopping = false;
  std::function<void()> on_stopped;
  Counters counters;
  // The outbox batch being published: seqs acknowledged by Kafka so far, deliveries left.
  std::uint64_t outbox_batch = 0;
  std::size_t outbox_left = 0;
  std::vector<std::int64_t> outbox_acked;
  bool outbox_busy = false;
  bool outbox_full_batch = false;

  Impl(asio::io_context& io_, zmq::context_t& ctx, Settings s)
      : io(io_),
        settings(std::move(s)),
        log(common::log::get("ingest")),
        bus(io_, ctx, settings.broker_endpoint, [&] {
          bus::SocketOptions o;
          o.curve = bus::client_curve_options(settings.curve);
          return o;
        }()),
        poll_timer(io_),
        commit_timer(io_),
        outbox_timer(io_),
        stop_timer(io_) {
    for (const auto& t : settings.topics) mappings[t.name] = &t.mapping;
  }

  std::unique_ptr<RdKafka::Conf> base_conf(const std::map<std::string, std::string>& own) {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    set_or_throw(*conf, "bootstrap.servers", settings.brokers);
    set_or_throw(*conf, "client.id", "casebus-ingest");
    for (const auto& [k, v] : settings.kafka) set_or_throw(*conf, k, v);
    for (const auto& [k, v] : own) set_or_throw(*conf, k, v);
    return conf;
  }

  void start() {
    std::string err;
    {
      auto conf = base_conf(settings.kafka_producer);
      // Idempotent: retries never duplicate or reorder within a session; acks from all in-sync replicas.
      set_or_throw(*conf, "enable.idempotence", "true");
      set_or_throw(*conf, "acks", "all");
      std::string e2;
      if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(this), e2) != RdKafka::Conf::CONF_OK) throw std::runtime_error(e2);
      producer.reset(RdKafka::Producer::create(conf.get(), err));
      if (!producer) throw std::runtime_error("cannot create the Kafka producer: " + err);
    }
    if (!settings.topics.empty()) {
      auto conf = base_conf(settings.kafka_consumer);
      set_or_throw(*conf, "group.id", settings.group_id);
      set_or_throw(*conf, "enable.auto.commit", "false");
      set_or_throw(*conf, "enable.auto.offset.store", "false");
      if (!settings.kafka.count("auto.offset.reset") && !settings.kafka_consumer.count("auto.offset.reset")) set_or_throw(*conf, "auto.offset.reset", "earliest");
      std::string e2;
      if (conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this), e2) != RdKafka::Conf::CONF_OK) throw std::runtime_error(e2);
      consumer.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
      if (!consumer) throw std::runtime_error("cannot create the Kafka consumer: " + err);
      std::vector<std::string> topics;
      for (const auto& t : settings.topics) topics.push_back(t.name);
      if (const auto e = consumer->subscribe(topics); e != RdKafka::ERR_NO_ERROR) {
        throw std::runtime_error("cannot subscribe: " + RdKafka::err2str(e));
      }
    }
    log->info("started brokers={} group={} topics={} dead_letter_topic={} outcome_topic={} action_topic={} instance={}",
              settings.brokers, settings.group_id, settings.topics.size(), settings.dead_letter_topic,
              settings.outbox.outcome_topic, settings.outbox.action_topic, settings.instance);
    schedule_poll(0ms);
    schedule_commit();
    if (settings.outbox.enabled()) schedule_outbox(0ms);
  }

  // ---------------------------------------------------------------------------------------------
  // The poll loop: consumer messages (and, inside, rebalances) and producer delivery reports.

  void schedule_poll(std::chrono::milliseconds after) {
    poll_timer.expires_after(after);
    poll_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (auto self = weak.lock(); self && !ec) self->poll();
    });
  }

  void poll() {
    producer->poll(0);
    int taken = 0;
    if (consumer && !stopping) {
      // A bounded batch per turn, so the bus client's answers interleave.
      for (; taken < 256 && may_take(); ++taken) {
        std::unique_ptr<RdKafka::Message> m(consumer->consume(0));
        if (!m || m->err() == RdKafka::ERR__TIMED_OUT) break;
        if (m->err() == RdKafka::ERR__PARTITION_EOF) continue;
        if (m->err() != RdKafka::ERR_NO_ERROR) {
          log->warn("kafka consumer error err={}", m->errstr());
          break;
        }
        on_message(*m);
      }
    }
    if (stopping) {
      maybe_stopped();
      if (on_stopped == nullptr) return;
    }
    schedule_poll(taken > 0 ? 0ms : 5ms);
  }

  void on_message(RdKafka::Message& m) {
    ++counters.consumed;
    const PartitionKey key{m.topic_name(), m.partition()};
    auto pit = partitions.find(key);
    if (pit == partitions.end()) {
      log->debug("message of a partition not assigned here partition={} offset={}", describe(key), m.offset());
      return;
    }
    auto& p = pit->second;
    p.offsets.started(m.offset());
    const auto mit = mappings.find(key.first);
    const std::string_view value(static_cast<const char*>(m.payload()), m.len());
    MapOptions options{settings.workflow, settings.max_event_bytes};
    auto mapped = mit == mappings.end() ? std::variant<Mapped, Refusal>(Refusal{"no_mapping", "", "no mapping for this topic"})
                                        : map_event(*mit->second, value, {key.first, key.second, m.offset()}, options);
    if (auto* r = std::get_if<Refusal>(&mapped)) {
      dead_letter(key, p.generation, m.offset(), value, r->reason, r->field, r->message);
      return;
    }
    Event e{key, p.generation, m.offset(), std::move(std::get<Mapped>(mapped).envelope), 50ms};
    if (p.blocked || !p.backlog.empty()) {
      p.backlog.push_back(std::move(e));
      return;
    }
    submit(std::move(e));
  }

  // ---------------------------------------------------------------------------------------------
  // Submitting: ACCEPTED means the case is in the broker's store (it answers after the commit).

  void submit(Event e) {
    ++in_flight;
    ++counters.submitted;
    auto accepted = std::make_shared<bool>(false);
    std::weak_ptr<Impl> weak = weak_from_this();
    const std::string envelope = e.envelope;
    auto shared_event = std::make_shared<Event>(std::move(e));
    bus.submit(
        envelope, settings.submit_timeout,
        [weak, accepted, shared_event](bus::Outcome o) {
          auto self = weak.lock();
          if (!self || *accepted) return;  // the final case, or its time-out, after ACCEPTED: not ours to wait for
          --self->in_flight;
          self->on_refused(std::move(*shared_event), o);
        },
        [weak, accepted, shared_event](const std::string& case_id) {
          auto self = weak.lock();
          if (!self) return;
          *accepted = true;
          --self->in_flight;
          self->on_accepted(*shared_event, case_id);
        });
  }

  Partition* current(const PartitionKey& key, std::uint64_t generation) {
    auto it = partitions.find(key);
    return it == partitions.end() || it->second.generation != generation ? nullptr : &it->second;
  }

  void on_accepted(const Event& e, const std::string& case_id) {
    ++counters.accepted;
    log->debug("event is a case partition={} offset={} case_id={}", describe(e.partition), e.offset, case_id);
    auto* p = current(e.partition, e.generation);
    if (!p) return;  // revoked meanwhile: the new owner redelivers it, and the key names this case
    p->offsets.finished(e.offset);
    if (p->blocked && !p->backlog.empty() && p->backlog.front().offset == e.offset) {
      // The head that was refused got in: the broker takes cases again.
      p->backlog.pop_front();
      unblock(e.partition, *p);
    }
  }

  void on_refused(Event e, const bus::Outcome& o) {
    auto* p = current(e.partition, e.generation);
    if (!p) return;
    const bool timed_out = o.status == bus::Outcome::Status::kTimeout;
    std::string code = "unavailable";
    if (!timed_out) code = std::string(common::to_string(o.error.code));
    if (o.status == bus::Outcome::Status::kCompleted) {
      // A final case without ACCEPTED first cannot happen; treat it as accepted.
      on_accepted(e, o.case_id);
      return;
    }
    if (!retryable(code)) {
      dead_letter(e.partition, e.generation, e.offset, e.envelope, "refused_by_broker", o.error.field,
                  code + ": " + o.error.message);
      return;
    }
    // Busy (or unreachable): hold this partition, try its oldest event again after a backoff,
    // never drop it.
    ++counters.busy_retries;
    if (!p->blocked) {
      log->info("broker refused a case, pausing the partition partition={} code={}", describe(e.partition), code);
      p->blocked = true;
      pause({e.partition});
    }
    const auto pos = std::lower_bound(p->backlog.begin(), p->backlog.end(), e.offset,
                                      [](const Event& x, std::int64_t off) { return x.offset < off; });
    // The head comes back refused again: it is still in the backlog, with its backoff.
    if (pos == p->backlog.end() || pos->offset != e.offset) p->backlog.insert(pos, std::move(e));
    schedule_retry(p->backlog.front().partition, *p);
  }

  void schedule_retry(const PartitionKey& key, Partition& p) {
    if (!p.retry) p.retry = std::make_unique<asio::steady_timer>(io);
    auto& head = p.backlog.front();
    const auto delay = head.backoff;
    head.backoff = std::min<std::chrono::milliseconds>(head.backoff * 2, 2000ms);
    p.retry->expires_after(delay);
    p.retry->async_wait([weak = weak_from_this(), key, generation = p.generation](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (!self || ec || self->stopping) return;
      auto* part = self->current(key, generation);
      if (!part || part->backlog.empty()) return;
      Event head = part->backlog.front();  // stays in the backlog until accepted
      self->submit(std::move(head));
    });
  }

  void unblock(const PartitionKey& key, Partition& p) {
    p.blocked = false;
    auto backlog = std::move(p.backlog);
    p.backlog.clear();
    for (auto& e : backlog) submit(std::move(e));
    if (!p.blocked) resume({key});
  }

  void pause(const std::vector<PartitionKey>& keys) {
    if (!consumer || keys.empty()) return;
    PartitionList l;
    for (const auto& k : keys) l.add(k);
    consumer->pause(l.list);
  }

  void resume(const std::vector<PartitionKey>& keys) {
    if (!consumer || keys.empty()) return;
    PartitionList l;
    for (const auto& k : keys) l.add(k);
    consumer->resume(l.list);
  }

  // Back-pressure over all partitions: at max_in_flight submissions the poll loop stops taking
  // messages (librdkafka's prefetch is bounded by queued.max.messages.kbytes); pausing would drop
  // the prefetched messages and fetch them again. A partition the broker refused is paused.
  bool may_take() const { return in_flight + dead_letters_out < settings.max_in_flight; }

  // ---------------------------------------------------------------------------------------------
  // The dead-letter topic: the event as it came, with why, in headers. Its offset counts as
  // finished only once Kafka acknowledged the copy.

  void dead_letter(const PartitionKey& key, std::uint64_t generation, std::int64_t offset, std::string_view value,
                   const std::string& reason, const std::string& field, const std::string& message) {
    log->warn("event to the dead-letter topic partition={} offset={} reason={} field={}", describe(key), offset, reason, field);
    auto d = std::make_unique<Delivery>();
    d->kind = Delivery::Kind::kDeadLetter;
    d->partition = key;
    d->generation = generation;
    d->offset = offset;
    d->topic = settings.dead_letter_topic;
    d->key = key.first + "/" + std::to_string(key.second) + "/" + std::to_string(offset);
    d->value = std::string(value);
    d->headers = {{"casebus-reason", reason},
                  {"casebus-field", field},
                  {"casebus-error", message},
                  {"casebus-source", d->key}};
    ++dead_letters_out;
    produce(std::move(d));
  }

  void produce(std::unique_ptr<Delivery> d) {
    auto* headers = RdKafka::Headers::create();
    for (const auto& [k, v] : d->headers) headers->add(k, v);
    Delivery* raw = d.get();
    const auto err = producer->produce(raw->topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                       const_cast<char*>(raw->value.data()), raw->value.size(), raw->key.data(),
                                       raw->key.size(), 0, headers, raw);
    if (err != RdKafka::ERR_NO_ERROR) {
      delete headers;  // still ours when produce() fails
      log->warn("kafka produce failed, trying again topic={} err={}", raw->topic, RdKafka::err2str(err));
      retry_produce(std::move(d));
      return;
    }
    d.release();  // the delivery report owns it now
  }

  void retry_produce(std::unique_ptr<Delivery> d) {
    auto timer = std::make_shared<asio::steady_timer>(io, 200ms);
    std::shared_ptr<Delivery> held(std::move(d));
    timer->async_wait([weak = weak_from_this(), timer, held](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      self->produce(std::make_unique<Delivery>(std::move(*held)));
    });
  }

  void dr_cb(RdKafka::Message& m) override {
    std::unique_ptr<Delivery> d(static_cast<Delivery*>(m.msg_opaque()));
    if (!d) return;
    const bool ok = m.err() == RdKafka::ERR_NO_ERROR;
    if (d->kind == Delivery::Kind::kDeadLetter) {
      if (!ok) {
        // Retried by librdkafka up to message.timeout.ms already; keep trying: never dropped.
        log->error("dead-letter copy not acknowledged, producing it again topic={} err={}", d->topic, m.errstr());
        retry_produce(std::move(d));
        return;
      }
      --dead_letters_out;
      ++counters.dead_lettered;
      if (auto* p = current(d->partition, d->generation)) p->offsets.finished(d->offset);
      return;
    }
    // Outbox: only what Kafka acknowledged is acknowledged to the broker; the rest is claimed
    // again when its lease runs out.
    if (d->batch != outbox_batch) return;
    if (ok) {
      outbox_acked.push_back(d->seq);
      ++counters.outbox_published;
    } else {
      ++counters.outbox_failed;
      log->error("outbox message not acknowledged, it is published again after its lease seq={} topic={} err={}", d->seq,
                 d->topic, m.errstr());
    }
    if (--outbox_left == 0) ack_outbox();
  }

  // ---------------------------------------------------------------------------------------------
  // Rebalances (eager): before partitions go, commit what is finished there; their events still
  // in flight are redelivered to the next owner and map to the same cases by their keys.

  void rebalance_cb(RdKafka::KafkaConsumer* c, RdKafka::ErrorCode err, std::vector<RdKafka::TopicPartition*>& parts) override {
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      for (auto* tp : parts) {
        auto& p = partitions[{tp->topic(), tp->partition()}];
        p = Partition{};
        p.generation = next_generation++;
      }
      c->assign(parts);
      log->info("partitions assigned count={} total={}", parts.size(), partitions.size());
      return;
    }
    if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
      commit(true);
      for (auto* tp : parts) {
        auto it = partitions.find({tp->topic(), tp->partition()});
        if (it == partitions.end()) continue;
        if (it->second.retry) it->second.retry->cancel();
        partitions.erase(it);
      }
      c->unassign();
      log->info("partitions revoked count={}", parts.size());
      return;
    }
    log->error("rebalance error err={}", RdKafka::err2str(err));
    c->unassign();
    partitions.clear();
  }

  // ---------------------------------------------------------------------------------------------
  // Offsets

  void schedule_commit() {
    commit_timer.expires_after(settings.commit_interval);
    commit_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      self->commit(false);
      self->schedule_commit();
    });
  }

  void commit(bool sync) {
    if (!consumer) return;
    PartitionList l;
    std::vector<std::pair<Partition*, std::int64_t>> moved;
    for (auto& [k, p] : partitions) {
      if (auto off = p.offsets.to_commit()) {
        l.add(k, *off);
        moved.emplace_back(&p, *off);
      }
    }
    if (l.list.empty()) return;
    const auto err = sync ? consumer->commitSync(l.list) : consumer->commitAsync(l.list);
    if (err != RdKafka::ERR_NO_ERROR) {
      log->warn("offset commit failed, trying again later err={}", RdKafka::err2str(err));
      return;
    }
    for (auto& [p, off] : moved) p->offsets.committed(off);
    ++counters.committed;
  }

  // ---------------------------------------------------------------------------------------------
  // The outbox: claim a batch from the broker, produce it (key: the case id), acknowledge what
  // Kafka acknowledged. A crash between produce and ack publishes again after the lease: at least
  // once, so consumers deduplicate on case_id / action_id.

  void schedule_outbox(std::chrono::milliseconds after) {
    outbox_timer.expires_after(after);
    outbox_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (auto self = weak.lock(); self && !ec && !self->stopping) self->claim_outbox();
    });
  }

  void claim_outbox() {
    outbox_busy = true;
    const json req{{"op", "outbox.claim"}, {"owner", settings.instance}, {"limit", settings.outbox.batch},
                   {"lease_ms", settings.outbox.lease.count()}};
    bus.control(req.dump(), 5s, [weak = weak_from_this()](bus::Outcome o) {
      if (auto self = weak.lock()) self->on_claimed(o);
    });
  }

  void on_claimed(const bus::Outcome& o) {
    if (o.status != bus::Outcome::Status::kReply) {
      if (o.status == bus::Outcome::Status::kRejected) log->warn("outbox claim refused err={}", o.error.describe());
      outbox_busy = false;
      // Refused (the broker's outbox is off) or not answered: ask again, less often.
      schedule_outbox(std::min<std::chrono::milliseconds>(settings.outbox.poll * 10, 5s));
      return;
    }
    json items;
    try {
      items = json::parse(o.body).at("items");
    } catch (const json::exception& e) {
      log->error("unreadable outbox claim reply err={}", e.what());
      outbox_busy = false;
      schedule_outbox(settings.outbox.poll);
      return;
    }
    ++outbox_batch;
    outbox_acked.clear();
    outbox_left = 0;
    outbox_full_batch = items.size() >= settings.outbox.batch;
    std::vector<std::unique_ptr<Delivery>> batch;
    std::vector<std::int64_t> skipped;  // kinds with no topic configured: acknowledged without publishing
    for (const auto& it : items) {
      const auto kind = it.at("kind").get<std::string>();
      const auto& topic = kind == "action" ? settings.outbox.action_topic : settings.outbox.outcome_topic;
      if (topic.empty()) {
        skipped.push_back(it.at("seq").get<std::int64_t>());
        continue;
      }
      auto d = std::make_unique<Delivery>();
      d->kind = Delivery::Kind::kOutbox;
      d->seq = it.at("seq").get<std::int64_t>();
      d->batch = outbox_batch;
      d->topic = topic;
      d->key = it.at("case_id").get<std::string>();
      d->value = it.at("body").dump();
      d->headers = {{"casebus-type", kind == "action" ? "approved_action" : "case_outcome"},
                    {"casebus-tenant", it.at("tenant").get<std::string>()}};
      batch.push_back(std::move(d));
    }
    outbox_acked = skipped;
    outbox_left = batch.size();
    if (batch.empty()) {
      ack_outbox();
      return;
    }
    for (auto& d : batch) produce(std::move(d));
  }

  void ack_outbox() {
    if (outbox_acked.empty()) {
      outbox_busy = false;
      schedule_outbox(outbox_full_batch ? 0ms : settings.outbox.poll);
      return;
    }
    const json req{{"op", "outbox.ack"}, {"owner", settings.instance}, {"seqs", outbox_acked}};
    const auto n = outbox_acked.size();
    outbox_acked.clear();
    bus.control(req.dump(), 5s, [weak = weak_from_this(), n](bus::Outcome o) {
      auto self = weak.lock();
      if (!self) return;
      if (o.status != bus::Outcome::Status::kReply) {
        self->log->warn("outbox ack not answered, the entries are published again after their lease count={}", n);
      }
      self->outbox_busy = false;
      self->schedule_outbox(self->outbox_full_batch ? 0ms : self->settings.outbox.poll);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Stopping

  void stop(std::function<void()> done) {
    stopping = true;
    on_stopped = std::move(done);
    outbox_timer.cancel();
    log->info("stopping in_flight={} dead_letters_out={}", in_flight, dead_letters_out);
    stop_timer.expires_after(10s);
    stop_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (!self || ec || !self->on_stopped) return;
      self->log->warn("stop grace over; what is not finished is redelivered after the restart in_flight={}", self->in_flight);
      self->finish_stop();
    });
    schedule_poll(0ms);
  }

  void maybe_stopped() {
    if (on_stopped && in_flight == 0 && dead_letters_out == 0 && !outbox_busy) finish_stop();
  }

  void finish_stop() {
    if (!on_stopped) return;
    stop_timer.cancel();
    poll_timer.cancel();
    commit_timer.cancel();
    for (auto& [k, p] : partitions) {
      if (p.retry) p.retry->cancel();
    }
    producer->flush(5000);
    if (consumer) {
      commit(true);
      consumer->close();  // leaves the group: its partitions move on at once
    }
    log->info("stopped consumed={} accepted={} dead_lettered={} outbox_published={}", counters.consumed, counters.accepted,
              counters.dead_lettered, counters.outbox_published);
    auto done = std::move(on_stopped);
    on_stopped = nullptr;
    asio::post(io, std::move(done));
  }
};

Bridge::Bridge(asio::io_context& io, zmq::context_t& ctx, Settings settings)
    : impl_(std::make_shared<Impl>(io, ctx, std::move(settings))) {}

Bridge::~Bridge() = default;

void Bridge::start() {
  impl_->start();
}

void Bridge::stop(std::function<void()> done) {
  impl_->stop(std::move(done));
}

const Counters& Bridge::counters() const {
  return impl_->counters;
}

std::string Bridge::status_line() const {
  const auto& i = *impl_;
  const auto& c = i.counters;
  return std::string(i.stopping ? "stopping: " : "consuming: ") + std::to_string(i.partitions.size()) + " partitions, " +
         std::to_string(i.in_flight) + " in flight, " + std::to_string(c.accepted) + " cases, " +
         std::to_string(c.dead_lettered) + " dead-lettered, " + std::to_string(c.outbox_published) + " published";
}

}  // namespace ingest
