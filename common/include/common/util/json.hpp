#pragma once
// nlohmann/json conventions shared by every component: std::optional support (3.11.2 has none),
// strict objects (unknown keys are errors) and a JSON string writer for hand-composed documents.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// Reads j[key] into out when present (and not null); leaves out unchanged otherwise. A value of
// the wrong type throws std::invalid_argument naming the key (release builds do not carry
// nlohmann's JSON_DIAGNOSTICS paths).
template <class T>
void get_optional(const json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  try {
    it->get_to(out);
  } catch (const nlohmann::json::type_error& e) {
    throw std::invalid_argument(std::string(key) + ": " + e.what());
  } catch (const nlohmann::json::out_of_range& e) {
    throw std::invalid_argument(std::string(key) + ": " + e.what());
  }
}

// An integer member, or throws std::invalid_argument naming the key.
std::int64_t integer_at(const json& v, const char* key);

// Reading untrusted JSON at a boundary (case payloads, agent results, task context) so that every
// error names the field at fault. The readers throw FieldError; the boundary catches it and
// returns an Error value (kInvalidField with that field and message).
struct FieldError {
  std::string field, message;
};

// The member, or nullptr when it is absent or null (null counts as absent).
const json* member(const json& object, std::string_view key);

// One JSON object read strictly: a key that was not asked for by done() is "unknown field" (named
// only when it is 1-64 characters of A-Z a-z 0-9 _ -; anything else is "<unnamed>", so untrusted
// keys never reach errors, logs or results).
// path names the object in errors ("payload.transaction"); keys are "<path>.<key>", or "<key>"
// for an empty path.
class StrictObject final {
 public:
  // null_is_absent: find() treats a null member as absent (it still counts as read).
  StrictObject(const json& j, std::string path, bool null_is_absent = true);
  std::string field(std::string_view key) const;
  const json* find(std::string_view key);
  const json& need(std::string_view key);  // "missing required field"
  void done() const;

 private:
  const json& j_;
  std::string path_;
  bool null_is_absent_;
  std::vector<std::string> seen_;
};

// A string of at most max_bytes ("must be a string", "must not be empty", "must be at most N bytes").
std::string string_at(const json& v, const std::string& field, std::size_t max_bytes, bool allow_empty = false);
// A finite number in [min, max] ("must be a number", "must be between min and max").
double number_at(const json& v, const std::string& field, double min, double max);

// Appends s as a JSON string literal (quotes included), escaping per RFC 8259. Input must be
// UTF-8; it is copied byte for byte except for '"', '\\' and control characters.
void append_string(std::string& out, std::string_view s);

// Composes one JSON object as text, appending to a string: for hot paths where building a DOM
// would cost more than the work itself. Keys are trusted literals; string values are escaped;
// raw() values must already be valid JSON. close() ends the object.
class ObjectWriter final {
 public:
  explicit ObjectWriter(std::string& out) : out_(out) { out_.push_back('{'); }
  ObjectWriter& string(std::string_view key, std::string_view value) {
    this->key(key);
    append_string(out_, value);
    return *this;
  }
  ObjectWriter& integer(std::string_view key, long long value) {
    this->key(key);
    out_ += std::to_string(value);
    return *this;
  }
  ObjectWriter& raw(std::string_view key, std::string_view json) {
    this->key(key);
    out_ += json;
    return *this;
  }
  // The key and its separator; the caller appends the value itself.
  std::string& key(std::string_view key) {
    if (!first_) out_.push_back(',');
    first_ = false;
    out_.push_back('"');
    out_ += key;
    out_ += "\":";
    return out_;
  }
  void close() { out_.push_back('}'); }

 private:
  std::string& out_;
  bool first_ = true;
};

}  // namespace common::json
