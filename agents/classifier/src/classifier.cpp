#include "classifier.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <regex>

namespace agents::classifier {
namespace {

struct Feature {
  std::string_view phrase;  // matched in the lower-cased message with normalised apostrophes
  Intent intent;
  double weight;
};

// Phrases and weights. Stronger, more specific phrases weigh more, so that "a charge from a
// merchant I don't recognize" is fraud although it is also about a card charge.
constexpr Feature kFeatures[] = {
    {"don't recognize", Intent::kFraud, 4}, {"do not recognize", Intent::kFraud, 4},
    {"don't recognise", Intent::kFraud, 4}, {"didn't make", Intent::kFraud, 4},
    {"did not make", Intent::kFraud, 4}, {"never made", Intent::kFraud, 4},
    {"unauthorized", Intent::kFraud, 4}, {"unauthorised", Intent::kFraud, 4},
    {"fraud", Intent::kFraud, 4}, {"stolen", Intent::kFraud, 3}, {"someone used", Intent::kFraud, 4},
    {"suspicious", Intent::kFraud, 3}, {"scam", Intent::kFraud, 3}, {"phishing", Intent::kFraud, 3},
    {"not me", Intent::kFraud, 2}, {"unknown merchant", Intent::kFraud, 4}, {"hacked", Intent::kFraud, 3},

    {"charged twice", Intent::kCardDispute, 4}, {"double charged", Intent::kCardDispute, 4},
    {"charged two times", Intent::kCardDispute, 4}, {"duplicate", Intent::kCardDispute, 3},
    {"dispute", Intent::kCardDispute, 3}, {"chargeback", Intent::kCardDispute, 4},
    {"overcharged", Intent::kCardDispute, 3}, {"wrong amount", Intent::kCardDispute, 3},
    {"never arrived", Intent::kCardDispute, 2}, {"not received", Intent::kCardDispute, 2},

    {"declined", Intent::kPayments, 4}, {"payment failed", Intent::kPayments, 4},
    {"payment didn't go", Intent::kPayments, 4}, {"transfer", Intent::kPayments, 3},
    {"wire", Intent::kPayments, 3}, {"send money", Intent::kPayments, 3}, {"payee", Intent::kPayments, 3},
    {"refund", Intent::kPayments, 2}, {"invoice", Intent::kPayments, 2}, {"checkout", Intent::kPayments, 2},
    {"direct debit", Intent::kPayments, 3}, {"standing order", Intent::kPayments, 3},
    {"payment", Intent::kPayments, 2}, {"pending", Intent::kPayments, 1},

    {"locked", Intent::kAccountAccess, 4}, {"log in", Intent::kAccountAccess, 3},
    {"login", Intent::kAccountAccess, 3}, {"sign in", Intent::kAccountAccess, 3},
    {"password", Intent::kAccountAccess, 4}, {"verification code", Intent::kAccountAccess, 4},
    {"one-time code", Intent::kAccountAccess, 4}, {"2fa", Intent::kAccountAccess, 4},
    {"access my account", Intent::kAccountAccess, 4}, {"reset my", Intent::kAccountAccess, 2},

    {"new card", Intent::kCardServices, 3}, {"replacement card", Intent::kCardServices, 4},
    {"replace my card", Intent::kCardServices, 4}, {"lost my card", Intent::kCardServices, 3},
    {"lost card", Intent::kCardServices, 3}, {"activate", Intent::kCardServices, 3},
    {"pin", Intent::kCardServices, 2}, {"contactless", Intent::kCardServices, 3},
    {"card limit", Intent::kCardServices, 3}, {"freeze my card", Intent::kCardServices, 3},
    {"unfreeze", Intent::kCardServices, 3}, {"expired card", Intent::kCardServices, 3},

    {"balance", Intent::kBalanceAndFees, 4}, {"fee", Intent::kBalanceAndFees, 3},
    {"overdraft", Intent::kBalanceAndFees, 3}, {"statement", Intent::kBalanceAndFees, 2},
    {"interest charged", Intent::kBalanceAndFees, 3}, {"how much money", Intent::kBalanceAndFees, 3},
    {"available funds", Intent::kBalanceAndFees, 3},

    {"loan", Intent::kLoanQuestion, 4}, {"mortgage", Intent::kLoanQuestion, 4},
    {"borrow", Intent::kLoanQuestion, 3}, {"interest rate", Intent::kLoanQuestion, 3},
    {"apr", Intent::kLoanQuestion, 3}, {"refinanc", Intent::kLoanQuestion, 3},
    {"repayment", Intent::kLoanQuestion, 3}, {"credit line", Intent::kLoanQuestion, 3},
};

std::string normalise(std::string_view text) {
  std::string s;
  s.reserve(text.size() + 2);
  s.push_back(' ');
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    // U+2019 RIGHT SINGLE QUOTATION MARK (E2 80 99) counts as an apostrophe.
    if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
        static_cast<unsigned char>(text[i + 2]) == 0x99) {
      s.push_back('\'');
      i += 2;
      continue;
    }
    s.push_back(static_cast<char>(std::tolower(c)));
  }
  s.push_back(' ');
  return s;
}

