#pragma once
// The Anthropic Messages API (POST {base_url}/v1/messages): the request body and the reading of
// an answer. Headers the transport sets: x-api-key, anthropic-version: 2023-06-01,
// content-type: application/json.
//
// Structured output is a forced tool: the request declares one tool whose input_schema is the
// answer's schema and sets tool_choice to it, so the answer is a tool_use content block whose
// input is the object (Completion::structured). Text blocks are kept in Completion::text.
#include "common/llm/provider.hpp"

#include <string>
#include <string_view>

namespace common::llm::anthropic {

inline constexpr std::string_view kVersion = "2023-06-01";

std::string request_body(const std::string& model, const CompletionRequest& r);

// status: the HTTP status; body: the response body; retry_after: the Retry-After header, if any.
// 200 with a message gives the Completion; anything else a CallError naming the API's error type
// (e.g. overloaded_error for 529), retryable per retryable_status().
CallResult<Completion> parse_response(int status, std::string_view body, std::string_view retry_after = {});

}  // namespace common::llm::anthropic
