#pragma once
// One project error category, and the error value our decoders return. Anything a peer or the
// network can cause is reported as a common::Error inside a Result, never thrown or asserted.
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <boost/assert/source_location.hpp>

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace common {

// Wire-visible error codes; their snake_case names (to_string) appear in JSON errors.
enum class Errc {
  kOk = 0,
  kMalformed,           // not decodable at all: frames, JSON syntax
  kInvalidField,        // decodable, but a field is missing, of the wrong type or out of range
  kUnsupportedVersion,  // protocol or envelope version we do not speak
  kUnknownCommand,
  kBusy,                // a bound was reached: queue full, too many cases
  kDuplicate,
  kNotFound,
  kDeadlineExceeded,
  kMaxAttempts,
  kHopLimit,
  kAgentError,          // an agent answered FAIL
  kInvalidResult,       // an agent answered DONE with a result that is not a JSON object
  kShuttingDown,
  kTimeout,
  kCancelled,
  kTooLarge,            // a task or result would exceed the peers' maximum message size
  kStorageUnavailable,  // the broker cannot store what it would acknowledge (disk full, unwritable)
  kInternal,
};

std::string_view to_string(Errc e) noexcept;
// Inverse of to_string; kInternal for unknown names.
Errc errc_from_string(std::string_view s) noexcept;

const boost::system::error_category& casebus_category() noexcept;
inline boost::system::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), casebus_category()};
}

// An error that names what is wrong: the code, the field (JSON path like "payload.amount", or a
// frame name) and a human-readable reason.
struct Error {
  Errc code = Errc::kInternal;
  std::string field;
  std::string message;

  // {"code":"...","message":"...","field":"..."}; field omitted when empty.
  std::string to_json() const;
  std::string describe() const;  // one line for logs and CLI output
};

Error make_error(Errc code, std::string field, std::string message);

// boost::system::result with our Error; value() on an error throws std::runtime_error.
template <class T>
using Result = boost::system::result<T, Error>;

[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

}  // namespace common

namespace boost::system {
template <>
struct is_error_code_enum<common::Errc> : std::true_type {};
}  // namespace boost::system

template <>
struct fmt::formatter<common::Errc> : fmt::formatter<std::string_view> {
  auto format(common::Errc e, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(common::to_string(e), ctx);
  }
};
