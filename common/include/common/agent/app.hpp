#pragma once
// What every agent executable's main() calls: CLI and config (docs/configuration.md), logging as
// "agent.<kind>", one io_context on the main thread, the runtime, and SIGTERM/SIGINT handling
// (drain, then exit 0).
#include "common/agent/runtime.hpp"

#include <filesystem>
#include <functional>
#include <string>

namespace common::agent {

struct AgentContext {
  boost::asio::io_context& io;
  const Settings& settings;
  // The config's "settings" object: the agent kind's own options (empty object when absent).
  const nlohmann::json& agent_settings;
  // Relative paths in agent_settings (template directories, rule files) are relative to the
  // config file's directory; the working directory when there is no config file.
  std::filesystem::path config_dir;
};

using HandlerFactory = std::function<Handler(AgentContext&)>;

int run_agent(int argc, char** argv, const std::string& kind, const std::string& summary,
              const HandlerFactory& make_handler);

}  // namespace common::agent
