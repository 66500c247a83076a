#include "common/util/error.hpp"

#include "common/util/check.hpp"
#include "common/util/json.hpp"

#include <array>
#include <stdexcept>
#include <utility>

namespace common {
namespace {

constexpr std::array<std::pair<Errc, std::string_view>, 19> kNames{{
    {Errc::kOk, "ok"},
    {Errc::kMalformed, "malformed"},
    {Errc::kInvalidField, "invalid_field"},
    {Errc::kUnsupportedVersion, "unsupported_version"},
    {Errc::kUnknownCommand, "unknown_command"},
    {Errc::kBusy, "busy"},
    {Errc::kDuplicate, "duplicate"},
    {Errc::kNotFound, "not_found"},
    {Errc::kDeadlineExceeded, "deadline_exceeded"},
    {Errc::kMaxAttempts, "max_attempts"},
    {Errc::kHopLimit, "hop_limit"},
    {Errc::kAgentError, "agent_error"},
    {Errc::kInvalidResult, "invalid_result"},
    {Errc::kShuttingDown, "shutting_down"},
    {Errc::kTimeout, "timeout"},
    {Errc::kCancelled, "cancelled"},
    {Errc::kTooLarge, "too_large"},
    {Errc::kStorageUnavailable, "storage_unavailable"},
    {Errc::kInternal, "internal"},
}};

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "casebus"; }
  std::string message(int ev) const override {
    return std::string(to_string(static_cast<Errc>(ev)));
  }
};

}  // namespace

std::string_view to_string(Errc e) noexcept {
  for (const auto& [code, name] : kNames) {
    if (code == e) return name;
  }
  return "internal";
}

Errc errc_from_string(std::string_view s) noexcept {
  for (const auto& [code, name] : kNames) {
    if (name == s) return code;
  }
  return Errc::kInternal;
}

const boost::system::error_category& casebus_category() noexcept {
  static const Category category;
  return category;
}

std::string Error::to_json() const {
  std::string out = "{\"code\":";
  json::append_string(out, common::to_string(code));
  out += ",\"message\":";
  json::append_string(out, message);
  if (!field.empty()) {
    out += ",\"field\":";
    json::append_string(out, field);
  }
  out += '}';
  return out;
}

std::string Error::describe() const {
  if (field.empty()) return fmt::format("{}: {}", code, message);
  return fmt::format("{}: {}: {}", code, field, message);
}

Error make_error(Errc code, std::string field, std::string message) {
  return Error{code, std::move(field), std::move(message)};
}

void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw std::runtime_error(e.describe());
}

namespace detail {
void check_failed(const char* expr, const char* file, int line, const std::string& msg) {
  std::string what = fmt::format("invariant violated: {} ({}:{}): {}", expr, file, line, msg);
#ifndef NDEBUG
  std::fputs(what.c_str(), stderr);
  std::fputc('\n', stderr);
  std::abort();
#else
  throw std::logic_error(what);
#endif
}
}  // namespace detail

}  // namespace common
