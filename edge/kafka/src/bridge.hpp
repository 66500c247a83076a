#pragma once
// casebus-ingest (docs/event-bus.md): consumes the core banking event bus (Kafka, librdkafka) in
// a consumer group and submits each event as a case to the broker; commits an offset only once
// every event before it is durably a case or durably on the dead-letter topic; and publishes the
// broker's outbox (outcomes and approved actions) to Kafka with the idempotent producer.
//
// Everything runs on one io_context thread: librdkafka's consumer and producer are polled from a
// timer on it (their callbacks, the rebalance and the delivery reports, run inside those polls),
// and the bus client lives on it.
#include "settings.hpp"

#include <boost/asio/io_context.hpp>
#include <zmq.hpp>

#include <functional>
#include <memory>
#include <string>

namespace ingest {

struct Counters {
  std::uint64_t consumed = 0, submitted = 0, accepted = 0, dead_lettered = 0, busy_retries = 0, committed = 0;
  std::uint64_t outbox_published = 0, outbox_failed = 0;
};

class Bridge final {
 public:
  Bridge(boost::asio::io_context& io, zmq::context_t& ctx, Settings settings);
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  // Connects to Kafka and subscribes; throws on a configuration librdkafka refuses.
  void start();
  // Stops consuming, waits (bounded) for submissions in flight and for deliveries, commits what
  // is finished, leaves the group, then calls done on the io_context thread.
  void stop(std::function<void()> done);

  std::string status_line() const;
  const Counters& counters() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ingest
