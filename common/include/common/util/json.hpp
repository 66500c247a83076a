#pragma once
// nlohmann/json conventions shared by every component: std::optional support (3.11.2 has none),
// strict objects (unknown keys are errors) and a JSON string writer for hand-composed documents.
#include <nlohmann/json.hpp>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

NLOHMANN_JSON_NAMESPACE_BEGIN
template <class T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& v) {
    if (v) {
      j = *v;
    } else {
      j = nullptr;
    }
  }
  static void from_json(const json& j, std::optional<T>& v) {
    if (j.is_null()) {
      v.reset();
    } else {
      v = j.get<T>();
    }
  }
};
NLOHMANN_JSON_NAMESPACE_END

namespace common::json {

using nlohmann::json;

// Throws nlohmann::json::other_error naming the first key of `j` not in `allowed` (config and
// control messages reject unknown keys so that typos do not pass silently).
void reject_unknown_keys(const json& j, std::initializer_list<std::string_view> allowed);

// Reads j[key] into out when present (and not null); leaves out unchanged otherwise.
template <class T>
void get_optional(const json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) it->get_to(out);
}

// Appends s as a JSON string literal (quotes included), escaping per RFC 8259. Input must be
// UTF-8; it is copied byte for byte except for '"', '\\' and control characters.
void append_string(std::string& out, std::string_view s);

}  // namespace common::json
