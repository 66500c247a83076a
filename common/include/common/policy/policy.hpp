#pragma once
// The action policy: "the model proposes, validated code decides" (docs/policy.md).
//
// Every agent result of a workflow case passes through Policy::apply() before the broker acts on
// it: first the agent kind's output schema (types, enums, ranges, no unknown keys), then the
// rules for the actions it proposes (known type, allowed for the case's intent, money-moving
// actions carry an amount and currency that the case itself states and are approved only within
// the configured auto-approve limits, default none). A result that fails is not applied at all;
// the broker records the violations and sends the case to human review with nothing approved.
//
// One module shared by the broker and the tests; the configuration is the "policy" section of the
// broker's config (deploy/config/broker.json), whose defaults are default_config().
#include "common/cases/intent.hpp"
#include "common/cases/payload.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace common::policy {

struct ActionRule {
  bool money_moving = false;
  bool auto_approve = false;  // only for actions that move no money; money follows the limits
  friend bool operator==(const ActionRule&, const ActionRule&) = default;
};

// Score thresholds of the risk levels. The broker acts on the higher of the level a reviewer
// declares and the level its score reaches here.
struct RiskLevels {
  double medium = 0.3;
  double high = 0.6;
  friend bool operator==(const RiskLevels&, const RiskLevels&) = default;
};

// The largest underwriting summary an escalation result may carry, as JSON text.
inline constexpr std::size_t kMaxUnderwritingBytes = 8192;

struct Config {
  std::map<std::string, ActionRule> actions;                          // every action type there is
  std::map<std::string, std::vector<std::string>> allowed_actions;    // intent -> action types
  std::map<std::string, std::int64_t> auto_approve_limits;            // currency -> max minor units
  std::vector<std::string> forbidden_reply_phrases;                   // matched case-insensitively
  std::size_t max_reply_bytes = 2000;
  RiskLevels risk_levels;
  // The customer reply when the escalation agent's own result is refused.
  std::string fallback_reply;
  friend bool operator==(const Config&, const Config&) = default;
};

Config default_config();
// Strict: unknown keys, unknown intents and action types, and bad values throw
// std::invalid_argument naming the key. Missing keys keep the defaults.
void from_json(const nlohmann::json& j, Config& c);
nlohmann::json to_json(const Config& c);


struct Action {
  std::string type;
  std::optional<money::Money> amount;
  std::string reason;
  std::string proposed_by;  // agent kind
  friend bool operator==(const Action&, const Action&) = default;
};
nlohmann::json to_json(const Action& a);

struct Violation {
  std::string agent, code, field, message;
};
nlohmann::json to_json(const Violation& v);

// What the broker knows of a case so far, built only from results that passed the policy.
struct CaseState {
  std::optional<std::string> intent;
  std::optional<double> confidence;
  std::optional<std::string> risk_level;
  std::optional<double> risk_score;
  std::optional<std::string> payment_decision;  // authorize, refund, retry, escalate
  std::vector<Action> approved, pending;
  std::vector<Violation> violations;
  std::optional<std::string> reply;
  nlohmann::json review;  // the escalation agent's review item; null until then
  // Card last four digits no reply may contain: the transaction's and the classifier's.
  std::vector<std::string> card_last4s;

  // Refuse everything approved so far: a person reviews the whole case.
  void withhold_approvals();
  // The fields routing conditions read as "case.<name>" (docs/workflow.md).
  nlohmann::json view() const;
  // The "policy" member of the context sent to agents.
  nlohmann::json context() const;
};

// The whole state, for the broker's case store; state_from_json throws nlohmann::json::exception
// (or std::invalid_argument) when the document is not one state_to_json wrote.
nlohmann::json state_to_json(const CaseState& s);
CaseState state_from_json(const nlohmann::json& j);

struct Verdict {
  std::vector<Violation> violations;  // empty: the result was applied to the state
  std::string summary;                // one line for the trail, no customer text
  bool ok() const { return violations.empty(); }
};

// The state of a case before any agent: knows the transaction's card last four.
CaseState initial_state(const cases::Payload& payload);

// Kinds with an output schema; a workflow may only route to these.
bool knows_kind(std::string_view kind) noexcept;

class Policy final {
 public:
  explicit Policy(Config c) : config_(std::move(c)) {}
  const Config& config() const { return config_; }

  Verdict apply(std::string_view kind, const nlohmann::json& result, const cases::Payload& payload, CaseState& state) const;

  // The reply rules alone (drafter and escalation replies, checked by those agents and again by
  // the broker): length, no forbidden phrase (case and whitespace folded), no run of six or more
  // digits (ASCII and Unicode spaces and dashes inside the run count as part of it; an ISO date
  // does not), no card last four digits inside a run, no control characters. Returns what is
  // wrong, empty when fine.
  std::vector<std::string> reply_problems(std::string_view reply, std::span<const std::string> card_last4s) const;
  // With the case's own card last four (payload.transaction.card_last4).
  std::vector<std::string> reply_problems(std::string_view reply, const cases::Payload& payload) const;

 private:
  Config config_;
};

}  // namespace common::policy
