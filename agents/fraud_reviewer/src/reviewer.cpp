#include "reviewer.hpp"

#include "common/util/check.hpp"
#include "common/util/json.hpp"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <list>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace agents::fraud_reviewer {
namespace {

using nlohmann::json;
using common::cases::Channel;
using common::cases::Kind;
using common::json::number_at;

constexpr std::string_view kModel = "embedded-rules-v1";
constexpr std::size_t kMaxTextBytes = 300;  // reasons' details and actions' reasons (contract)
constexpr std::size_t kMaxPhrases = 200;  // < 256: PhraseMatcher numbers its buckets in a byte
constexpr std::size_t kMaxPhraseBytes = 100;
constexpr std::size_t kMaxMessageAmounts = 20;  // amounts from the classifier looked at per case
constexpr std::int64_t kMaxWindowS = 30LL * 24 * 3600;
constexpr int kMaxRepeatThreshold = 100;
constexpr std::int64_t kMaxCustomers = 10'000'000;

// The channels' names as common::cases spells them, by enum value (for the config's channel map).
std::array<std::string_view, kChannelCount> channel_names() {
  std::array<std::string_view, kChannelCount> names;
  for (std::size_t i = 0; i < kChannelCount; ++i) names[i] = common::cases::to_string(static_cast<Channel>(i));
  return names;
}
constexpr std::array<std::string_view, 5> kActionTypes = {"temporary_card_freeze", "monitor", "card_replacement",
                                                          "account_unlock", "identity_verification"};
constexpr std::array<std::string_view, 3> kLevels = {"low", "medium", "high"};

double round3(double x) {
  return std::round(x * 1000) / 1000 + 0.0;  // + 0.0: no "-0.0" in the JSON
}

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// ASCII lower case; U+2019 and U+2018 (typographic quotes) become '. One pass, no regex.
void append_normalised(std::string& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(text[i + 2]) == 0x99 || static_cast<unsigned char>(text[i + 2]) == 0x98)) {
      out.push_back('\'');
      i += 2;
      continue;
    }
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c));
  }
}

// Finds configured phrases as whole word sequences ("not me" in "it was not me." but not in "not
// meant") in one pass over the text: at each word start only the phrases beginning with the two
// bytes found there are compared (a 64 KB table indexed by those two bytes). An 8 KB message costs
// 15-30 us however many phrases are configured, against 50-160 us for one find() per phrase; a
// typical message of a few hundred bytes, about 1 us.
class PhraseMatcher final {
 public:
  explicit PhraseMatcher(const std::vector<std::string>& phrases) : phrases_(phrases), bucket_of_(1 << 16, 0) {
    CASEBUS_CHECK(phrases.size() <= kMaxPhrases, "too many phrases: rules must come from parse_rules");
    buckets_.emplace_back();  // bucket 0: no phrase starts with these two bytes
    for (std::size_t i = 0; i < phrases.size(); ++i) {
      CASEBUS_CHECK(phrases[i].size() >= 2, "a phrase shorter than 2 bytes: rules must come from parse_rules");
      auto& b = bucket_of_[key(phrases[i], 0)];
      if (b == 0) {
        b = static_cast<std::uint8_t>(buckets_.size());
        buckets_.emplace_back();
      }
      buckets_[b].push_back(i);
    }
  }

  // The first phrase found, in text order (the lowest index where several start at one place).
  std::optional<std::size_t> find(std::string_view text) const {
    for (std::size_t pos = 0; pos + 1 < text.size(); ++pos) {
      if (pos > 0 && is_word_char(text[pos - 1])) continue;
      const auto b = bucket_of_[key(text, pos)];
      if (b == 0) continue;
      for (const std::size_t i : buckets_[b]) {
        const std::string_view phrase = phrases_[i];
        const std::size_t end = pos + phrase.size();
        if (text.compare(pos, phrase.size(), phrase) == 0 && (end == text.size() || !is_word_char(text[end]))) return i;
      }
    }
    return std::nullopt;
  }

