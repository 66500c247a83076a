#pragma once
// The response drafter's reasoning: a customer-facing reply for a case, from its intent, its
// payload and what the fraud review and the broker's policy decided. Behind an interface so a
// language model (a later issue) can take the embedded template drafter's place; whatever drafts,
// the reply must pass reply_violations() and draft_violations() before anyone sends it.
//
// Drafters are immutable after construction: draft() is const and safe to call from any thread.
#include "common/cases/intent.hpp"
#include "common/cases/payload.hpp"

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agents::response_drafter {

using common::cases::Intent;
using common::cases::kIntentCount;

enum class RiskLevel { kLow, kMedium, kHigh };
std::string_view to_string(RiskLevel r) noexcept;
std::optional<RiskLevel> parse_risk_level(std::string_view s) noexcept;

// Action types of the policy (docs/policy.md, "Output schema per agent kind").
enum class ActionType {
  kTemporaryCardFreeze,
  kMonitor,
  kCardReplacement,
  kAccountUnlock,
  kIdentityVerification,
  kRefund,
  kReversal,
  kTransfer,
  kLimitIncrease,
  kPaymentAuthorize,
  kPaymentRetry,
};
std::string_view to_string(ActionType a) noexcept;
std::optional<ActionType> parse_action_type(std::string_view s) noexcept;
bool moves_money(ActionType a) noexcept;

// context.policy as the broker decided it. Only the action types matter to a reply: amounts are
// never repeated to the customer.
struct PolicyDecision {
  std::vector<ActionType> approved;
  std::vector<ActionType> pending;
};

struct DraftInput {
  Intent intent = Intent::kGeneralSupport;
  common::cases::Payload payload;
  std::optional<RiskLevel> risk_level;       // the fraud review's (the policy's wins); none: no review
  std::vector<ActionType> proposed_actions;  // the fraud review's actions, not yet decided
  std::optional<PolicyDecision> policy;      // none: the broker wrote no policy
  // A card's last four digits the customer wrote (context.classifier.entities.card_last4): kept
  // out of the reply like payload.transaction.card_last4.
  std::optional<std::string> mentioned_card_last4;
};

struct Draft {
  std::string reply;
  std::string template_name;  // the template used: the intent's name
  std::string next_step;
  std::string model;
  // Why the draft must not be sent; empty when it may. Never serialised.
  std::vector<std::string> violations;
};

inline constexpr std::size_t kMaxReplyBytes = 2000;
inline constexpr std::size_t kMaxNextStepBytes = 300;
// A run of this many digits or more (spaces and dashes between them ignored) could be a card or
// account number, so no reply may hold one.
inline constexpr std::size_t kUnsafeDigitRun = 6;

// What makes a reply unsendable, one line each, empty when it is safe: empty or more than
// kMaxReplyBytes bytes; a phrase promising a refund or an outcome (case-insensitive, whitespace
// runs count as one space); a run of kUnsafeDigitRun digits or more; card_last4 inside a digit run;
// an unrendered "{{" or "}}"; a control character other than a newline.
std::vector<std::string> reply_violations(std::string_view reply, const std::optional<std::string>& card_last4);

// reply_violations() against every card_last4 the input holds, plus: a template name, a next step
// of 1..kMaxNextStepBytes bytes that the reply states word for word.
std::vector<std::string> draft_violations(const Draft& draft, const DraftInput& input);

class Drafter {
 public:
  virtual ~Drafter() = default;
  // Never throws on input; a draft that must not be sent comes back with violations.
  virtual Draft draft(const DraftInput& input) const = 0;
};

// The embedded drafter: deterministic, offline. Reads <templates_dir>/<intent>.txt for every
// intent and <templates_dir>/policy.json once, renders each template with sample data and checks
// the result. Throws std::invalid_argument with one line naming the file (and the placeholder,
// key or violation) on anything wrong.
std::unique_ptr<Drafter> make_template_drafter(const std::filesystem::path& templates_dir);

// {"reply":...,"template":...,"next_step":...,"model":...}; violations are not part of it.
std::string to_json(const Draft& d);

}  // namespace agents::response_drafter
