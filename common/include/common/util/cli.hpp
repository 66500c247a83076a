#pragma once
// Command line and configuration for every executable: one JSON config file (--config FILE,
// optional), then environment variables, then flags, each overriding a field of the same JSON
// document; the executable's typed config struct is then read from that document with strict
// from_json (unknown keys rejected) and validated before any socket opens.
//
// Every executable has --help, --version, --config FILE, --check-config, --log-level and
// --log-format. An option "--client-endpoint" of an executable with env prefix "CASEBUS_BROKER_"
// is also read from CASEBUS_BROKER_CLIENT_ENDPOINT.
#include "common/util/json.hpp"

#include <optional>
#include <string>
#include <vector>

namespace common::cli {

enum class Type { kString, kInt, kBool };

struct Option {
  std::string flag;     // without the leading "--"
  std::string pointer;  // JSON pointer into the config document, e.g. "/log/level"
  Type type = Type::kString;
  std::string help;
};

struct Spec {
  std::string program;     // "casebus-broker"
  std::string summary;     // one line for --help
  std::string env_prefix;  // "CASEBUS_BROKER_"
  std::vector<Option> options;
  // Positional arguments (casebusctl's subcommands); empty means none allowed.
  std::string positional_help;
};

struct Parsed {
  nlohmann::json config = nlohmann::json::object();  // file + env + flags, merged
  std::string config_path;  // --config as given; empty without one
  bool check_only = false;
  std::vector<std::string> positional;
  std::optional<int> exit_now;  // --help / --version were printed: exit with this code
};

// Throws std::invalid_argument with a one-line reason on a usage error or unreadable config.
Parsed parse(int argc, char** argv, const Spec& spec);

}  // namespace common::cli
