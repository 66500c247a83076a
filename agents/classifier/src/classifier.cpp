#include "classifier.hpp"

#include "common/cases/money.hpp"

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
    {"refund", Intent::kPayments, 3}, {"invoice", Intent::kPayments, 2}, {"checkout", Intent::kPayments, 2},
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

Entities extract_entities(std::string_view message) {
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
  Entities e;
  const std::string text(message);
  std::smatch m;
  // std::regex is slow: skip every pattern that cannot match (this halves the cost per task).
  const bool has_digit = std::any_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (has_digit) {
    for (auto& m : common::money::find_amounts(text)) e.amounts.push_back({m.minor, std::move(m.currency)});
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

std::string_view to_string(PaymentDecision::Action a) noexcept {
  static constexpr std::string_view kNames[] = {"authorize", "refund", "retry", "escalate"};
  return kNames[static_cast<int>(a)];
}

std::optional<PaymentDecision> decide_payment(const common::cases::Payload& payload, const Entities& entities) {
  using Action = PaymentDecision::Action;
  using common::cases::PaymentType;
  const std::string text = normalise(payload.message);
  const bool duplicate = contains_phrase(text, "duplicate") || contains_phrase(text, "charged twice") ||
                         contains_phrase(text, "double charged");
  const bool declined = contains_phrase(text, "declined") || contains_phrase(text, "payment failed") ||
                        contains_phrase(text, "failed payment");
  const bool wants_retry = declined || contains_phrase(text, "retry") || contains_phrase(text, "try again");
  const bool wants_refund = contains_phrase(text, "refund") || contains_phrase(text, "money back");
  const bool wants_payment = contains_phrase(text, "authorize") || contains_phrase(text, "authorise") ||
                             contains_phrase(text, "approve") || contains_phrase(text, "pay ") ||
                             contains_phrase(text, "transfer") || contains_phrase(text, "send");
  const char* reason = duplicate ? "duplicate_charge" : declined ? "card_declined" : "customer_request";
  // A question about a payment ("my card was declined at checkout") asks for no money action.
  const bool explicit_retry = contains_phrase(text, "retry") || contains_phrase(text, "try again");
  if (!payload.payment && !wants_refund && !explicit_retry && !wants_payment) return std::nullopt;

  PaymentDecision d;
  if (payload.payment) {
    const auto& p = *payload.payment;
    d.amount = Amount{p.amount.minor, p.amount.currency};
    if (p.type == PaymentType::kRefund || p.type == PaymentType::kReversal) {
      d.action = Action::kRefund;
    } else {
      d.action = wants_retry ? Action::kRetry : Action::kAuthorize;
    }
    d.reason = reason;
    return d;
  }
  // From the message: one action word and exactly one amount, or a person decides.
  if (entities.amounts.size() != 1 || (wants_refund && explicit_retry)) {
    d.action = Action::kEscalate;
    d.reason = entities.amounts.empty() ? "no_amount_stated" : entities.amounts.size() > 1 ? "several_amounts" : "ambiguous_request";
    return d;
  }
  d.amount = entities.amounts.front();
  if (wants_refund) {
    d.action = Action::kRefund;
  } else if (explicit_retry) {
    d.action = Action::kRetry;
  } else {
    d.action = Action::kAuthorize;
  }
  d.reason = reason;
  return d;
}

Classification classify_case(const Classifier& model, const common::cases::Payload& payload) {
  using common::cases::Kind;
  Classification c;
  if (payload.kind == Kind::kSupportMessage) {
    c = model.classify(payload.message);
  } else {
    c.intent = payload.kind == Kind::kTransactionAlert ? Intent::kFraud
               : payload.kind == Kind::kPaymentRequest ? Intent::kPayments
                                                       : Intent::kLoanQuestion;
    c.confidence = 1.0;
    c.model = "case-kind";
    c.entities = extract_entities(payload.message);
  }
  if (payload.transaction) {
    if (!c.entities.merchant && payload.transaction->merchant) c.entities.merchant = payload.transaction->merchant;
    if (!c.entities.card_last4 && payload.transaction->card_last4) c.entities.card_last4 = payload.transaction->card_last4;
  }
  if (c.intent == Intent::kPayments || payload.kind == Kind::kPaymentRequest) c.payment_decision = decide_payment(payload, c.entities);
  return c;
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
  nlohmann::json j{{"intent", to_string(c.intent)}, {"confidence", confidence}, {"entities", entities}, {"model", c.model}};
  if (c.payment_decision) {
    const auto& d = *c.payment_decision;
    nlohmann::json dj{{"action", to_string(d.action)}, {"reason", d.reason}};
    if (d.amount) {
      dj["amount_minor"] = d.amount->minor;
      dj["currency"] = d.amount->currency;
    }
    j["payment_decision"] = std::move(dj);
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace agents::classifier
