#include "echo.hpp"

#include "common/bus/envelope.hpp"
#include "common/util/json.hpp"

#include <boost/asio/steady_timer.hpp>

namespace agents::echo {

using common::Errc;
using common::make_error;

common::Result<Plan> plan(std::string_view payload_json, int attempt) {
  Plan p;
  nlohmann::json payload;
  try {
    payload = nlohmann::json::parse(payload_json);
  } catch (const nlohmann::json::exception& e) {
    return make_error(Errc::kMalformed, "payload", e.what());
  }
  if (auto it = payload.find("message"); it != payload.end() && it->is_string()) {
    p.chars = it->get_ref<const std::string&>().size();
  }
  auto it = payload.find("echo");
  if (it == payload.end()) return p;
  const auto& d = *it;
  if (!d.is_object()) return make_error(Errc::kInvalidField, "payload.echo", "must be an object");
  for (const auto& [key, value] : d.items()) {
    if (key == "delay_ms") {
      if (!value.is_number_integer() || value.get<long long>() < 0 || value.get<long long>() > 60000) {
        return make_error(Errc::kInvalidField, "payload.echo.delay_ms", "must be an integer between 0 and 60000");
      }
      p.delay_ms = value.get<int>();
    } else if (key == "fail") {
      if (value == "retryable") {
        p.failure = Plan::Failure::kRetryable;
      } else if (value == "fatal") {
        p.failure = Plan::Failure::kFatal;
      } else {
        return make_error(Errc::kInvalidField, "payload.echo.fail", "must be \"retryable\" or \"fatal\"");
      }
    } else if (key == "fail_attempts") {
      // Fail retryably while attempt <= fail_attempts, then succeed: exercises retries.
      if (!value.is_number_integer()) return make_error(Errc::kInvalidField, "payload.echo.fail_attempts", "must be an integer");
      if (attempt <= value.get<int>() && p.failure == Plan::Failure::kNone) p.failure = Plan::Failure::kRetryable;
    } else if (key == "next") {
      if (!value.is_string() || !common::bus::valid_agent_kind(value.get_ref<const std::string&>())) {
        return make_error(Errc::kInvalidField, "payload.echo.next", "must be an agent kind");
      }
      p.next = value.get<std::string>();
    } else {
      return make_error(Errc::kInvalidField, "payload.echo." + key, "unknown directive");
    }
  }
  return p;
}

std::string result_json(const Plan& p, const common::agent::Task& task, const std::string& worker) {
  nlohmann::json r{{"status", "ok"},
                   {"worker", worker},
                   {"chars", p.chars},
                   {"attempt", task.envelope.attempt},
                   {"in_flight", task.in_flight_at_start}};
  if (p.next) r["next"] = *p.next;
  return r.dump();
}

common::agent::Handler make_handler(boost::asio::io_context& io, const std::string& worker) {
  return [&io, worker](common::agent::Task task, common::agent::Responder responder) {
    auto p = plan(task.envelope.payload, task.envelope.attempt);
    if (!p) {
      responder.fail(std::string(common::to_string(p.error().code)), p.error().describe(), false);
      return;
    }
    auto answer = [plan = *p, worker](const common::agent::Task& t, common::agent::Responder& r) {
      switch (plan.failure) {
        case Plan::Failure::kRetryable:
          r.fail("echo_failure", "asked to fail (retryable)", true);
          return;
        case Plan::Failure::kFatal:
          r.fail("echo_failure", "asked to fail (fatal)", false);
          return;
        case Plan::Failure::kNone:
          r.done(result_json(plan, t, worker));
      }
    };
    if (p->delay_ms == 0) {
      answer(task, responder);
      return;
    }
    // Asynchronous completion: the task stays in flight while the timer runs, and the process
    // keeps taking other tasks up to its capacity.
    auto timer = std::make_shared<boost::asio::steady_timer>(io, std::chrono::milliseconds(p->delay_ms));
    timer->async_wait([timer, answer, task = std::move(task), responder = std::move(responder)](
                          const boost::system::error_code&) mutable { answer(task, responder); });
  };
}

}  // namespace agents::echo
