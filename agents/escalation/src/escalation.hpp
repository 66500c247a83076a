#pragma once
// The escalation agent's reasoning: turns a case into a review item for people (queue, priority,
// PII-free summary, evidence, the actions awaiting their approval, an SLA deadline and, for loan
// applications, the lending pre-screen) plus a holding reply for the customer. Behind the
// Escalator interface so that a language model can take the embedded default's place; whatever
// answers, the result has the shape of docs/agents/escalation.md and its reply passes
// reply_problem() before it leaves the agent.
#include "prescreen.hpp"

#include "common/cases/payload.hpp"
#include "common/util/time.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agents::escalation {

// Intents and action types as the broker's policy knows them (common::policy).
bool is_intent(std::string_view s) noexcept;
bool is_action_type(std::string_view s);
// refund, reversal, transfer, limit_increase, payment_authorize, payment_retry.
bool is_money_moving(std::string_view action_type);

enum class RiskLevel { kNone, kLow, kMedium, kHigh };  // kNone: nobody assessed the risk
enum class Priority { kLow, kNormal, kHigh, kUrgent };
std::string_view to_string(RiskLevel r) noexcept;
std::string_view to_string(Priority p) noexcept;

// ---- What earlier hops and the broker's policy said (task context; every member optional) ----

struct ClassifierView {
  std::optional<std::string> intent;  // is_intent()
  std::optional<double> confidence;
  std::optional<std::string> card_last4;  // from entities; only used to keep it out of the reply
};

struct Reason {
  std::string rule;
  std::optional<double> contribution;
  std::string detail;
};

struct FraudView {
  std::optional<double> risk_score;
  std::optional<RiskLevel> risk_level;
  std::vector<Reason> reasons;
};

struct PendingAction {
  std::string type;
  std::optional<common::money::Money> amount;  // money-moving actions carry one
};

struct Violation {
  std::string agent, code, field;  // the message is not used: it may quote case text
};

struct PolicyView {
  std::optional<std::string> intent;  // authoritative when present
  std::optional<RiskLevel> risk_level;
  nlohmann::json pending_actions = nlohmann::json::array();  // exactly as the broker wrote them
  std::vector<PendingAction> pending;                        // the same, read
  std::vector<Violation> violations;
};

struct Context {
  std::optional<ClassifierView> classifier;
  std::optional<FraudView> fraud_reviewer;
  PolicyView policy;
};

// ---- Settings ("settings" in the agent's config) ----

template <class T>
using Table = std::map<std::string, T, std::less<>>;

struct Settings {
  Table<std::string> queues;        // case kind, intent or "default" -> queue name
  Table<std::string> queue_labels;  // queue name -> how the holding reply names it ({{queue_label}})
  Table<int> sla_minutes;           // high|medium|low|none (risk level) or a case kind -> minutes
  PrescreenSettings prescreen;
  std::filesystem::path templates_dir;  // no default: the config names it
  friend bool operator==(const Settings&, const Settings&) = default;
};

// The defaults, the single source of every value except templates_dir (empty here).
Settings default_settings();

// Reads the config's "settings" object over the defaults: objects merge key by key, arrays and
// scalars replace. Unknown keys and bad values throw std::invalid_argument naming the key
// ("settings.sla_minutes.hgih: ..."); a relative templates_dir resolves against config_dir.
Settings parse_settings(const nlohmann::json& j, const std::filesystem::path& config_dir);

// The settings as the config file spells them (templates_dir only when set).
nlohmann::json to_json(const Settings& s);

// ---- Holding replies ----

// Placeholders a template may use: {{queue_label}}, {{sla_time}} ("1 hour", "48 hours",
// "30 minutes"), {{sla_hours}} (whole hours, rounded up), {{product_label}} ("mortgage"; empty
// for cases without an application).
inline constexpr std::string_view kPlaceholders[] = {"queue_label", "sla_time", "sla_hours", "product_label"};

struct ReplyFields {
  std::string_view queue_label, sla_time, sla_hours, product_label;
};

// A template parsed once at start-up into literal text and placeholders. Immutable; thread-safe.
class ReplyTemplate final {
 public:
  // Throws std::invalid_argument naming `source` on an unknown placeholder, an unclosed "{{", an
  // empty text or one over 1500 bytes. One trailing newline is dropped.
  static ReplyTemplate parse(std::string_view text, std::string source);
  // parse() of a file's contents; a missing or unreadable file throws naming it.
  static ReplyTemplate load(const std::filesystem::path& file);

  std::string render(const ReplyFields& f) const;
  const std::string& source() const { return source_; }

 private:
  struct Part {
    int slot = -1;  // index into kPlaceholders, -1 for literal text
    std::string text;
  };
  std::vector<Part> parts_;
  std::string source_;
};

// Why a customer-facing reply is unsafe, or nullopt when it is safe: the broker's reply rules with
// its default configuration (common::policy::Policy::reply_problems: at most 2000 bytes, no
// promise of a refund or an outcome, no run of 6 or more digits with spaces and dashes between
// digits ignored, ISO dates excepted), plus none of card_last4s anywhere (the transaction's and
// the classifier's). Never names the digits it found: the answer reaches logs.
std::optional<std::string> reply_problem(std::string_view reply, const std::vector<std::string>& card_last4s);

// ---- The result ----

struct Review {
  std::string queue;
  Priority priority = Priority::kNormal;
  std::string summary;                 // <= 1000 bytes, no free text, customer_ref or card digits
  std::vector<std::string> evidence;   // <= 20 items of <= 300 bytes
  nlohmann::json actions_awaiting_approval = nlohmann::json::array();  // context.policy.pending_actions
  common::WallMs sla_deadline = 0;
  std::optional<Underwriting> underwriting;  // loan_application only
};

struct Escalation {
  Review review;
  std::string reply;
  std::string model;
};

// {"review":{"queue","priority","summary","evidence","actions_awaiting_approval","sla_deadline"
// [,"underwriting"]},"reply","model"}: compact JSON text, the same as nlohmann's
// dump(-1, ' ', false, replace) of these values up to the order of keys.
std::string to_json(const Escalation& e);

class Escalator {
 public:
  virtual ~Escalator() = default;
  // created_at: the task's creation time (ms since the epoch); the SLA runs from it. Never throws
  // for a parsed payload and context.
  virtual Escalation escalate(const common::cases::Payload& payload, const Context& context,
                              common::WallMs created_at) const = 0;
};

// The embedded default ("embedded-v1"): deterministic rules from `settings`. Loads the holding
// replies from settings.templates_dir (holding_reply.txt, and holding_reply_<kind>.txt where one
// exists) and renders each with every queue label, SLA and product to check it is safe; throws
// std::invalid_argument naming the file when one is missing, malformed or unsafe.
std::unique_ptr<Escalator> make_embedded_escalator(Settings settings);

}  // namespace agents::escalation
