#pragma once
// Logging set-up: one named logger per component ("broker", "agent.echo", "casebusctl"), to
// stderr (journald captures it), as text or one JSON object per line. The level comes from config
// or --log-level and can be overridden by SPDLOG_LEVEL. Libraries fetch their logger by name with
// get(); before set-up (unit tests) that is a logger that drops everything.
#include "common/util/json.hpp"

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace common::log {

enum class Format { kText, kJson };

struct Settings {
  std::string level = "info";
  Format format = Format::kText;
};

void from_json(const nlohmann::json& j, Settings& s);
void to_json(nlohmann::json& j, const Settings& s);

// Creates and registers the component's logger. Throws std::invalid_argument on a bad level.
std::shared_ptr<spdlog::logger> setup(const std::string& name, const Settings& settings);

std::shared_ptr<spdlog::logger> get(const std::string& name);

}  // namespace common::log
