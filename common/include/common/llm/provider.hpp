#pragma once
// Language-model providers for the agents (issue 6): one request and answer shape for every
// provider, and the codecs that turn them into a provider's HTTP body and back. The HTTP transport
// (Beast, TLS, connection pool, retries against the task's deadline) stands on these; the codecs
// themselves do no I/O, so every provider's wire format is unit-tested without a server.
//
// Providers: the Anthropic Messages API (anthropic.hpp) and OpenAI-compatible chat completions for
// models served on-prem by vLLM, llama.cpp's server or Ollama (openai.hpp).
#include "common/util/error.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace common::llm {

// What an agent asks of a model. The text is already redacted (common/redact): nothing else may
// reach a provider.
struct CompletionRequest {
  std::string system;  // the agent's prompt (agents/<kind>/prompts/)
  std::string user;    // the case, as the prompt presents it
  // The JSON schema the answer must follow (an object schema). Anthropic: a forced tool whose
  // input_schema it is; OpenAI-compatible: JSON output mode plus the schema in the prompt.
  nlohmann::json schema = nlohmann::json::object();
  std::string tool_name = "record_result";
  int max_tokens = 1024;
  double temperature = 0;
};

struct Usage {
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
};

// A provider's answer: the model's text (as it came), the structured output when the provider
// returned one as such (Anthropic tool use), why it stopped, and what it cost.
struct Completion {
  std::string text;
  std::optional<nlohmann::json> structured;
  std::string stop_reason;  // end_turn, tool_use, max_tokens, stop (normalised: see each codec)
  Usage usage;
  std::string model;        // as the provider reports it
};

// Why a call did not give a completion, and whether trying again may help.
struct CallError {
  Error error;          // code kAgentError; field names the provider's error type or the HTTP status
  bool retryable = false;
  int http_status = 0;  // 0: no HTTP answer (connection failure, timeout)
  std::optional<std::chrono::milliseconds> retry_after;
};

template <class T>
using CallResult = boost::system::result<T, CallError>;
[[noreturn]] void throw_exception_from_error(const CallError& e, const boost::source_location& loc);

// The first JSON object in a model's text: the whole text when it is one; else the content of a
// ```json (or bare ```) code fence; else the first balanced {...} that parses, with prose around
// it. Models asked for JSON add fences and sentences; this takes them off and nothing more: the
// object still goes through the agent's schema and the broker's policy. An Error names what is
// wrong (no object at all, or the only candidate does not parse).
Result<nlohmann::json> extract_json_object(std::string_view text);

// The answer's JSON object: the structured output when the provider returned one, else
// extract_json_object(text).
Result<nlohmann::json> answer_object(const Completion& c);

// ---- retries (both providers)

// Statuses worth another attempt: 408, 409, 429, 500-599 (529: Anthropic overloaded). 400, 401,
// 403, 404 and 413 are the caller's fault and are not.
bool retryable_status(int status) noexcept;
// A Retry-After header: delta-seconds (fractions allowed, as some servers send them); an HTTP date
// or nonsense gives nullopt. Capped at one hour.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value) noexcept;
// The wait before attempt `attempt` (2, 3, ...): full jitter over an exponential ceiling
// (initial * 2^(attempt-2), at most max), never less than a server's retry-after. unit in [0, 1)
// is the caller's random draw, so the function is deterministic for tests.
std::chrono::milliseconds backoff(int attempt, std::optional<std::chrono::milliseconds> retry_after, double unit,
                                  std::chrono::milliseconds initial = std::chrono::milliseconds(500),
                                  std::chrono::milliseconds max = std::chrono::milliseconds(8000)) noexcept;

}  // namespace common::llm