 private:
  static std::size_t key(std::string_view s, std::size_t pos) {
    return static_cast<std::size_t>(static_cast<unsigned char>(s[pos])) << 8 | static_cast<unsigned char>(s[pos + 1]);
  }

  const std::vector<std::string>& phrases_;
  std::vector<std::uint8_t> bucket_of_;  // by the first two bytes; <= kMaxPhrases buckets
  std::vector<std::vector<std::size_t>> buckets_;
};

// Cuts at a UTF-8 character boundary.
std::string bounded(std::string s) {
  if (s.size() <= kMaxTextBytes) return s;
  std::size_t n = kMaxTextBytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s;
}

// ---- settings ---------------------------------------------------------------------------------

// The settings readers throw FieldError, as common::json's readers do; parse_rules() turns it into
// std::invalid_argument "<path>: <message>".
[[noreturn]] void invalid(const std::string& path, const std::string& message) {
  throw common::json::FieldError{path, message};
}

template <std::size_t N>
std::string one_of(const std::array<std::string_view, N>& names) {
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + std::string(n);
  return list;
}

template <std::size_t N>
std::optional<std::size_t> index_of(const std::array<std::string_view, N>& names, std::string_view s) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == s) return i;
  }
  return std::nullopt;
}

// One settings object: its keys must be among `allowed`.
const json& object_of(const json& j, const std::string& path, std::initializer_list<std::string_view> allowed = {}) {
  if (!j.is_object()) invalid(path, "must be a JSON object");
  if (allowed.size() == 0) return j;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      invalid(path, "unknown key \"" + it.key() + "\" (expected one of " + list + ")");
    }
  }
  return j;
}

