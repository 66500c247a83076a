#pragma once
// OpenAI-compatible chat completions (POST {base_url}/v1/chat/completions), the API that vLLM,
// llama.cpp's server and Ollama serve for models run on the bank's own hardware. Header the
// transport sets: authorization: Bearer <key> when a key is configured.
//
// Structured output: JSON output mode (response_format json_object) and the schema stated in the
// system prompt; the answer is the message content, read by extract_json_object().
#include "common/llm/provider.hpp"

#include <string>
#include <string_view>

namespace common::llm::openai {

std::string request_body(const std::string& model, const CompletionRequest& r);

// finish_reason "stop" is normalised to end_turn and "length" to max_tokens, as Anthropic names them.
CallResult<Completion> parse_response(int status, std::string_view body, std::string_view retry_after = {});

}  // namespace common::llm::openai