bool word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

// Phrase at a word start (so "pin" does not match "shopping"); suffixes are allowed for phrases
// that end in a letter stem ("refinanc", "fee" in "fees").
bool contains_phrase(const std::string& text, std::string_view phrase) {
  for (std::size_t pos = text.find(phrase); pos != std::string::npos; pos = text.find(phrase, pos + 1)) {
    if (pos > 0 && word_char(text[pos - 1])) continue;
    const std::size_t end = pos + phrase.size();
    if (phrase.size() <= 3 && end < text.size() && word_char(text[end])) continue;  // short words whole
    return true;
  }
  return false;
}

int currency_exponent(std::string_view iso) {
  static constexpr std::pair<std::string_view, int> kExponents[] = {
      {"JPY", 0}, {"KRW", 0}, {"ISK", 0}, {"CLP", 0}, {"VND", 0}, {"BHD", 3}, {"KWD", 3}, {"OMR", 3}, {"JOD", 3}, {"TND", 3}};
  for (const auto& [code, exp] : kExponents) {
    if (code == iso) return exp;
  }
  return 2;
}

std::optional<std::int64_t> to_minor(const std::string& number, std::string_view currency) {
  std::string digits;
  for (char c : number) {
    if (c != ',') digits.push_back(c);
  }
  const auto dot = digits.find('.');
  const int exp = currency_exponent(currency);
  std::string whole = digits.substr(0, dot), frac = dot == std::string::npos ? "" : digits.substr(dot + 1);
  if (static_cast<int>(frac.size()) > exp) return std::nullopt;  // more decimals than the currency has
  frac.append(static_cast<std::size_t>(exp) - frac.size(), '0');
  if (whole.size() + frac.size() > 15) return std::nullopt;
  return std::stoll(whole + frac);
}

class EmbeddedClassifier final : public Classifier {
 public:
  Classification classify(std::string_view message) const override {
    const std::string text = normalise(message);
    std::array<double, kIntentCount> score{};
    for (const auto& f : kFeatures) {
      if (contains_phrase(text, f.phrase)) score[static_cast<int>(f.intent)] += f.weight;
    }
    Classification c;
    c.model = "embedded-keywords-v1";
    c.entities = extract_entities(message);
    int best = static_cast<int>(Intent::kGeneralSupport);
    double best_score = 0;
    for (int i = 0; i < kIntentCount; ++i) {
      if (score[i] > best_score) {
        best_score = score[i];
        best = i;
      }
    }
    double second_score = 0;
    for (int i = 0; i < kIntentCount; ++i) {
      if (i != best && score[i] > second_score) second_score = score[i];
    }
    c.intent = static_cast<Intent>(best);
    // Confidence grows with the evidence for the winner and with its margin over the runner-up:
    // no evidence at all gives general_support at 0.3 (below any sensible escalation threshold);
    // a single strong phrase alone gives ~0.8; a tie between two intents stays near 0.5.
    if (best_score == 0) {
      c.confidence = 0.3;
    } else {
      const double margin = (best_score - second_score) / best_score;  // 0 (tie) .. 1 (alone)
      const double evidence = 1.0 - std::exp(-best_score / 2.5);       // 4 -> 0.80, 8 -> 0.96
      c.confidence = std::clamp(0.5 + 0.5 * margin * evidence, 0.0, 1.0);
    }
    return c;
  }
};

}  // namespace

std::string_view to_string(Intent i) noexcept {
  static constexpr std::string_view kNames[] = {"fraud", "card_dispute", "payments", "account_access",
                                                "card_services", "balance_and_fees", "loan_question", "general_support"};
  return kNames[static_cast<int>(i)];
}

