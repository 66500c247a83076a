#pragma once
// The echo agent kind, for tests and benchmarks: it reads the payload, reports the length of
// payload.message and, when payload.echo asks for it, waits, fails or names a next hop
// (docs/agents.md "echo"). Its logic is a pure function; the handler adds the timer.
#include "common/agent/runtime.hpp"

#include <boost/asio/io_context.hpp>

#include <optional>
#include <string>

namespace agents::echo {

struct Plan {
  int delay_ms = 0;
  enum class Failure { kNone, kRetryable, kFatal } failure = Failure::kNone;
  std::optional<std::string> next;
  std::size_t chars = 0;
};

// Reads payload.message and the optional payload.echo directives {delay_ms, fail, fail_attempts,
// next}. Bad directives are an error value naming the field.
common::Result<Plan> plan(std::string_view payload_json, int attempt);

std::string result_json(const Plan& p, const common::agent::Task& task, const std::string& worker);

common::agent::Handler make_handler(boost::asio::io_context& io, const std::string& worker);

}  // namespace agents::echo
