// The provider codecs: request bodies, answers, errors, JSON extraction and the retry policy
// (common/llm/provider.hpp, anthropic.hpp, openai.hpp).
#include "common/llm/anthropic.hpp"
#include "common/llm/openai.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace common::llm {

using nlohmann::json;

namespace {

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

CallError call_error(int status, std::string type, std::string message, std::string_view retry_after) {
  CallError e;
  e.http_status = status;
  e.retryable = retryable_status(status);
  e.retry_after = parse_retry_after(retry_after);
  if (type.empty()) type = "http_" + std::to_string(status);
  // Provider messages can quote the request (and so case text): kept short, never logged above
  // debug by the callers.
  if (message.size() > 300) message.resize(300);
  e.error = make_error(Errc::kAgentError, std::move(type), fmt::format("the model provider answered {}: {}", status, message));
  return e;
}

// The error object of a non-200 answer: Anthropic {"type":"error","error":{"type","message"}},
// OpenAI-compatible {"error":{"type"|"code","message"}} (or a string). Anything else: the status.
CallError error_from_body(int status, std::string_view body, std::string_view retry_after) {
  std::string type, message = "no error details";
  try {
    const auto j = json::parse(body);
    if (const auto it = j.find("error"); it != j.end()) {
      if (it->is_object()) {
        if (const auto t = it->find("type"); t != it->end() && t->is_string()) type = t->get<std::string>();
        if (const auto c = it->find("code"); type.empty() && c != it->end() && c->is_string()) type = c->get<std::string>();
        if (const auto m = it->find("message"); m != it->end() && m->is_string()) message = m->get<std::string>();
      } else if (it->is_string()) {
        message = it->get<std::string>();
      }
    }
  } catch (const json::exception&) {
    // not JSON (a proxy's HTML page): the status says enough
  }
  return call_error(status, std::move(type), std::move(message), retry_after);
}

CallError malformed(int status, const std::string& what) {
  CallError e;
  e.http_status = status;
  e.retryable = false;
  e.error = make_error(Errc::kInvalidResult, "provider", "the model provider's answer is not usable: " + what);
  return e;
}

Usage usage_of(const json& j, const char* in, const char* out) {
  Usage u;
  if (const auto it = j.find("usage"); it != j.end() && it->is_object()) {
    if (const auto a = it->find(in); a != it->end() && a->is_number_integer()) u.input_tokens = a->get<std::int64_t>();
    if (const auto b = it->find(out); b != it->end() && b->is_number_integer()) u.output_tokens = b->get<std::int64_t>();
  }
  return u;
}

// A balanced {...} starting at `from` (strings and escapes respected); npos when unbalanced.
std::size_t object_end(std::string_view s, std::size_t from) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = from; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}' && --depth == 0) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

std::optional<json> parse_object(std::string_view s) {
  try {
    auto j = json::parse(s);
    if (j.is_object()) return j;
  } catch (const json::exception&) {
  }
  return std::nullopt;
}

}  // namespace

[[noreturn]] void throw_exception_from_error(const CallError& e, const boost::source_location&) {
  throw std::runtime_error(e.error.describe());
}

Result<json> extract_json_object(std::string_view text) {
  if (auto j = parse_object(text)) return *j;
  // A code fence: ```json ... ``` or ``` ... ```.
  if (const auto open = text.find("```"); open != std::string_view::npos) {
    auto body_start = text.find('\n', open);
    if (body_start != std::string_view::npos) {
      ++body_start;
      const auto close = text.find("```", body_start);
      if (close != std::string_view::npos) {
        if (auto j = parse_object(text.substr(body_start, close - body_start))) return *j;
      }
    }
  }
  // Prose around it: each balanced {...} in turn, the first that parses.
  bool candidate = false;
  for (std::size_t at = text.find('{'); at != std::string_view::npos; at = text.find('{', at + 1)) {
    const auto end = object_end(text, at);
    if (end == std::string_view::npos) continue;
    candidate = true;
    if (auto j = parse_object(text.substr(at, end - at))) return *j;
  }
  return make_error(Errc::kInvalidResult, "result",
                    candidate ? "the model's answer has no JSON object that parses" : "the model's answer holds no JSON object");
}

Result<json> answer_object(const Completion& c) {
  if (c.structured) {
    if (c.structured->is_object()) return *c.structured;
    return make_error(Errc::kInvalidResult, "result", "the model's structured output is not a JSON object");
  }
  return extract_json_object(c.text);
}

bool retryable_status(int status) noexcept {
  return status == 408 || status == 409 || status == 429 || (status >= 500 && status <= 599);
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view v) noexcept {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty() || !std::all_of(v.begin(), v.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; })) return std::nullopt;
  double seconds = 0;
  const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (ec != std::errc() || ptr != v.data() + v.size() || !std::isfinite(seconds) || seconds < 0) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(seconds, 3600.0) * 1000));
}

