// casebus-broker: the durable control plane of casebus (docs/protocol.md, docs/configuration.md).
#include "broker/app.hpp"

#include "common/util/cli.hpp"
#include "common/util/daemon.hpp"

#include <iostream>

int main(int argc, char** argv) {
  return common::daemon::run_main("casebus-broker", [&] {
    const common::cli::Spec spec{
        "casebus-broker", "routes cases hop by hop between clients and agent processes", "CASEBUS_BROKER_",
        {{"client-endpoint", "/client_endpoint", common::cli::Type::kString, "ZeroMQ endpoint for clients (default tcp://127.0.0.1:7101)"},
         {"agent-endpoint", "/agent_endpoint", common::cli::Type::kString, "ZeroMQ endpoint for agents (default tcp://127.0.0.1:7102)"},
         {"heartbeat-ms", "/heartbeat_interval_ms", common::cli::Type::kInt, "heartbeat interval (default 1000)"},
         {"queue-limit", "/queue_limit", common::cli::Type::kInt, "waiting tasks per agent kind (default 10000)"},
         {"busy-poll-us", "/busy_poll_us", common::cli::Type::kInt, "poll without sleeping this long after activity (default 0: off)"},
         {"state-dir", "/storage/state_dir", common::cli::Type::kString, "directory of the case store (default /var/lib/casebus)"},
         {"storage", "/storage/mode", common::cli::Type::kString, "sqlite (durable, default) or memory (lost on restart)"}}};
    const auto cli = common::cli::parse(argc, argv, spec);
    if (cli.exit_now) return *cli.exit_now;
    broker::Settings settings;
    try {
      cli.config.get_to(settings);
    } catch (const nlohmann::json::exception& e) {
      throw std::invalid_argument(std::string("invalid configuration: ") + e.what());
    }
    if (cli.check_only) {
      std::cout << broker::to_json(settings).dump(2) << "\n";
      return 0;
    }
    common::log::setup("broker", settings.log);
    broker::App app(std::move(settings));
    return app.run();
  });
}
