#include "common/util/log.hpp"

#include <spdlog/cfg/env.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <stdexcept>

namespace common::log {
namespace {

// %* : the log message as a JSON string literal, for the JSON line format.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string s;
    json::append_string(s, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(s.data(), s.data() + s.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

spdlog::level::level_enum parse_level(const std::string& s) {
  const auto level = spdlog::level::from_str(s);
  if (level == spdlog::level::off && s != "off") {
    throw std::invalid_argument("unknown log level \"" + s + "\" (trace, debug, info, warn, error, critical, off)");
  }
  return level;
}

}  // namespace

void from_json(const nlohmann::json& j, Settings& s) {
  json::reject_unknown_keys(j, {"level", "format"});
  json::get_optional(j, "level", s.level);
  if (auto it = j.find("format"); it != j.end()) {
    if (!it->is_string()) throw std::invalid_argument("log.format must be \"text\" or \"json\"");
    const auto f = it->get<std::string>();
    if (f == "text") {
      s.format = Format::kText;
    } else if (f == "json") {
      s.format = Format::kJson;
    } else {
      throw nlohmann::json::other_error::create(501, "log format must be \"text\" or \"json\"", &*it);
    }
  }
  parse_level(s.level);
}

void to_json(nlohmann::json& j, const Settings& s) {
  j = nlohmann::json{{"level", s.level}, {"format", s.format == Format::kJson ? "json" : "text"}};
}

std::shared_ptr<spdlog::logger> setup(const std::string& name, const Settings& settings) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(name, sink);
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (settings.format == Format::kJson) {
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","logger":"%n","pid":%P,"msg":%*})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %L %n[%P] %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(parse_level(settings.level));
  logger->flush_on(spdlog::level::info);
  spdlog::drop(name);
  spdlog::register_logger(logger);
  spdlog::cfg::load_env_levels();  // SPDLOG_LEVEL overrides config
  return logger;
}

std::shared_ptr<spdlog::logger> get(const std::string& name) {
  if (auto l = spdlog::get(name)) return l;
  static const auto null_logger =
      std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>());
  return null_logger;
}

}  // namespace common::log
