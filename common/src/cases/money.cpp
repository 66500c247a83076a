#include "common/cases/money.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <array>
#include <regex>

namespace common::money {
namespace {

struct Currency {
  std::string_view code;
  int exponent;
};

// ISO 4217 active codes with their minor units (the standard's list, without precious metals,
// testing and "no currency" codes). Sorted, for binary search.
constexpr Currency kCurrencies[] = {
    {"AED", 2}, {"AFN", 2}, {"ALL", 2}, {"AMD", 2}, {"AOA", 2}, {"ARS", 2}, {"AUD", 2}, {"AWG", 2}, {"AZN", 2},
    {"BAM", 2}, {"BBD", 2}, {"BDT", 2}, {"BGN", 2}, {"BHD", 3}, {"BIF", 0}, {"BMD", 2}, {"BND", 2}, {"BOB", 2},
    {"BOV", 2}, {"BRL", 2}, {"BSD", 2}, {"BTN", 2}, {"BWP", 2}, {"BYN", 2}, {"BZD", 2}, {"CAD", 2}, {"CDF", 2},
    {"CHE", 2}, {"CHF", 2}, {"CHW", 2}, {"CLF", 4}, {"CLP", 0}, {"CNY", 2}, {"COP", 2}, {"COU", 2}, {"CRC", 2},
    {"CUP", 2}, {"CVE", 2}, {"CZK", 2}, {"DJF", 0}, {"DKK", 2}, {"DOP", 2}, {"DZD", 2}, {"EGP", 2}, {"ERN", 2},
    {"ETB", 2}, {"EUR", 2}, {"FJD", 2}, {"FKP", 2}, {"GBP", 2}, {"GEL", 2}, {"GHS", 2}, {"GIP", 2}, {"GMD", 2},
    {"GNF", 0}, {"GTQ", 2}, {"GYD", 2}, {"HKD", 2}, {"HNL", 2}, {"HTG", 2}, {"HUF", 2}, {"IDR", 2}, {"ILS", 2},
    {"INR", 2}, {"IQD", 3}, {"IRR", 2}, {"ISK", 0}, {"JMD", 2}, {"JOD", 3}, {"JPY", 0}, {"KES", 2}, {"KGS", 2},
    {"KHR", 2}, {"KMF", 0}, {"KPW", 2}, {"KRW", 0}, {"KWD", 3}, {"KYD", 2}, {"KZT", 2}, {"LAK", 2}, {"LBP", 2},
    {"LKR", 2}, {"LRD", 2}, {"LSL", 2}, {"LYD", 3}, {"MAD", 2}, {"MDL", 2}, {"MGA", 2}, {"MKD", 2}, {"MMK", 2},
    {"MNT", 2}, {"MOP", 2}, {"MRU", 2}, {"MUR", 2}, {"MVR", 2}, {"MWK", 2}, {"MXN", 2}, {"MXV", 2}, {"MYR", 2},
    {"MZN", 2}, {"NAD", 2}, {"NGN", 2}, {"NIO", 2}, {"NOK", 2}, {"NPR", 2}, {"NZD", 2}, {"OMR", 3}, {"PAB", 2},
    {"PEN", 2}, {"PGK", 2}, {"PHP", 2}, {"PKR", 2}, {"PLN", 2}, {"PYG", 0}, {"QAR", 2}, {"RON", 2}, {"RSD", 2},
    {"RUB", 2}, {"RWF", 0}, {"SAR", 2}, {"SBD", 2}, {"SCR", 2}, {"SDG", 2}, {"SEK", 2}, {"SGD", 2}, {"SHP", 2},
    {"SLE", 2}, {"SOS", 2}, {"SRD", 2}, {"SSP", 2}, {"STN", 2}, {"SVC", 2}, {"SYP", 2}, {"SZL", 2}, {"THB", 2},
    {"TJS", 2}, {"TMT", 2}, {"TND", 3}, {"TOP", 2}, {"TRY", 2}, {"TTD", 2}, {"TWD", 2}, {"TZS", 2}, {"UAH", 2},
    {"UGX", 0}, {"USD", 2}, {"USN", 2}, {"UYI", 0}, {"UYU", 2}, {"UYW", 4}, {"UZS", 2}, {"VED", 2}, {"VES", 2},
    {"VND", 0}, {"VUV", 0}, {"WST", 2}, {"XAF", 0}, {"XCD", 2}, {"XCG", 2}, {"XOF", 0}, {"XPF", 0}, {"YER", 2},
    {"ZAR", 2}, {"ZMW", 2}, {"ZWG", 2},
};

const Currency* find(std::string_view code) noexcept {
  const auto it = std::lower_bound(std::begin(kCurrencies), std::end(kCurrencies), code,
                                   [](const Currency& c, std::string_view k) { return c.code < k; });
  return it != std::end(kCurrencies) && it->code == code ? &*it : nullptr;
}

}  // namespace

bool is_currency(std::string_view code) noexcept {
  return find(code) != nullptr;
}

std::optional<int> exponent(std::string_view code) noexcept {
  const auto* c = find(code);
  if (!c) return std::nullopt;
  return c->exponent;
}

std::string format(const Money& m) {
  const int exp = exponent(m.currency).value_or(2);
  if (exp == 0) return fmt::format("{} {}", m.minor, m.currency);
  std::int64_t scale = 1;
  for (int i = 0; i < exp; ++i) scale *= 10;
  const std::int64_t abs = m.minor < 0 ? -m.minor : m.minor;
  return fmt::format("{}{}.{:0{}} {}", m.minor < 0 ? "-" : "", abs / scale, abs % scale, exp, m.currency);
}

std::optional<std::int64_t> to_minor(std::string_view number, std::string_view currency) {
  const auto exp = exponent(currency);
  if (!exp) return std::nullopt;
  std::int64_t whole = 0;
  int frac_digits = -1;  // -1: no decimal point yet
  std::int64_t frac = 0;
  bool any = false;
  for (char c : number) {
    if (c == ',') {
      if (frac_digits >= 0) return std::nullopt;
      continue;
    }
    if (c == '.') {
      if (frac_digits >= 0) return std::nullopt;
      frac_digits = 0;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    any = true;
    if (frac_digits >= 0) {
      if (++frac_digits > *exp) return std::nullopt;  // more decimals than the currency has
      frac = frac * 10 + (c - '0');
    } else {
      whole = whole * 10 + (c - '0');
      if (whole > kMaxMinor) return std::nullopt;
    }
  }
  if (!any) return std::nullopt;
  for (int i = std::max(frac_digits, 0); i < *exp; ++i) frac *= 10;
  std::int64_t scale = 1;
  for (int i = 0; i < *exp; ++i) scale *= 10;
  if (whole > kMaxMinor / scale) return std::nullopt;
  const std::int64_t minor = whole * scale + frac;
  if (minor > kMaxMinor) return std::nullopt;
  return minor;
}

std::vector<Money> find_amounts(std::string_view message) {
  // Symbols as alternatives, not a character class: € and £ are several bytes in UTF-8.
  static const std::regex kSymbolAmount(
      R"((\$|€|£)\s?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?:\s?([A-Z]{3})\b)?)", std::regex::optimize);
  static const std::regex kCodeAmount(
      R"(\b([A-Z]{3})\s?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\b|\b(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s?([A-Z]{3})\b)",
      std::regex::optimize);
  std::vector<Money> out;
  // std::regex is slow: skip the patterns that cannot match.
  if (std::none_of(message.begin(), message.end(), [](char c) { return c >= '0' && c <= '9'; })) return out;
  const std::string text(message);
  const bool has_symbol = text.find_first_of("$\xE2\xC2") != std::string::npos;  // $, lead bytes of € and £
  if (has_symbol) {
    for (auto it = std::sregex_iterator(text.begin(), text.end(), kSymbolAmount); it != std::sregex_iterator(); ++it) {
      const auto& m = *it;
      // "C$", "A$", "HK$", "R$": a dollar that is not the US dollar. Without its ISO code after
      // the number it is no amount we can name.
      const auto at = static_cast<std::size_t>(m.position(0));
      const bool prefixed = m[1] == "$" && at > 0 && std::isalpha(static_cast<unsigned char>(text[at - 1]));
      if (prefixed && !(m[3].matched && is_currency(m[3].str()))) continue;
      const std::string currency = m[3].matched && is_currency(m[3].str()) ? m[3].str()
                                   : m[1] == "$"                           ? "USD"
                                   : m[1] == "€"                           ? "EUR"
                                                                           : "GBP";
      if (auto minor = to_minor(m[2].str(), currency)) out.push_back({*minor, currency});
    }
  }
  if (out.empty()) {
    for (auto it = std::sregex_iterator(text.begin(), text.end(), kCodeAmount); it != std::sregex_iterator(); ++it) {
      const auto& m = *it;
      const std::string code = m[1].matched ? m[1].str() : m[4].str();
      const std::string number = m[1].matched ? m[2].str() : m[3].str();
      if (!is_currency(code)) continue;
      if (auto minor = to_minor(number, code)) out.push_back({*minor, code});
    }
  }
  return out;
}

}  // namespace common::money
