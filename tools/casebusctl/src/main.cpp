// casebusctl: submit cases and inspect a running broker (docs/casebusctl.md).
#include "ctl.hpp"

#include "common/util/cli.hpp"
#include "common/util/daemon.hpp"

#include <iostream>

int main(int argc, char** argv) {
  return common::daemon::run_main("casebusctl", [&] {
    const common::cli::Spec spec{
        "casebusctl", "submit cases to a casebus broker and inspect it", "CASEBUSCTL_",
        {{"broker", "/broker", common::cli::Type::kString, "broker client endpoint (default tcp://127.0.0.1:7101)"},
         {"timeout-ms", "/timeout_ms", common::cli::Type::kInt, "how long to wait for an answer (default 30000)"},
         {"json", "/json", common::cli::Type::kBool, "print raw JSON (true/false)"},
         {"limit", "/limit", common::cli::Type::kInt, "dlq list: at most this many dead letters (1..1000, default 100)"}},
        ctl::kCommands};
    const auto cli = common::cli::parse(argc, argv, spec);
    if (cli.exit_now) return *cli.exit_now;
    ctl::Options o;
    common::json::reject_unknown_keys(cli.config, {"broker", "timeout_ms", "json", "limit", "log"});
    common::json::get_optional(cli.config, "broker", o.broker);
    common::json::get_optional(cli.config, "timeout_ms", o.timeout_ms);
    common::json::get_optional(cli.config, "json", o.json);
    common::json::get_optional(cli.config, "limit", o.limit);
    return ctl::run(o, cli.positional, std::cin, std::cout, std::cerr);
  });
}