std::chrono::milliseconds backoff(int attempt, std::optional<std::chrono::milliseconds> retry_after, double unit,
                                  std::chrono::milliseconds initial, std::chrono::milliseconds max) noexcept {
  const int doublings = std::clamp(attempt - 2, 0, 20);
  const auto ceiling = std::min<std::int64_t>(max.count(), initial.count() << doublings);
  const auto jittered = std::chrono::milliseconds(static_cast<std::int64_t>(std::clamp(unit, 0.0, 1.0) * static_cast<double>(ceiling)));
  return retry_after ? std::max(jittered, *retry_after) : jittered;
}

// ---------------------------------------------------------------------------------------------

namespace anthropic {

std::string request_body(const std::string& model, const CompletionRequest& r) {
  json body{{"model", model},
            {"max_tokens", r.max_tokens},
            {"temperature", r.temperature},
            {"messages", json::array({{{"role", "user"}, {"content", r.user}}})}};
  if (!r.system.empty()) body["system"] = r.system;
  if (!r.schema.empty()) {
    body["tools"] = json::array({{{"name", r.tool_name},
                                  {"description", "Record the answer. Call this exactly once with the complete result."},
                                  {"input_schema", r.schema}}});
    body["tool_choice"] = {{"type", "tool"}, {"name", r.tool_name}};
  }
  return dump(body);
}

CallResult<Completion> parse_response(int status, std::string_view body, std::string_view retry_after) {
  if (status != 200) return error_from_body(status, body, retry_after);
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception&) {
    return malformed(status, "not JSON");
  }
  if (!j.is_object() || j.value("type", "") != "message") return malformed(status, "not a message");
  const auto content = j.find("content");
  if (content == j.end() || !content->is_array()) return malformed(status, "no content blocks");
  Completion c;
  for (const auto& block : *content) {
    if (!block.is_object()) continue;
    const auto type = block.value("type", "");
    if (type == "text" && block.contains("text") && block.at("text").is_string()) {
      c.text += block.at("text").get<std::string>();
    } else if (type == "tool_use" && !c.structured && block.contains("input")) {
      c.structured = block.at("input");
    }
  }
  if (const auto sr = j.find("stop_reason"); sr != j.end() && sr->is_string()) c.stop_reason = sr->get<std::string>();
  if (const auto m = j.find("model"); m != j.end() && m->is_string()) c.model = m->get<std::string>();
  c.usage = usage_of(j, "input_tokens", "output_tokens");
  if (c.stop_reason == "max_tokens" && !c.structured) return malformed(status, "the answer was cut off at max_tokens");
  return c;
}

}  // namespace anthropic

namespace openai {

std::string request_body(const std::string& model, const CompletionRequest& r) {
  std::string system = r.system;
  if (!r.schema.empty()) {
    system += "\n\nAnswer with one JSON object and nothing else. It must follow this JSON schema:\n" + dump(r.schema);
  }
  json messages = json::array();
  if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
  messages.push_back({{"role", "user"}, {"content", r.user}});
  json body{{"model", model}, {"messages", std::move(messages)}, {"max_tokens", r.max_tokens}, {"temperature", r.temperature}};
  if (!r.schema.empty()) body["response_format"] = {{"type", "json_object"}};
  return dump(body);
}

CallResult<Completion> parse_response(int status, std::string_view body, std::string_view retry_after) {
  if (status != 200) return error_from_body(status, body, retry_after);
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception&) {
    return malformed(status, "not JSON");
  }
  const auto choices = j.is_object() ? j.find("choices") : j.end();
  if (!j.is_object() || choices == j.end() || !choices->is_array() || choices->empty() || !choices->at(0).is_object()) {
    return malformed(status, "no choices");
  }
  const auto& choice = choices->at(0);
  const auto message = choice.find("message");
  if (message == choice.end() || !message->is_object()) return malformed(status, "no message");
  Completion c;
  if (const auto content = message->find("content"); content != message->end() && content->is_string()) c.text = content->get<std::string>();
  const auto finish = choice.value("finish_reason", json(nullptr));
  const std::string reason = finish.is_string() ? finish.get<std::string>() : "";
  c.stop_reason = reason == "stop" ? "end_turn" : reason == "length" ? "max_tokens" : reason;
  if (const auto m = j.find("model"); m != j.end() && m->is_string()) c.model = m->get<std::string>();
  c.usage = usage_of(j, "prompt_tokens", "completion_tokens");
  if (c.stop_reason == "max_tokens") return malformed(status, "the answer was cut off at max_tokens");
  return c;
}

}  // namespace openai

}  // namespace common::llm