// The member, or nullptr when it is absent. Unlike common::json::member, a null value is
// returned: in the rules a null is a wrong type ("must be a number"), not "use the default".
const json* member(const json& j, std::string_view key) {
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

double weight_of(const json& v, const std::string& path) {
  return number_at(v, path, -1, 1);
}

std::int64_t integer_of(const json& v, const std::string& path, std::int64_t min, std::int64_t max) {
  if (!v.is_number_integer()) invalid(path, fmt::format("must be an integer between {} and {}", min, max));
  const bool huge = v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(max);
  const std::int64_t n = huge ? max : v.get<std::int64_t>();
  if (huge || n < min || n > max) invalid(path, fmt::format("must be an integer between {} and {}", min, max));
  return n;
}

AmountTiers tiers_of(const json& j, const std::string& path) {
  object_of(j, path, {"high", "very_high"});
  const json* high = member(j, "high");
  const json* very_high = member(j, "very_high");
  if (!high) invalid(path + ".high", "missing required key");
  if (!very_high) invalid(path + ".very_high", "missing required key");
  AmountTiers t{integer_of(*high, path + ".high", 1, common::money::kMaxMinor),
                integer_of(*very_high, path + ".very_high", 1, common::money::kMaxMinor)};
  if (t.very_high_minor < t.high_minor) invalid(path + ".very_high", "must not be below high");
  return t;
}

void read_amount_threshold(const json& j, const std::string& path, Rules::AmountThreshold& r) {
  object_of(j, path, {"high_weight", "very_high_weight", "thresholds_minor"});
  if (const json* v = member(j, "high_weight")) r.high_weight = weight_of(*v, path + ".high_weight");
  if (const json* v = member(j, "very_high_weight")) r.very_high_weight = weight_of(*v, path + ".very_high_weight");
  if (const json* v = member(j, "thresholds_minor")) {
    const std::string p = path + ".thresholds_minor";
    object_of(*v, p);
    if (!member(*v, "default")) invalid(p + ".default", "missing required key (thresholds for currencies not listed)");
    r.by_currency.clear();
    for (auto it = v->begin(); it != v->end(); ++it) {
      const std::string q = p + "." + it.key();
      if (it.key() == "default") {
        r.fallback = tiers_of(it.value(), q);
      } else if (common::money::is_currency(it.key())) {
        r.by_currency[it.key()] = tiers_of(it.value(), q);
      } else {
        invalid(p, "unknown key \"" + it.key() + "\" (expected \"default\" or an ISO 4217 currency code such as USD)");
      }
    }
  }
}

std::string normalised_phrase(const json& v, const std::string& path) {
  if (!v.is_string()) invalid(path, "must be a string");
  std::string s;
  append_normalised(s, v.get_ref<const std::string&>());
  if (s.size() < 2 || s.size() > kMaxPhraseBytes) invalid(path, fmt::format("must be 2 to {} bytes", kMaxPhraseBytes));
  if (!is_word_char(s.front()) || !is_word_char(s.back())) invalid(path, "must start and end with a letter or digit");
  return s;
}

void read_unrecognised_merchant(const json& j, const std::string& path, Rules::UnrecognisedMerchant& r) {
  object_of(j, path, {"weight", "phrases"});
  if (const json* v = member(j, "weight")) r.weight = weight_of(*v, path + ".weight");
  if (const json* v = member(j, "phrases")) {
    const std::string p = path + ".phrases";
    if (!v->is_array() || v->size() > kMaxPhrases) invalid(p, fmt::format("must be an array of at most {} strings", kMaxPhrases));
    r.phrases.clear();
    for (std::size_t i = 0; i < v->size(); ++i) r.phrases.push_back(normalised_phrase((*v)[i], fmt::format("{}[{}]", p, i)));
  }
}

void read_repeat_customer(const json& j, const std::string& path, Rules::RepeatCustomer& r) {
  object_of(j, path, {"weight", "threshold", "window_s", "max_customers"});
  if (const json* v = member(j, "weight")) r.weight = weight_of(*v, path + ".weight");
  if (const json* v = member(j, "threshold")) {
    r.threshold = static_cast<int>(integer_of(*v, path + ".threshold", 2, kMaxRepeatThreshold));
  }
  if (const json* v = member(j, "window_s")) r.window_s = integer_of(*v, path + ".window_s", 1, kMaxWindowS);
  if (const json* v = member(j, "max_customers")) r.max_customers = integer_of(*v, path + ".max_customers", 1, kMaxCustomers);
}

template <std::size_t N>
void read_weight_map(const json& j, const std::string& path, const std::array<std::string_view, N>& names,
                     std::array<double, N>& weights) {
  object_of(j, path);
  weights.fill(0);
  for (auto it = j.begin(); it != j.end(); ++it) {
    const auto i = index_of(names, it.key());
    if (!i) invalid(path, "unknown key \"" + it.key() + "\" (expected one of " + one_of(names) + ")");
    weights[*i] = weight_of(it.value(), path + "." + it.key());
  }
}

void read_classifier_intent(const json& j, const std::string& path, Rules::ClassifierIntent& r) {
  object_of(j, path, {"min_confidence", "weights"});
  if (const json* v = member(j, "min_confidence")) r.min_confidence = number_at(*v, path + ".min_confidence", 0, 1);
  if (const json* v = member(j, "weights")) read_weight_map(*v, path + ".weights", kIntents, r.weights);
}

void read_levels(const json& j, const std::string& path, Rules::Levels& r) {
  object_of(j, path, {"medium", "high"});
  if (const json* v = member(j, "medium")) r.medium = number_at(*v, path + ".medium", 0.001, 1);
  if (const json* v = member(j, "high")) r.high = number_at(*v, path + ".high", 0.001, 1);
  if (r.medium > r.high) invalid(path, "medium must not be above high");
}

std::vector<ActionType> actions_of(const json& v, const std::string& path) {
  if (!v.is_array()) invalid(path, "must be an array of action types");
  std::vector<ActionType> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string p = fmt::format("{}[{}]", path, i);
    if (!v[i].is_string()) invalid(p, "must be a string");
    const auto idx = index_of(kActionTypes, v[i].get_ref<const std::string&>());
    if (!idx) {
      invalid(p, "must be one of " + one_of(kActionTypes) +
                     " (money-moving actions need an amount and are not proposed by the fraud reviewer)");
    }
    const auto type = static_cast<ActionType>(*idx);
    if (std::find(out.begin(), out.end(), type) != out.end()) invalid(p, "lists " + v[i].get<std::string>() + " twice");
    out.push_back(type);
  }
  return out;
}

