#pragma once
// The fraud reviewer's reasoning: a risk score in [0, 1], a risk level and proposed actions for a
// case, explained by the named rules that fired (docs/agents/fraud_reviewer.md). Behind the
// Reviewer interface so a language model can take the embedded rules' place; whatever answers,
// the result has the shape of the fraud_reviewer contract (to_json).
//
// The rules and their weights are configuration (Rules, the agent config's "settings"), so a bank
// tunes them without a rebuild; default_rules() is the single source of the defaults, and
// deploy/config/fraud-reviewer.json ships exactly those (a unit test keeps the two equal).
#include "common/cases/intent.hpp"
#include "common/cases/payload.hpp"
#include "common/util/time.hpp"

#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agents::fraud_reviewer {

// The classifier's intents, in common::cases::Intent order.
inline constexpr const auto& kIntents = common::cases::kIntentNames;
// Index into kIntents; nullopt for anything else.
std::optional<std::size_t> intent_index(std::string_view intent) noexcept;

inline constexpr std::size_t kChannelCount = 5;  // values of common::cases::Channel

// The actions a fraud reviewer may propose: none of them moves money, so none carries an amount.
enum class ActionType { kTemporaryCardFreeze, kMonitor, kCardReplacement, kAccountUnlock, kIdentityVerification };
std::string_view to_string(ActionType t) noexcept;

enum class RiskLevel { kLow, kMedium, kHigh };
std::string_view to_string(RiskLevel l) noexcept;

struct AmountTiers {
  std::int64_t high_minor = 0;       // at or over: the high tier
  std::int64_t very_high_minor = 0;  // at or over: the very high tier (>= high_minor)
  friend bool operator==(const AmountTiers&, const AmountTiers&) = default;
};

// Every weight is a contribution in [-1, 1] to the score; 0 disables the rule.
struct Rules {
  struct AmountThreshold {
    double high_weight = 0;
    double very_high_weight = 0;
    // Thresholds in each currency's own minor units. `fallback` ("default" in JSON) applies to
    // currencies not listed, unconverted: 100000 is 1,000.00 USD but 100,000 JPY and 100.000 KWD.
    AmountTiers fallback;
    std::map<std::string, AmountTiers, std::less<>> by_currency;
    friend bool operator==(const AmountThreshold&, const AmountThreshold&) = default;
  } amount_threshold;

  struct UnrecognisedMerchant {
    double weight = 0;
    std::vector<std::string> phrases;  // lower case, ’ as ', matched at word boundaries
    friend bool operator==(const UnrecognisedMerchant&, const UnrecognisedMerchant&) = default;
  } unrecognised_merchant;

  struct CardNotPresent {
    double weight = 0;
    friend bool operator==(const CardNotPresent&, const CardNotPresent&) = default;
  } card_not_present;

  struct RepeatCustomer {
    double weight = 0;
    int threshold = 0;                // fires when this many distinct cases (this one included) ...
    std::int64_t window_s = 0;        // ... lie less than window_s apart from this one
    std::int64_t max_customers = 0;   // customers remembered; the least recently seen is forgotten
    friend bool operator==(const RepeatCustomer&, const RepeatCustomer&) = default;
  } repeat_customer;

  struct ClassifierIntent {
    double min_confidence = 0;                  // a classifier result below this is ignored
    std::array<double, kIntents.size()> weights{};  // by kIntents index
    friend bool operator==(const ClassifierIntent&, const ClassifierIntent&) = default;
  } classifier_intent;

  struct ChannelRule {
    std::array<double, kChannelCount> weights{};  // by common::cases::Channel
    friend bool operator==(const ChannelRule&, const ChannelRule&) = default;
  } channel;

  struct Levels {
    double medium = 0;  // score >= medium: medium
    double high = 0;    // score >= high: high (medium <= high)
    friend bool operator==(const Levels&, const Levels&) = default;
  } levels;

  struct Actions {
    std::vector<ActionType> low, medium, high;
    friend bool operator==(const Actions&, const Actions&) = default;
  } actions;

  friend bool operator==(const Rules&, const Rules&) = default;
};

// The built-in defaults: what the agent runs with an empty "settings" object.
Rules default_rules();

// Reads the agent config's "settings" object over default_rules(): absent keys keep their default
// value; a map or list that is given replaces the default one as a whole. Unknown keys, wrong types
// and out-of-range values throw std::invalid_argument naming the path ("settings.levels.high: ...").
Rules parse_rules(const nlohmann::json& settings);
// The full settings object for these rules (parse_rules(rules_to_json(r)) == r).
nlohmann::json rules_to_json(const Rules& rules);

// What the task tells the reviewer besides the payload.
struct ReviewContext {
  std::string case_id;                 // deduplicates retries of one case in the repeat window (empty: not deduplicated)
  std::optional<std::string> intent;   // the classifier's intent (one of kIntents), when it ran
  std::optional<double> confidence;    // the classifier's confidence, when it ran
  std::vector<common::money::Money> message_amounts;  // the amounts the classifier found in the message
};

struct Reason {
  std::string rule;     // snake_case rule name
  double contribution;  // in [-1, 1], 3 decimals
  std::string detail;   // <= 300 bytes; never the message text, card numbers or customer_ref
};

struct Action {
  ActionType type = ActionType::kMonitor;
  std::string reason;  // <= 300 bytes
};

struct Review {
  double risk_score = 0;  // in [0, 1], 3 decimals
  RiskLevel risk_level = RiskLevel::kLow;
  std::vector<Reason> reasons;  // only rules that fired, in a fixed rule order
  std::vector<Action> actions;
  std::string model;
};

// Thread-safe: review() may be called from several threads (the embedded reviewer serialises its
// repeat window with a mutex). Deterministic: the same calls in the same order give the same
// reviews; the only time is `now` (the case's created_at).
class Reviewer {
 public:
  virtual ~Reviewer() = default;
  virtual Review review(const common::cases::Payload& payload, const ReviewContext& context, common::WallMs now) = 0;
};

// The embedded rules ("embedded-rules-v1"). The repeat-customer window lives in this object, so
// it is per process: with several reviewer processes each sees only its share of a customer's
// cases (TODO(issue 5): keep the window in the durable store).
std::unique_ptr<Reviewer> make_rule_reviewer(Rules rules);

// The fraud_reviewer result: {"risk_score","risk_level","reasons","actions","model"}.
std::string to_json(const Review& review);

}  // namespace agents::fraud_reviewer
