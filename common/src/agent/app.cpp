#include "common/agent/app.hpp"

#include "common/util/cli.hpp"
#include "common/util/daemon.hpp"
#include "common/util/log.hpp"
#include "common/util/service_notifier.hpp"

#include <boost/asio/signal_set.hpp>

#include <iostream>

namespace common::agent {

int run_agent(int argc, char** argv, const std::string& kind, const std::string& summary,
              const HandlerFactory& make_handler) {
  std::string dashed = kind;
  for (auto& c : dashed) c = c == '_' ? '-' : c;
  const std::string program = "casebus-" + dashed;
  std::string env_kind = kind;
  for (auto& c : env_kind) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return daemon::run_main(program, [&]() -> int {
    cli::Spec spec{program, summary, "CASEBUS_" + env_kind + "_",
                   {{"broker", "/broker_endpoint", cli::Type::kString, "broker agent endpoint (default tcp://127.0.0.1:7102)"},
                    {"worker", "/worker", cli::Type::kString, "instance name (default <hostname>:<pid>)"},
                    {"capacity", "/capacity", cli::Type::kInt, "tasks held at once (default 64)"},
                    {"drain-grace-ms", "/drain_grace_ms", cli::Type::kInt, "time to finish in-flight tasks on SIGTERM (default 10000)"}},
                   {}};
    auto parsed = cli::parse(argc, argv, spec);
    if (parsed.exit_now) return *parsed.exit_now;

    Settings settings;
    settings.kind = kind;
    log::Settings log_settings;
    nlohmann::json agent_settings = nlohmann::json::object();
    try {
      const auto& j = parsed.config;
      json::reject_unknown_keys(j, {"broker_endpoint", "worker", "capacity", "reconnect_initial_ms", "reconnect_max_ms",
                                    "drain_grace_ms", "max_message_bytes", "curve", "log", "settings"});
      read_settings(j, settings);
      json::get_optional(j, "log", log_settings);
      json::get_optional(j, "settings", agent_settings);
      if (!agent_settings.is_object()) throw std::invalid_argument("settings must be an object");
    } catch (const nlohmann::json::exception& e) {
      throw std::invalid_argument(std::string("invalid configuration: ") + e.what());
    }
    auto log = log::setup("agent." + kind, log_settings);

    boost::asio::io_context io(1);
    AgentContext context{io, settings, agent_settings,
                         parsed.config_path.empty() ? std::filesystem::current_path()
                                                    : std::filesystem::absolute(parsed.config_path).parent_path()};
    Handler handler = make_handler(context);  // validates the agent's own settings
    if (parsed.check_only) {
      nlohmann::json effective = parsed.config;
      effective["worker"] = settings.worker;
      std::cout << effective.dump(2) << "\n";
      return 0;
    }

    zmq::context_t ctx(1);
    Runtime runtime(io, ctx, settings, std::move(handler));
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      log->info("signal received sig={} agent={} worker={}", sig, kind, settings.worker);
      runtime.drain([&] { io.stop(); });
    });
    log->info("starting agent={} worker={} capacity={} endpoint={} version={}", kind, settings.worker,
              settings.capacity, settings.broker_endpoint, CASEBUS_VERSION);
    runtime.start();
    daemon::ServiceNotifier notifier(io, [&] {
      return (runtime.registered() ? "registered with " : "connecting to ") + settings.broker_endpoint + ": " +
             std::to_string(runtime.in_flight()) + " tasks in flight";
    });
    notifier.start();
    io.run();
    return 0;
  });
}

}  // namespace common::agent
