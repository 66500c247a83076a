#pragma once
// Money as banks count it: an integer number of the currency's minor unit (cents for USD, yen for
// JPY, fils for KWD) and an ISO 4217 code. Never a double.
//
// find_amounts() reads the amounts a customer wrote ("$42.50", "42.50 USD", "EUR 1,200") from free
// text. It is shared by the classifier (entities) and the policy (an action's amount must be one
// the case itself states), so that the check does not trust the model's own extraction.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace common::money {

// 10^15 minor units: beyond any single retail transaction, far inside int64 and double precision.
inline constexpr std::int64_t kMaxMinor = 1'000'000'000'000'000;

struct Money {
  std::int64_t minor = 0;
  std::string currency;  // ISO 4217, upper case
  friend bool operator==(const Money&, const Money&) = default;
};

// An active ISO 4217 code (three upper-case letters from the standard's list).
bool is_currency(std::string_view code) noexcept;
// Digits after the decimal point in the currency's minor unit (2 for USD, 0 for JPY, 3 for KWD);
// nullopt for an unknown code.
std::optional<int> exponent(std::string_view code) noexcept;

// "42.50 USD", "1,200 JPY", "1.250 KWD".
std::string format(const Money& m);

// "42.50" in USD -> 4250; nullopt when the text has more decimals than the currency, is not a
// number or exceeds kMaxMinor. Thousands separators "," are accepted.
std::optional<std::int64_t> to_minor(std::string_view number, std::string_view currency);

// Amounts in free text, in order of appearance: a symbol ($ -> USD, € -> EUR, £ -> GBP, unless an
// ISO code follows) or an ISO code before or after the number. Numbers without a currency (order
// ids, invoice numbers, bare figures) are not amounts.
std::vector<Money> find_amounts(std::string_view text);

}  // namespace common::money