void read_actions(const json& j, const std::string& path, Rules::Actions& r) {
  object_of(j, path, {"low", "medium", "high"});
  if (const json* v = member(j, "low")) r.low = actions_of(*v, path + ".low");
  if (const json* v = member(j, "medium")) r.medium = actions_of(*v, path + ".medium");
  if (const json* v = member(j, "high")) r.high = actions_of(*v, path + ".high");
}

// ---- the repeat-customer window ---------------------------------------------------------------

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 14695981039346656037ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

// Recent cases per customer_ref, bounded: at most max_customers customers (the least recently seen
// is forgotten first) and the newest `threshold` cases per customer (enough to decide ">= threshold").
// Case ids are kept as 64-bit hashes: 16 bytes per case whatever the id's length.
class RepeatWindow final {
 public:
  explicit RepeatWindow(const Rules::RepeatCustomer& r)
      : keep_(static_cast<std::size_t>(r.threshold)), window_ms_(r.window_s * 1000),
        max_customers_(static_cast<std::size_t>(r.max_customers)) {}

  // Records the case (once per case id) and returns how many distinct cases of the customer,
  // this one included, lie less than the window apart from `at` (at most threshold + 1).
  int record(std::string_view customer, std::string_view case_id, common::WallMs at) {
    std::lock_guard lock(mu_);
    auto it = index_.find(customer);
    if (it == index_.end()) {
      if (index_.size() >= max_customers_) {
        index_.erase(lru_.back().ref);
        lru_.pop_back();
      }
      lru_.push_front(Customer{std::string(customer), {}});
      it = index_.emplace(lru_.front().ref, lru_.begin()).first;
    } else {
      lru_.splice(lru_.begin(), lru_, it->second);
    }
    auto& cases = it->second->cases;
    const std::uint64_t key = fnv1a(case_id);
    const bool known = !case_id.empty() && std::any_of(cases.begin(), cases.end(), [&](const Entry& e) { return e.key == key; });
    if (!known) {
      const auto pos =
          std::upper_bound(cases.begin(), cases.end(), at, [](common::WallMs t, const Entry& e) { return t < e.at; });
      cases.insert(pos, Entry{key, at});
    }
    const auto count = std::count_if(cases.begin(), cases.end(), [&](const Entry& e) {
      const common::WallMs d = e.at > at ? e.at - at : at - e.at;
      return d < window_ms_;
    });
    if (cases.size() > keep_) cases.erase(cases.begin(), cases.begin() + static_cast<std::ptrdiff_t>(cases.size() - keep_));
    return static_cast<int>(count);
  }

 private:
  struct Entry {
    std::uint64_t key;
    common::WallMs at;
  };
  struct Customer {
    std::string ref;
    std::vector<Entry> cases;  // by time, oldest first
  };
  const std::size_t keep_;
  const common::WallMs window_ms_;
  const std::size_t max_customers_;
  std::mutex mu_;
  std::list<Customer> lru_;  // most recently seen first; nodes never move, so index_ keys stay valid
  std::unordered_map<std::string_view, std::list<Customer>::iterator> index_;
};

// ---- the rules --------------------------------------------------------------------------------

bool is_card_action(ActionType t) {
  return t == ActionType::kTemporaryCardFreeze || t == ActionType::kCardReplacement;
}

