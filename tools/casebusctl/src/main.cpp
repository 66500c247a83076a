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
         {"limit", "/limit", common::cli::Type::kInt, "dlq list: at most this many dead letters (1..1000, default 100)"},
         {"curve-server-key", "/curve/server_public_key", common::cli::Type::kString, "the broker's CURVE public key (Z85)"},
         {"key-file", "/curve/key_file", common::cli::Type::kString, "this client's CURVE key file (casebusctl keygen)"},
         {"out", "/out", common::cli::Type::kString, "keygen: directory for the key files (default .)"},
         {"by", "/by", common::cli::Type::kString, "action approve|reject: who decides"}},
        ctl::kCommands};
    const auto cli = common::cli::parse(argc, argv, spec);
    if (cli.exit_now) return *cli.exit_now;
    ctl::Options o;
    common::json::reject_unknown_keys(cli.config, {"broker", "timeout_ms", "json", "limit", "curve", "out", "by", "log"});
    common::json::get_optional(cli.config, "broker", o.broker);
    common::json::get_optional(cli.config, "timeout_ms", o.timeout_ms);
    common::json::get_optional(cli.config, "json", o.json);
    common::json::get_optional(cli.config, "limit", o.limit);
    common::json::get_optional(cli.config, "out", o.out_dir);
    common::json::get_optional(cli.config, "by", o.by);
    if (auto it = cli.config.find("curve"); it != cli.config.end()) from_json(*it, o.curve);
    return ctl::run(o, cli.positional, std::cin, std::cout, std::cerr);
  });
}
