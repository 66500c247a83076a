// casebus-edge: the HTTP gateway onto the bus (docs/api.md).
#include "server.hpp"

#include "common/util/cli.hpp"
#include "common/util/daemon.hpp"
#include "common/util/service_notifier.hpp"

#include <boost/asio/signal_set.hpp>

#include <sys/resource.h>

#include <iostream>

int main(int argc, char** argv) {
  return common::daemon::run_main("casebus-edge", [&] {
    const common::cli::Spec spec{"casebus-edge", "HTTP gateway: authenticates, limits, redacts and submits cases", "CASEBUS_EDGE_",
                                 {{"listen", "/listen", common::cli::Type::kString, "address:port to serve (default 127.0.0.1:8080)"},
                                  {"broker", "/broker_endpoint", common::cli::Type::kString, "broker client endpoint (default tcp://127.0.0.1:7101)"}}};
    const auto cli = common::cli::parse(argc, argv, spec);
    if (cli.exit_now) return *cli.exit_now;
    edge::Settings settings;
    edge::from_json(cli.config, settings);
    if (cli.check_only) {
      std::cout << edge::to_json(settings).dump(2) << "\n";
      return 0;
    }
    auto log = common::log::setup("edge", settings.log);
    // Connections need file descriptors: raise the soft limit to the hard one (systemd's default
    // soft limit of 1024 would stop accepts below max_connections).
    if (rlimit lim{}; getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
      lim.rlim_cur = lim.rlim_max;
      setrlimit(RLIMIT_NOFILE, &lim);
    }
    // The ZeroMQ context outlives the io_context: handlers destroyed with io release the server and
    // its bus socket before the context terminates (which waits for every socket to close).
    zmq::context_t ctx(1);
    boost::asio::io_context io(1);
    edge::Server server(io, ctx, settings);
    const auto port = server.start();
    const std::string endpoint = settings.listen_address + ":" + std::to_string(port);
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      log->info("signal received sig={}", sig);
      common::daemon::notify_stopping();
      server.stop(std::chrono::seconds(10), [&] { io.stop(); });
    });
    log->info("listening endpoint={} tls={} tenants={} broker={} version={}", endpoint, !settings.tls_certificate.empty(),
              settings.tenants.size(), settings.broker_endpoint, CASEBUS_VERSION);
    common::daemon::notify_ready("serving " + endpoint, {{"CASEBUS_HTTP_ENDPOINT", endpoint}});
    common::daemon::ServiceNotifier notifier(io, [&] { return server.status_line(); });
    notifier.start();
    io.run();
    return 0;
  });
}