std::string_view action_clause(ActionType t) {
  switch (t) {
    case ActionType::kTemporaryCardFreeze: return "stop further card use until the customer confirms the activity";
    case ActionType::kMonitor: return "watch the account for further suspicious activity";
    case ActionType::kCardReplacement: return "replace a card that may be compromised";
    case ActionType::kAccountUnlock: return "restore account access once the customer is verified";
    case ActionType::kIdentityVerification: return "verify the customer's identity before acting";
  }
  return "";
}

class RuleReviewer final : public Reviewer {
 public:
  explicit RuleReviewer(Rules rules)
      : rules_(std::move(rules)), phrases_(rules_.unrecognised_merchant.phrases), window_(rules_.repeat_customer) {}

  Review review(const common::cases::Payload& p, const ReviewContext& ctx, common::WallMs now) override {
    Review r;
    r.model = kModel;
    auto add = [&](std::string_view rule, double weight, std::string detail) {
      const double c = round3(weight);
      if (c != 0) r.reasons.push_back(Reason{std::string(rule), c, bounded(std::move(detail))});
    };

    amount_threshold(p, ctx, add);
    unrecognised_merchant(p, add);
    if (p.transaction && p.transaction->card_present == false && rules_.card_not_present.weight != 0) {
      add("card_not_present", rules_.card_not_present.weight, "the card was not present at the transaction");
    }
    if (rules_.repeat_customer.weight != 0) {
      const int n = window_.record(p.customer_ref, ctx.case_id, now);
      if (n >= rules_.repeat_customer.threshold) {
        add("repeat_customer", rules_.repeat_customer.weight,
            fmt::format("at least {} cases from this customer less than {} s apart (threshold {})", n,
                        rules_.repeat_customer.window_s, rules_.repeat_customer.threshold));
      }
    }
    const std::optional<std::size_t> intent = ctx.intent ? intent_index(*ctx.intent) : std::nullopt;
    const std::size_t effective_intent = intent.value_or(static_cast<std::size_t>(common::cases::intent_of_kind(p.kind)));
    if (intent) {
      if (!ctx.confidence || *ctx.confidence >= rules_.classifier_intent.min_confidence) {
        add("classifier_intent", rules_.classifier_intent.weights[*intent],
            ctx.confidence ? fmt::format("classifier intent {} (confidence {:.2f})", kIntents[*intent], *ctx.confidence)
                           : fmt::format("classifier intent {}", kIntents[*intent]));
      }
    } else {
      add("classifier_intent", rules_.classifier_intent.weights[effective_intent],
          fmt::format("intent {} from the case kind {} (no classifier result)", kIntents[effective_intent],
                      common::cases::to_string(p.kind)));
    }
    const auto channel = static_cast<std::size_t>(p.channel);
    add("channel", rules_.channel.weights[channel], fmt::format("the case arrived over {}", common::cases::to_string(p.channel)));

    double sum = 0;
    for (const auto& reason : r.reasons) sum += reason.contribution;
    r.risk_score = round3(std::clamp(sum, 0.0, 1.0));
    r.risk_level = r.risk_score >= rules_.levels.high     ? RiskLevel::kHigh
                   : r.risk_score >= rules_.levels.medium ? RiskLevel::kMedium
                                                          : RiskLevel::kLow;
    propose_actions(p, effective_intent, r);
    return r;
  }

