#pragma once
// The one place where an error value becomes an HTTP status (docs/api.md#status-and-error-codes),
// like userver's GetHttpStatus: the edge's own checks (request bodies, Idempotency-Key) and the
// broker's answers (a refused submission, a case lookup) go through it, so the same condition
// gets the same status and code whichever side noticed it. Pure: no I/O.
//
// The message and field stay the caller's: it knows what the client may be told.
#include "common/util/error.hpp"

#include <chrono>
#include <string_view>

namespace edge {

struct HttpError {
  unsigned status;                   // the HTTP status
  std::string_view code;             // error.code in the body (static storage)
  std::chrono::seconds retry_after;  // Retry-After; 0: none (the request will not succeed as sent)
};

HttpError http_error(common::Errc code) noexcept;

}  // namespace edge
