#include "errors.hpp"

namespace edge {

using common::Errc;
using std::chrono::seconds;

HttpError http_error(Errc code) noexcept {
  switch (code) {
    case Errc::kNotFound:
      return {404, "not_found", seconds(0)};
    // The Idempotency-Key was used with another body: the edge's own check and the broker's (which
    // remembers keys across edge restarts) answer alike.
    case Errc::kDuplicate:
      return {422, "idempotency_key_reused", seconds(0)};
    // Temporary, and nothing was accepted: the same request may be sent again.
    case Errc::kBusy:
      return {503, "busy", seconds(1)};
    case Errc::kStorageUnavailable:
      return {503, "storage_unavailable", seconds(1)};
    // No usable answer from the broker (none in time, shutting down, or one the edge cannot read):
    // whether a submission was accepted is unknown, so only a retry with the same
    // Idempotency-Key is safe.
    case Errc::kShuttingDown:
    case Errc::kTimeout:
    case Errc::kInternal:
      return {503, "broker_unavailable", seconds(1)};
    // The request as sent: the body (checked by the edge, or rarely by the broker: the same
    // schema) or the case's deadline.
    default:
      return {400, common::to_string(code), seconds(0)};
  }
}

}  // namespace edge
