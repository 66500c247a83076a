#pragma once
// Identifiers: random (getrandom(2)), never rand(). Case ids are 128-bit, hex, "c-" prefixed.
#include <string>

namespace common {

std::string new_case_id();
// 16 random bytes as 32 lowercase hex digits.
std::string random_hex128();
// A fresh W3C traceparent: "00-<trace-id>-<parent-id>-01".
std::string new_traceparent();
// True when s is a syntactically valid W3C traceparent: lowercase hex, any version but ff (as the
// W3C spec asks of parsers), non-zero trace and parent ids.
bool valid_traceparent(std::string_view s);

}  // namespace common
