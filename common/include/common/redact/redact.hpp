#pragma once
// PII redaction before text enters the bus: card numbers, IBANs, US SSNs, account numbers named as
// such, e-mail addresses and phone numbers in free text become placeholders, so that agents, logs
// and language models only ever see the redacted text. Shared by every gateway; rules, formats and
// known limits in docs/redaction.md.
//
// redact() is a pure function: no state, safe from any thread, no exceptions but std::bad_alloc.
// It accepts any bytes (invalid UTF-8 passes through unchanged), runs in time linear in the input
// and returns a text at most 1.5 times as long as the input. It is idempotent:
// redact(redact(x).text).text == redact(x).text.
#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace common::redact {

// Also the precedence when two kinds match at the same place, except account, which comes last.
enum class Kind { kCard, kIban, kSsn, kAccount, kEmail, kPhone };
inline constexpr std::size_t kKinds = 6;

// "card", "iban", "ssn", "account", "email", "phone".
std::string_view to_string(Kind kind) noexcept;

struct Result {
  // A card becomes "[card ending 1111]" (its last four digits only); the others "[iban]",
  // "[ssn]", "[account]", "[email]", "[phone]".
  std::string text;
  std::array<int, kKinds> counts{};  // items replaced, indexed by Kind
  int count(Kind kind) const noexcept { return counts[static_cast<std::size_t>(kind)]; }
  int total() const noexcept;
};

Result redact(std::string_view text);
std::string redact_text(std::string_view text);

}  // namespace common::redact
