#include "common/util/json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace common::json {

void reject_unknown_keys(const json& j, std::initializer_list<std::string_view> allowed) {
  if (!j.is_object()) {
    throw nlohmann::json::type_error::create(302, "expected an object", &j);
  }
  for (const auto& [key, value] : j.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      throw nlohmann::json::other_error::create(501, "unknown key \"" + key + "\"", &j);
    }
  }
}

std::int64_t integer_at(const json& v, const char* key) {
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))) {
    throw std::invalid_argument(std::string(key) + " must be an integer");
  }
  return v.get<std::int64_t>();
}

const json* member(const json& object, std::string_view key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

StrictObject::StrictObject(const json& j, std::string path, bool null_is_absent)
    : j_(j), path_(std::move(path)), null_is_absent_(null_is_absent) {
  if (!j.is_object()) throw FieldError{path_, "must be a JSON object"};
}

std::string StrictObject::field(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const json* StrictObject::find(std::string_view key) {
  auto it = j_.find(key);
  if (it == j_.end()) return nullptr;
  seen_.emplace_back(key);
  return null_is_absent_ && it->is_null() ? nullptr : &*it;
}

const json& StrictObject::need(std::string_view key) {
  const json* v = find(key);
  if (!v) throw FieldError{field(key), "missing required field"};
  return *v;
}

void StrictObject::done() const {
  for (auto it = j_.begin(); it != j_.end(); ++it) {
    if (std::find(seen_.begin(), seen_.end(), it.key()) != seen_.end()) continue;
    // The key is untrusted text that errors, logs and final cases repeat: name it only when it
    // looks like a field name.
    const auto& k = it.key();
    const bool plain = !k.empty() && k.size() <= 64 && std::all_of(k.begin(), k.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
    throw FieldError{plain ? field(k) : field("<unnamed>"), plain ? "unknown field" : "unknown field (its name is not shown)"};
  }
}

std::string string_at(const json& v, const std::string& field, std::size_t max_bytes, bool allow_empty) {
  if (!v.is_string()) throw FieldError{field, "must be a string"};
  const auto& s = v.get_ref<const std::string&>();
  if (!allow_empty && s.empty()) throw FieldError{field, "must not be empty"};
  if (s.size() > max_bytes) throw FieldError{field, fmt::format("must be at most {} bytes", max_bytes)};
  return s;
}

double number_at(const json& v, const std::string& field, double min, double max) {
  if (!v.is_number()) throw FieldError{field, "must be a number"};
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < min || d > max) throw FieldError{field, fmt::format("must be between {} and {}", min, max)};
  return d;
}

void append_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t run = 0;  // start of the current run of bytes that need no escaping
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

}  // namespace common::json
