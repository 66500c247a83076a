#pragma once
// The routes that create cases (docs/api.md#routes) and how each request body becomes a case
// payload (docs/cases.md): POST /v1/cases takes the payload itself; the routes the seed Workers
// call take their own shapes (/agent, /route, /dispatch for customer messages, /lending-review for
// loan applications, /api/payments for payment decisions) and /validate runs the edge-side checks
// only. Pure: no I/O.
//
// Free text is redacted here (common/redact) before it goes anywhere: agents, logs and any
// language model see only the redacted text.
#include "common/util/error.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace edge {

enum class RouteKind { kCases, kMessage, kValidate, kLending, kPayments };

struct Route {
  std::string_view path;
  RouteKind kind;
  bool waits;  // honours Prefer: wait; the seed routes always wait up to max_wait (the seed Workers expect an answer)
};

const Route* find_route(std::string_view path);

struct BuiltCase {
  nlohmann::json payload;     // a valid, redacted case payload
  std::string customer_ref;   // for the per-customer rate limit
  std::string digest;         // of the request body, for Idempotency-Key reuse checks
  nlohmann::json validation;  // /validate only: {"ok": ..., "reason": ...}
  int redactions = 0;
};

// Errors are kMalformed (not JSON) or kInvalidField naming the field of the request body.
common::Result<BuiltCase> build_case(const Route& route, std::string_view body);

}  // namespace edge
