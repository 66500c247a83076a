// casebus-ingest: the bridge between the core banking event bus (Kafka) and the broker
// (docs/event-bus.md).
#include "bridge.hpp"

#include "common/util/cli.hpp"
#include "common/util/daemon.hpp"
#include "common/util/service_notifier.hpp"

#include <boost/asio/signal_set.hpp>

#include <iostream>

int main(int argc, char** argv) {
  return common::daemon::run_main("casebus-ingest", [&] {
    const common::cli::Spec spec{"casebus-ingest", "publishes cases from Kafka topics onto the bus, and the outbox to Kafka",
                                 "CASEBUS_INGEST_",
                                 {{"brokers", "/brokers", common::cli::Type::kString, "Kafka bootstrap servers (default 127.0.0.1:9092)"},
                                  {"broker", "/broker_endpoint", common::cli::Type::kString, "casebus broker client endpoint (default tcp://127.0.0.1:7101)"},
                                  {"group", "/group_id", common::cli::Type::kString, "consumer group (default casebus-ingest)"},
                                  {"instance", "/instance", common::cli::Type::kString, "instance name (default <hostname>:<pid>)"}}};
    const auto cli = common::cli::parse(argc, argv, spec);
    if (cli.exit_now) return *cli.exit_now;
    ingest::Settings settings;
    ingest::from_json(cli.config, settings);
    if (cli.check_only) {
      std::cout << ingest::to_json(settings).dump(2) << "\n";
      return 0;
    }
    auto log = common::log::setup("ingest", settings.log);
    zmq::context_t ctx(1);
    boost::asio::io_context io(1);
    ingest::Bridge bridge(io, ctx, settings);
    bridge.start();
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      log->info("signal received sig={}", sig);
      common::daemon::notify_stopping();
      bridge.stop([&] { io.stop(); });
    });
    common::daemon::notify_ready("consuming " + std::to_string(settings.topics.size()) + " topics from " + settings.brokers,
                                 {{"CASEBUS_KAFKA_BROKERS", settings.brokers}});
    common::daemon::ServiceNotifier notifier(io, [&] { return bridge.status_line(); });
    notifier.start();
    io.run();
    return 0;
  });
}