 private:
  template <class Add>
  void amount_threshold(const common::cases::Payload& p, const ReviewContext& ctx, Add& add) const {
    const auto& rule = rules_.amount_threshold;
    if (rule.high_weight == 0 && rule.very_high_weight == 0) return;
    int best_tier = 0;  // 1 high, 2 very high
    std::string detail;
    auto consider = [&](std::string_view what, const common::money::Money& m) {
      const auto found = rule.by_currency.find(m.currency);
      const bool fallback = found == rule.by_currency.end();
      const AmountTiers& t = fallback ? rule.fallback : found->second;
      const int tier = m.minor >= t.very_high_minor ? 2 : m.minor >= t.high_minor ? 1 : 0;
      if (tier <= best_tier) return;
      best_tier = tier;
      detail = fmt::format("{} {} at or over the {} threshold {}{}", what, common::money::format(m),
                           tier == 2 ? "very high" : "high",
                           common::money::format({tier == 2 ? t.very_high_minor : t.high_minor, m.currency}),
                           fallback ? " (default thresholds)" : "");
    };
    if (p.transaction) consider("transaction amount", p.transaction->amount);
    if (p.payment) consider("payment amount", p.payment->amount);
    const std::size_t n = std::min(ctx.message_amounts.size(), kMaxMessageAmounts);
    for (std::size_t i = 0; i < n; ++i) consider("amount in the message", ctx.message_amounts[i]);
    if (best_tier > 0) add("amount_threshold", best_tier == 2 ? rule.very_high_weight : rule.high_weight, std::move(detail));
  }

  template <class Add>
  void unrecognised_merchant(const common::cases::Payload& p, Add& add) const {
    const auto& rule = rules_.unrecognised_merchant;
    if (rule.weight == 0 || rule.phrases.empty()) return;
    const std::string_view reason = p.payment && p.payment->reason ? std::string_view(*p.payment->reason) : std::string_view();
    if (p.message.empty() && reason.empty()) return;
    std::string text;
    text.reserve(p.message.size() + reason.size() + 3);
    append_normalised(text, p.message);
    text += " | ";  // no phrase spans the message and the payment's reason
    append_normalised(text, reason);
    if (const auto i = phrases_.find(text)) {
      // The configured phrase, never the customer's words around it.
      add("unrecognised_merchant", rule.weight,
          fmt::format("the customer's words deny making the transaction (phrase \"{}\")", rule.phrases[*i]));
    }
  }

  void propose_actions(const common::cases::Payload& p, std::size_t intent, Review& r) const {
    const auto& configured = r.risk_level == RiskLevel::kHigh     ? rules_.actions.high
                             : r.risk_level == RiskLevel::kMedium ? rules_.actions.medium
                                                                  : rules_.actions.low;
    if (configured.empty()) return;
    // A card action needs a card: a transaction, a card payment, or a card-related intent.
    const std::string_view intent_name = kIntents[intent];
    const bool card = p.transaction || (p.payment && p.payment->type == common::cases::PaymentType::kCardPayment) ||
                      intent_name == "fraud" || intent_name == "card_dispute" || intent_name == "card_services";
    std::vector<ActionType> types;
    for (auto t : configured) {
      if (card || !is_card_action(t)) types.push_back(t);
    }
    // A medium or high case whose configured actions all need a card is still watched.
    if (types.empty() && r.risk_level != RiskLevel::kLow) types.push_back(ActionType::kMonitor);
    std::string rules;
    for (const auto& reason : r.reasons) rules += (rules.empty() ? "" : ", ") + reason.rule;
    for (auto t : types) {
      r.actions.push_back(Action{t, bounded(fmt::format("{}: risk {} (score {:.3f}) from {}", action_clause(t),
                                                        to_string(r.risk_level), r.risk_score, rules))});
    }
  }

  const Rules rules_;
  const PhraseMatcher phrases_;  // refers to rules_
  RepeatWindow window_;
};

}  // namespace

std::optional<std::size_t> intent_index(std::string_view intent) noexcept {
  const auto i = common::cases::parse_intent(intent);
  if (!i) return std::nullopt;
  return static_cast<std::size_t>(*i);
}

std::string_view to_string(ActionType t) noexcept {
  return kActionTypes[static_cast<std::size_t>(t)];
}

std::string_view to_string(RiskLevel l) noexcept {
  return kLevels[static_cast<std::size_t>(l)];
}