Entities extract_entities(std::string_view message) {
  // Symbols as alternatives, not a character class: € and £ are several bytes in UTF-8.
  static const std::regex kSymbolAmount(R"((\$|€|£)\s?(\d{1,3}(?:,\d{3})*(?:\.\d+)?|\d+(?:\.\d+)?)(?:\s?([A-Z]{3})\b)?)",
                                        std::regex::optimize);
  static const std::regex kCodeAmount(
      R"(\b([A-Z]{3})\s?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\b|\b(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s?([A-Z]{3})\b)",
                                      std::regex::optimize);
  static const std::regex kInvoice(R"(\b(?:INV|INVOICE|ORD|ORDER|PO)-?\d{2,12}\b)", std::regex::optimize | std::regex::icase);
  static const std::regex kLast4(R"((?:ending(?: in)?|last (?:4|four)(?: digits)?(?: are| is)?|x{2,}|\*{2,})\s*(\d{4})\b)",
                                 std::regex::optimize | std::regex::icase);
  static const std::regex kDate(R"(\b(\d{4}-\d{2}-\d{2}|yesterday|today|last (?:night|week|month)|(?:on )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b)",
                                std::regex::optimize | std::regex::icase);
  // "at <words>" / "from <words>": up to four words, ending before a date word, a conjunction or
  // punctuation.
  static const std::regex kMerchant(
      R"(\b(?:at|from) (?:a |an |the )?([A-Za-z0-9&'][A-Za-z0-9&'-]*(?: [A-Za-z0-9&'][A-Za-z0-9&'-]*){0,3}?)(?= (?:yesterday|today|last|on|for|and|but|that|which|with|because|i|we)\b|[.,;!?]|$))",
      std::regex::optimize);
  static constexpr std::string_view kCurrencyCodes[] = {"USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "SEK",
                                                        "NOK", "DKK", "PLN", "CZK", "HUF", "INR", "SGD", "HKD", "ZAR",
                                                        "MXN", "BRL", "KRW", "KWD", "BHD", "AED", "SAR"};
  auto is_currency = [&](std::string_view code) {
    return std::find(std::begin(kCurrencyCodes), std::end(kCurrencyCodes), code) != std::end(kCurrencyCodes);
  };

  Entities e;
  const std::string text(message);
  std::smatch m;
  // std::regex is slow: skip every pattern that cannot match (this halves the cost per task).
  const bool has_digit = std::any_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  const bool has_symbol = text.find_first_of("$\xE2\xC2") != std::string::npos;  // $, and the lead bytes of € and £
  if (has_digit && has_symbol) {
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kSymbolAmount); it != std::sregex_iterator(); ++it) {
    const auto& mm = *it;
    std::string currency = mm[3].matched && is_currency(mm[3].str()) ? mm[3].str()
                           : mm[1] == "$"                            ? "USD"
                           : mm[1] == "€"                            ? "EUR"
                                                                     : "GBP";
    if (auto minor = to_minor(mm[2].str(), currency)) e.amounts.push_back({*minor, currency});
  }
  }
  if (has_digit && e.amounts.empty()) {
    for (auto it = std::sregex_iterator(text.begin(), text.end(), kCodeAmount); it != std::sregex_iterator(); ++it) {
      const auto& mm = *it;
      const std::string code = mm[1].matched ? mm[1].str() : mm[4].str();
      const std::string number = mm[1].matched ? mm[2].str() : mm[3].str();
      if (!is_currency(code)) continue;
      if (auto minor = to_minor(number, code)) e.amounts.push_back({*minor, code});
    }
  }
  if (has_digit) {
    for (auto it = std::sregex_iterator(text.begin(), text.end(), kInvoice); it != std::sregex_iterator(); ++it) {
      e.invoice_ids.push_back(it->str());
    }
    if (std::regex_search(text, m, kLast4)) e.card_last4 = m[1].str();
  }
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kDate); it != std::sregex_iterator(); ++it) {
    e.dates.push_back((*it)[1].str());
  }
  if ((text.find("at ") != std::string::npos || text.find("from ") != std::string::npos) &&
      std::regex_search(text, m, kMerchant)) {
    std::string merchant = m[1].str();
    while (!merchant.empty() && merchant.back() == ' ') merchant.pop_back();
    static constexpr std::string_view kNotMerchants[] = {"checkout", "my card", "my account", "the bank", "home", "work"};
    if (!merchant.empty() && std::find(std::begin(kNotMerchants), std::end(kNotMerchants), merchant) == std::end(kNotMerchants)) {
      e.merchant = merchant;
    }
  }
  return e;
}

std::unique_ptr<Classifier> make_embedded_classifier() {
  return std::make_unique<EmbeddedClassifier>();
}

std::string to_json(const Classification& c) {
  nlohmann::json amounts = nlohmann::json::array();
  for (const auto& a : c.entities.amounts) amounts.push_back({{"amount_minor", a.minor}, {"currency", a.currency}});
  nlohmann::json entities{{"amounts", amounts}, {"dates", c.entities.dates}, {"invoice_ids", c.entities.invoice_ids}};
  entities["merchant"] = c.entities.merchant ? nlohmann::json(*c.entities.merchant) : nlohmann::json(nullptr);
  entities["card_last4"] = c.entities.card_last4 ? nlohmann::json(*c.entities.card_last4) : nlohmann::json(nullptr);
  // Rounded so the JSON is stable across platforms.
  const double confidence = std::round(c.confidence * 1000) / 1000;
  return nlohmann::json{{"intent", to_string(c.intent)}, {"confidence", confidence}, {"entities", entities}, {"model", c.model}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace agents::classifier