Rules default_rules() {
  Rules r;
  // 1,000 / 10,000 in the major unit of the usual currencies; JPY has no minor unit.
  r.amount_threshold.high_weight = 0.2;
  r.amount_threshold.very_high_weight = 0.35;
  r.amount_threshold.fallback = {100'000, 1'000'000};
  r.amount_threshold.by_currency = {{"USD", {100'000, 1'000'000}},
                                    {"EUR", {100'000, 1'000'000}},
                                    {"GBP", {100'000, 1'000'000}},
                                    {"JPY", {150'000, 1'500'000}}};

  r.unrecognised_merchant.weight = 0.45;
  r.unrecognised_merchant.phrases = {
      "don't recognize", "don't recognise", "do not recognize", "do not recognise", "didn't make",
      "did not make",    "never made",      "didn't authorize", "didn't authorise", "did not authorize",
      "did not authorise", "not me",        "wasn't me",        "was not me",       "unknown merchant",
      "unauthorized",    "unauthorised",    "someone used my card"};

  r.card_not_present.weight = 0.15;

  r.repeat_customer.weight = 0.2;
  r.repeat_customer.threshold = 3;
  r.repeat_customer.window_s = 86'400;
  r.repeat_customer.max_customers = 100'000;

  r.classifier_intent.min_confidence = 0.5;
  r.classifier_intent.weights[*intent_index("fraud")] = 0.3;
  r.classifier_intent.weights[*intent_index("account_access")] = 0.1;
  r.classifier_intent.weights[*intent_index("card_dispute")] = 0.05;

  r.channel.weights[static_cast<std::size_t>(Channel::kWeb)] = 0.05;
  r.channel.weights[static_cast<std::size_t>(Channel::kPhone)] = 0.05;

  r.levels = {0.3, 0.6};
  r.actions.low = {};
  r.actions.medium = {ActionType::kMonitor};
  r.actions.high = {ActionType::kTemporaryCardFreeze};
  return r;
}

// A function-try-block: the readers above throw FieldError (number_at, or invalid()); a bad
// setting leaves here as std::invalid_argument, a startup failure.
Rules parse_rules(const json& settings) try {
  const std::string root = "settings";
  object_of(settings, root,
            {"amount_threshold", "unrecognised_merchant", "card_not_present", "repeat_customer", "classifier_intent",
             "channel", "levels", "actions"});
  Rules r = default_rules();
  if (const json* v = member(settings, "amount_threshold")) {
    read_amount_threshold(*v, root + ".amount_threshold", r.amount_threshold);
  }
  if (const json* v = member(settings, "unrecognised_merchant")) {
    read_unrecognised_merchant(*v, root + ".unrecognised_merchant", r.unrecognised_merchant);
  }
  if (const json* v = member(settings, "card_not_present")) {
    object_of(*v, root + ".card_not_present", {"weight"});
    if (const json* w = member(*v, "weight")) r.card_not_present.weight = weight_of(*w, root + ".card_not_present.weight");
  }
  if (const json* v = member(settings, "repeat_customer")) read_repeat_customer(*v, root + ".repeat_customer", r.repeat_customer);
  if (const json* v = member(settings, "classifier_intent")) {
    read_classifier_intent(*v, root + ".classifier_intent", r.classifier_intent);
  }
  if (const json* v = member(settings, "channel")) {
    object_of(*v, root + ".channel", {"weights"});
    if (const json* w = member(*v, "weights")) read_weight_map(*w, root + ".channel.weights", channel_names(), r.channel.weights);
  }
  if (const json* v = member(settings, "levels")) read_levels(*v, root + ".levels", r.levels);
  if (const json* v = member(settings, "actions")) read_actions(*v, root + ".actions", r.actions);
  return r;
} catch (const common::json::FieldError& e) {
  throw std::invalid_argument(e.field + ": " + e.message);
}

json rules_to_json(const Rules& r) {
  auto tiers = [](const AmountTiers& t) { return json{{"high", t.high_minor}, {"very_high", t.very_high_minor}}; };
  json thresholds = json::object();
  thresholds["default"] = tiers(r.amount_threshold.fallback);
  for (const auto& [currency, t] : r.amount_threshold.by_currency) thresholds[currency] = tiers(t);
  json intents = json::object();
  for (std::size_t i = 0; i < kIntents.size(); ++i) intents[std::string(kIntents[i])] = r.classifier_intent.weights[i];
  json channels = json::object();
  const auto names = channel_names();
  for (std::size_t i = 0; i < kChannelCount; ++i) channels[std::string(names[i])] = r.channel.weights[i];
  auto actions = [](const std::vector<ActionType>& types) {
    json a = json::array();
    for (auto t : types) a.push_back(std::string(to_string(t)));
    return a;
  };
  return json{
      {"amount_threshold",
       {{"high_weight", r.amount_threshold.high_weight},
        {"very_high_weight", r.amount_threshold.very_high_weight},
        {"thresholds_minor", thresholds}}},
      {"unrecognised_merchant", {{"weight", r.unrecognised_merchant.weight}, {"phrases", r.unrecognised_merchant.phrases}}},
      {"card_not_present", {{"weight", r.card_not_present.weight}}},
      {"repeat_customer",
       {{"weight", r.repeat_customer.weight},
        {"threshold", r.repeat_customer.threshold},
        {"window_s", r.repeat_customer.window_s},
        {"max_customers", r.repeat_customer.max_customers}}},
      {"classifier_intent", {{"min_confidence", r.classifier_intent.min_confidence}, {"weights", intents}}},
      {"channel", {{"weights", channels}}},
      {"levels", {{"medium", r.levels.medium}, {"high", r.levels.high}}},
      {"actions", {{"low", actions(r.actions.low)}, {"medium", actions(r.actions.medium)}, {"high", actions(r.actions.high)}}},
  };
}

std::unique_ptr<Reviewer> make_rule_reviewer(Rules rules) {
  return std::make_unique<RuleReviewer>(std::move(rules));
}

namespace {

// A number as nlohmann's dump() writes it (shortest round trip, "1.0" rather than "1"), so that
// a reader that wants a floating-point number gets one.
void append_number(std::string& out, double x) {
  const auto start = out.size();
  fmt::format_to(std::back_inserter(out), "{}", x);
  if (out.find_first_of(".e", start) == std::string::npos) out += ".0";
}

}  // namespace

// Written directly rather than through a json DOM: about 1 us against 8 us for building and
// dumping a nlohmann DOM, more than the review itself. Strings go through append_string.
std::string to_json(const Review& review) {
  std::string out;
  out.reserve(256 + 160 * (review.reasons.size() + review.actions.size()));
  common::json::ObjectWriter w(out);
  append_number(w.key("risk_score"), review.risk_score);
  w.string("risk_level", to_string(review.risk_level));
  w.key("reasons").push_back('[');
  for (std::size_t i = 0; i < review.reasons.size(); ++i) {
    if (i > 0) out.push_back(',');
    const auto& r = review.reasons[i];
    common::json::ObjectWriter o(out);
    o.string("rule", r.rule);
    append_number(o.key("contribution"), r.contribution);
    o.string("detail", r.detail);
    o.close();
  }
  out.push_back(']');
  w.key("actions").push_back('[');
  for (std::size_t i = 0; i < review.actions.size(); ++i) {
    if (i > 0) out.push_back(',');
    common::json::ObjectWriter o(out);
    o.string("type", to_string(review.actions[i].type)).string("reason", review.actions[i].reason);
    o.close();
  }
  out.push_back(']');
  w.string("model", review.model);
  w.close();
  return out;
}

}  // namespace agents::fraud_reviewer
