#include "escalation.hpp"

#include "common/policy/policy.hpp"
#include "common/util/json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace agents::escalation {
namespace {

using common::cases::Kind;
using common::cases::Payload;
using common::cases::Product;

constexpr std::string_view kKinds[] = {"support_message", "payment_request", "loan_application", "transaction_alert"};
constexpr int kKindCount = 4;
constexpr std::string_view kRiskKeys[] = {"high", "medium", "low", "none"};
constexpr std::string_view kProducts[] = {"personal_loan", "mortgage", "auto_loan", "credit_card", "credit_line"};

constexpr int kMaxSlaMinutes = 30 * 24 * 60;  // like every duration in casebus config: at most 30 days
constexpr std::size_t kMaxTemplateBytes = 1500;  // leaves room for the placeholders' values
constexpr std::size_t kMaxSummaryBytes = 1000;
constexpr std::size_t kMaxEvidenceBytes = 300;
constexpr std::size_t kMaxEvidenceItems = 20;
constexpr std::size_t kMaxMerchantBytes = 80;
constexpr std::size_t kMaxLabelBytes = 120;
constexpr std::string_view kModel = "embedded-v1";

// The broker's policy with its defaults: the single source of intents, action types and reply
// rules shared with the broker.
const common::policy::Policy& broker_policy() {
  static const common::policy::Policy policy(common::policy::default_config());
  return policy;
}

template <class List>
bool one_of(std::string_view s, const List& list) {
  return std::find(std::begin(list), std::end(list), s) != std::end(list);
}

template <class List>
std::string list_of(const List& list) {
  std::string out;
  for (auto s : list) out += (out.empty() ? "" : ", ") + std::string(s);
  return out;
}

// Cuts s to at most max bytes without splitting a UTF-8 sequence; "..." marks the cut.
void truncate_utf8(std::string& s, std::size_t max) {
  if (s.size() <= max) return;
  std::size_t cut = max - 3;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  s += "...";
}

std::string with_spaces(std::string_view snake) {
  std::string s(snake);
  std::replace(s.begin(), s.end(), '_', ' ');
  return s;
}

// ---- settings ----

[[noreturn]] void invalid(const std::string& path, const std::string& message) {
  throw std::invalid_argument(path + ": " + message);
}

const nlohmann::json& object_of(const nlohmann::json& v, const std::string& path) {
  if (!v.is_object()) invalid(path, "must be an object");
  return v;
}

bool queue_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

void check_queue_name(std::string_view q, const std::string& path) {
  if (q.empty() || q.size() > 64 || !std::all_of(q.begin(), q.end(), queue_char)) {
    invalid(path, "a queue name must be 1-64 characters of a-z 0-9 . _ -");
  }
}

std::string string_of(const nlohmann::json& v, const std::string& path) {
  if (!v.is_string()) invalid(path, "must be a string");
  return v.get<std::string>();
}

double number_of(const nlohmann::json& v, const std::string& path, double min, double max, bool min_open) {
  if (!v.is_number()) invalid(path, "must be a number");
  const double d = v.get<double>();
  if (!(min_open ? d > min : d >= min) || !(d <= max)) {
    invalid(path, fmt::format("must be {} {} and at most {}", min_open ? "over" : "at least", min, max));
  }
  return d;
}

void check_product_key(const std::string& key, const std::string& path) {
  if (key != "default" && !one_of(key, kProducts)) invalid(path, "unknown key (expected default or " + list_of(kProducts) + ")");
}

void read_prescreen(const nlohmann::json& j, const std::string& path, PrescreenSettings& p) {
  for (const auto& [key, value] : object_of(j, path).items()) {
    const std::string at = path + "." + key;
    if (key == "max_debt_to_income") {
      for (const auto& [product, v] : object_of(value, at).items()) {
        check_product_key(product, at + "." + product);
        p.max_debt_to_income[product] = number_of(v, at + "." + product, 0, 10, true);
      }
    } else if (key == "min_employment_years") {
      p.min_employment_years = number_of(value, at, 0, 80, false);
    } else if (key == "max_loan_to_income") {
      for (const auto& [product, v] : object_of(value, at).items()) {
        check_product_key(product, at + "." + product);
        // null: no loan-to-income cap for this product.
        p.max_loan_to_income[product] = v.is_null() ? std::nullopt
                                                    : std::optional<double>(number_of(v, at + "." + product, 0, 1000, true));
      }
    } else if (key == "required_documents") {
      for (const auto& [product, v] : object_of(value, at).items()) {
        const std::string field = at + "." + product;
        check_product_key(product, field);
        if (!v.is_array()) invalid(field, "must be an array of document types");
        std::vector<std::string> docs;
        for (std::size_t i = 0; i < v.size(); ++i) {
          const std::string doc = string_of(v.at(i), field + "[" + std::to_string(i) + "]");
          if (!one_of(doc, common::cases::kDocumentTypes)) {
            invalid(field + "[" + std::to_string(i) + "]", "must be one of " + list_of(common::cases::kDocumentTypes));
          }
          if (std::find(docs.begin(), docs.end(), doc) != docs.end()) invalid(field, "lists " + doc + " twice");
          docs.push_back(doc);
        }
        p.required_documents[product] = std::move(docs);
      }
    } else {
      invalid(at, "unknown key (allowed: max_debt_to_income, min_employment_years, max_loan_to_income, required_documents)");
    }
  }
}

// What the per-task lookups rely on. parse_settings() cannot break the rows the defaults have
// (it merges over them), but a queue without a label can be configured, and a Settings built in
// code may lack anything.
void check_complete(const Settings& s) {
  if (!s.queues.contains("default")) invalid("settings.queues", "needs a \"default\" queue");
  for (const auto& [k, queue] : s.queues) {
    if (!s.queue_labels.contains(queue)) {
      invalid("settings.queue_labels", "no label for queue \"" + queue + "\" (named by settings.queues." + k + ")");
    }
  }
  for (auto row : kRiskKeys) {
    if (!s.sla_minutes.contains(row)) invalid("settings.sla_minutes", "needs a row for " + std::string(row));
  }
  if (!s.prescreen.max_debt_to_income.contains("default") || !s.prescreen.max_loan_to_income.contains("default") ||
      !s.prescreen.required_documents.contains("default")) {
    invalid("settings.prescreen", "every per-product table needs a \"default\" entry");
  }
}

template <class T, class F>
nlohmann::json table_json(const Table<T>& t, F&& value) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : t) j[k] = value(v);
  return j;
}

// ---- reply templates ----

std::string sla_time(int minutes) {
  if (minutes < 60) return fmt::format("{} minute{}", minutes, minutes == 1 ? "" : "s");
  const int hours = (minutes + 59) / 60;
  return fmt::format("{} hour{}", hours, hours == 1 ? "" : "s");
}

std::string sla_hours(int minutes) {
  return std::to_string((minutes + 59) / 60);
}

// ---- the embedded escalator ----

std::string_view kind_label(Kind k) {
  switch (k) {
    case Kind::kSupportMessage: return "Support message";
    case Kind::kPaymentRequest: return "Payment request";
    case Kind::kLoanApplication: return "Loan application";
    case Kind::kTransactionAlert: return "Transaction alert";
  }
  return "Case";
}

// When no classifier ran, the intent follows the case kind (docs/workflow.md).
std::string_view intent_of(const Payload& p, const Context& c) {
  if (c.policy.intent) return *c.policy.intent;
  if (c.classifier && c.classifier->intent) return *c.classifier->intent;
  return to_string(common::cases::intent_of_kind(p.kind));
}

// A merchant descriptor is structured data from the core banking system, but descriptors can
// carry reference numbers: control characters go, runs of six or more digits and the card's last
// four are masked, and the length is capped.
std::string safe_merchant(std::string_view m, const std::vector<std::string>& card_last4s) {
  std::string s;
  for (char c : m) s.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c);
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] < '0' || s[i] > '9') {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    if (j - i >= 6) std::fill(s.begin() + static_cast<std::ptrdiff_t>(i), s.begin() + static_cast<std::ptrdiff_t>(j), '#');
    i = j;
  }
  for (const auto& card : card_last4s) {
    for (auto pos = s.find(card); !card.empty() && pos != std::string::npos; pos = s.find(card, pos)) {
      s.replace(pos, card.size(), std::string(card.size(), '#'));
    }
  }
  truncate_utf8(s, kMaxMerchantBytes);
  return s;
}

std::string describe_action(const PendingAction& a) {
  return a.amount ? fmt::format("{} of {}", a.type, common::money::format(*a.amount)) : a.type;
}

class EmbeddedEscalator final : public Escalator {
 public:
  EmbeddedEscalator(Settings settings, ReplyTemplate general, std::array<std::optional<ReplyTemplate>, kKindCount> by_kind)
      : settings_(std::move(settings)), general_(std::move(general)), by_kind_(std::move(by_kind)) {}

  Escalation escalate(const Payload& p, const Context& c, common::WallMs created_at) const override {
    Escalation e;
    e.model = kModel;
    Review& r = e.review;
    const std::string_view kind = common::cases::to_string(p.kind);
    const std::string_view intent = intent_of(p, c);
    // The broker's policy is authoritative; the fraud reviewer's own level counts when it is silent.
    const RiskLevel risk = c.policy.risk_level                                  ? *c.policy.risk_level
                           : c.fraud_reviewer && c.fraud_reviewer->risk_level ? *c.fraud_reviewer->risk_level
                                                                                : RiskLevel::kNone;
    r.queue = queue_for(kind, intent);
    r.priority = priority_for(risk, c.policy.pending);
    const int sla = sla_for(kind, risk);
    r.sla_deadline = std::min<common::WallMs>(created_at + static_cast<common::WallMs>(sla) * 60'000, common::kMaxWallMs);
    if (p.kind == Kind::kLoanApplication && p.application) r.underwriting = prescreen(*p.application, settings_.prescreen);
    r.actions_awaiting_approval = c.policy.pending_actions;

    std::vector<std::string> cards;
    if (p.transaction && p.transaction->card_last4) cards.push_back(*p.transaction->card_last4);
    if (c.classifier && c.classifier->card_last4) cards.push_back(*c.classifier->card_last4);
    r.summary = summary(p, c, intent, risk, r, cards);
    r.evidence = evidence(c, r);

    const auto& by_kind = by_kind_[static_cast<std::size_t>(p.kind)];
    const ReplyTemplate& reply = by_kind ? *by_kind : general_;
    const std::string product = p.application ? with_spaces(common::cases::to_string(p.application->product)) : "";
    e.reply = reply.render({settings_.queue_labels.at(r.queue), sla_time(sla), sla_hours(sla), product});
    return e;
  }

 private:
  // The case kind's queue when configured (loan_application -> underwriting), else the intent's,
  // else the default.
  const std::string& queue_for(std::string_view kind, std::string_view intent) const {
    if (auto it = settings_.queues.find(kind); it != settings_.queues.end()) return it->second;
    if (auto it = settings_.queues.find(intent); it != settings_.queues.end()) return it->second;
    return settings_.queues.at("default");
  }

  // Risk sets the base; a pending money-moving action makes it at least high (money waits on a
  // person), any other pending action at least normal.
  static Priority priority_for(RiskLevel risk, const std::vector<PendingAction>& pending) {
    Priority p = risk == RiskLevel::kHigh     ? Priority::kUrgent
                 : risk == RiskLevel::kMedium ? Priority::kHigh
                 : risk == RiskLevel::kLow    ? Priority::kLow
                                              : Priority::kNormal;
    for (const auto& a : pending) p = std::max(p, is_money_moving(a.type) ? Priority::kHigh : Priority::kNormal);
    return p;
  }

  // The kind's own row (loan_application) or the "none" row; a known risk level can only shorten it.
  int sla_for(std::string_view kind, RiskLevel risk) const {
    auto it = settings_.sla_minutes.find(kind);
    int minutes = it != settings_.sla_minutes.end() ? it->second : settings_.sla_minutes.at("none");
    if (risk != RiskLevel::kNone) minutes = std::min(minutes, settings_.sla_minutes.at(std::string(to_string(risk))));
    return minutes;
  }

  // Built from validated, structured fields only: never payload.message, customer_ref, payee_ref,
  // a payment reason or card digits.
  static std::string summary(const Payload& p, const Context& c, std::string_view intent, RiskLevel risk, const Review& r,
                             const std::vector<std::string>& cards) {
    std::string s = fmt::format("{} via {}: intent {}", kind_label(p.kind), with_spaces(common::cases::to_string(p.channel)),
                                intent);
    if (risk == RiskLevel::kNone) {
      s += ", risk not assessed.";
    } else if (c.fraud_reviewer && c.fraud_reviewer->risk_score) {
      s += fmt::format(", risk {} (score {}).", to_string(risk), format_decimal(*c.fraud_reviewer->risk_score, 3));
    } else {
      s += fmt::format(", risk {}.", to_string(risk));
    }
    if (p.transaction) {
      s += " Transaction of " + common::money::format(p.transaction->amount);
      if (p.transaction->merchant) s += " at " + safe_merchant(*p.transaction->merchant, cards);
      if (p.transaction->card_present) s += *p.transaction->card_present ? ", card present" : ", card not present";
      s += ".";
    }
    if (p.payment) {
      s += fmt::format(" Payment: {} of {}.", with_spaces(common::cases::to_string(p.payment->type)),
                       common::money::format(p.payment->amount));
    }
    if (r.underwriting && p.application) {
      const auto& a = *p.application;
      std::string product = with_spaces(common::cases::to_string(a.product));
      product[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(product[0])));
      s += fmt::format(" {} application{}; pre-screen: {}", product,
                       a.requested ? " for " + common::money::format(*a.requested) : std::string(),
                       to_string(r.underwriting->recommendation));
      if (!r.underwriting->missing_documents.empty()) {
        s += fmt::format(", {} document{} missing", r.underwriting->missing_documents.size(),
                         r.underwriting->missing_documents.size() == 1 ? "" : "s");
      }
      s += ".";
    }
    const auto& pending = c.policy.pending;
    if (!pending.empty()) {
      s += fmt::format(" {} action{} await{} approval: ", pending.size(), pending.size() == 1 ? "" : "s",
                       pending.size() == 1 ? "s" : "");
      constexpr std::size_t kListed = 5;
      for (std::size_t i = 0; i < pending.size() && i < kListed; ++i) s += (i ? ", " : "") + describe_action(pending[i]);
      if (pending.size() > kListed) s += fmt::format(" and {} more", pending.size() - kListed);
      s += ".";
    }
    if (const auto n = c.policy.violations.size()) {
      s += fmt::format(" {} policy violation{} recorded.", n, n == 1 ? "" : "s");
    }
    truncate_utf8(s, kMaxSummaryBytes);
    return s;
  }

  static std::vector<std::string> evidence(const Context& c, const Review& r) {
    std::vector<std::string> items;
    if (c.classifier && c.classifier->intent) {
      items.push_back(c.classifier->confidence
                          ? fmt::format("classifier: intent {} (confidence {})", *c.classifier->intent,
                                        format_decimal(*c.classifier->confidence, 3))
                          : fmt::format("classifier: intent {}", *c.classifier->intent));
    }
    if (c.fraud_reviewer) {
      const auto& f = *c.fraud_reviewer;
      if (f.risk_level || f.risk_score) {
        std::string level = f.risk_level ? std::string(to_string(*f.risk_level)) : "unknown";
        items.push_back(f.risk_score ? fmt::format("fraud_reviewer: risk {} (score {})", level, format_decimal(*f.risk_score, 3))
                                     : fmt::format("fraud_reviewer: risk {}", level));
      }
      for (const auto& reason : f.reasons) {
        std::string item = "fraud_reviewer " + reason.rule;
        if (reason.contribution) item += fmt::format(" ({:+.3f})", *reason.contribution);
        if (!reason.detail.empty()) item += ": " + reason.detail;
        items.push_back(std::move(item));
      }
    }
    for (const auto& v : c.policy.violations) {
      items.push_back(fmt::format("policy violation: agent {}, code {}, field {}", v.agent, v.code, v.field));
    }
    if (r.underwriting) {
      for (const auto& check : r.underwriting->checks) {
        items.push_back(fmt::format("underwriting {} {}: {}", check.check, check.passed ? "passed" : "failed", check.detail));
      }
    }
    if (items.size() > kMaxEvidenceItems) {
      const std::size_t dropped = items.size() - (kMaxEvidenceItems - 1);
      items.resize(kMaxEvidenceItems - 1);
      items.push_back(fmt::format("{} more evidence items not shown", dropped));
    }
    for (auto& item : items) truncate_utf8(item, kMaxEvidenceBytes);
    return items;
  }

  Settings settings_;
  ReplyTemplate general_;
  std::array<std::optional<ReplyTemplate>, kKindCount> by_kind_;  // by common::cases::Kind
};

}  // namespace

bool is_intent(std::string_view s) noexcept {
  return one_of(s, common::cases::kIntentNames);
}

bool is_action_type(std::string_view s) {
  const auto& actions = broker_policy().config().actions;
  return actions.find(std::string(s)) != actions.end();
}

bool is_money_moving(std::string_view action_type) {
  const auto& actions = broker_policy().config().actions;
  const auto it = actions.find(std::string(action_type));
  return it != actions.end() && it->second.money_moving;
}

std::string_view to_string(RiskLevel r) noexcept {
  switch (r) {
    case RiskLevel::kNone: return "none";
    case RiskLevel::kLow: return "low";
    case RiskLevel::kMedium: return "medium";
    case RiskLevel::kHigh: return "high";
  }
  return "none";
}

std::string_view to_string(Priority p) noexcept {
  switch (p) {
    case Priority::kLow: return "low";
    case Priority::kNormal: return "normal";
    case Priority::kHigh: return "high";
    case Priority::kUrgent: return "urgent";
  }
  return "normal";
}

Settings default_settings() {
  Settings s;
  s.queues = {{"fraud", "fraud-ops"},
              {"card_dispute", "disputes"},
              {"payments", "payments-ops"},
              {"loan_application", "underwriting"},
              {"default", "customer-care"}};
  s.queue_labels = {{"fraud-ops", "our fraud team"},
                    {"disputes", "our card disputes team"},
                    {"payments-ops", "our payments team"},
                    {"underwriting", "our lending team"},
                    {"customer-care", "our customer care team"}};
  s.sla_minutes = {{"high", 60}, {"medium", 240}, {"low", 1440}, {"none", 1440}, {"loan_application", 2880}};
  s.prescreen = default_prescreen_settings();
  return s;
}

Settings parse_settings(const nlohmann::json& j, const std::filesystem::path& config_dir) {
  Settings s = default_settings();
  for (const auto& [key, value] : object_of(j, "settings").items()) {
    const std::string path = "settings." + key;
    if (key == "queues") {
      for (const auto& [k, v] : object_of(value, path).items()) {
        const std::string at = path + "." + k;
        if (k != "default" && !one_of(k, kKinds) && !is_intent(k)) {
          invalid(at, "unknown key (expected default, a case kind (" + list_of(kKinds) + ") or an intent (" + list_of(common::cases::kIntentNames) + "))");
        }
        std::string queue = string_of(v, at);
        check_queue_name(queue, at);
        s.queues[k] = std::move(queue);
      }
    } else if (key == "queue_labels") {
      for (const auto& [k, v] : object_of(value, path).items()) {
        const std::string at = path + "." + k;
        check_queue_name(k, at);
        std::string label = string_of(v, at);
        if (label.empty() || label.size() > kMaxLabelBytes ||
            std::any_of(label.begin(), label.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
          invalid(at, fmt::format("a label must be 1-{} bytes without control characters", kMaxLabelBytes));
        }
        s.queue_labels[k] = std::move(label);
      }
    } else if (key == "sla_minutes") {
      for (const auto& [k, v] : object_of(value, path).items()) {
        const std::string at = path + "." + k;
        if (!one_of(k, kRiskKeys) && !one_of(k, kKinds)) {
          invalid(at, "unknown key (expected a risk level (" + list_of(kRiskKeys) + ") or a case kind (" + list_of(kKinds) + "))");
        }
        if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > kMaxSlaMinutes) ||
            v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > kMaxSlaMinutes) {
          invalid(at, fmt::format("must be a whole number of minutes from 1 to {}", kMaxSlaMinutes));
        }
        s.sla_minutes[k] = static_cast<int>(v.get<std::int64_t>());
      }
    } else if (key == "prescreen") {
      read_prescreen(value, path, s.prescreen);
    } else if (key == "templates_dir") {
      const std::string dir = string_of(value, path);
      if (dir.empty()) invalid(path, "must not be empty");
      const std::filesystem::path p(dir);
      s.templates_dir = (p.is_absolute() ? p : config_dir / p).lexically_normal();
    } else {
      invalid(path, "unknown key (allowed: queues, queue_labels, sla_minutes, prescreen, templates_dir)");
    }
  }
  if (s.templates_dir.empty()) {
    throw std::invalid_argument(
        "settings.templates_dir is required: the directory of the holding-reply templates "
        "(see deploy/config/escalation.json)");
  }
  check_complete(s);
  return s;
}

nlohmann::json to_json(const Settings& s) {
  auto same = [](const auto& v) { return nlohmann::json(v); };
  const auto& p = s.prescreen;
  nlohmann::json j{
      {"queues", table_json(s.queues, same)},
      {"queue_labels", table_json(s.queue_labels, same)},
      {"sla_minutes", table_json(s.sla_minutes, same)},
      {"prescreen",
       {{"max_debt_to_income", table_json(p.max_debt_to_income, same)},
        {"min_employment_years", p.min_employment_years},
        {"max_loan_to_income",
         table_json(p.max_loan_to_income, [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); })},
        {"required_documents", table_json(p.required_documents, same)}}},
  };
  if (!s.templates_dir.empty()) j["templates_dir"] = s.templates_dir.string();
  return j;
}

ReplyTemplate ReplyTemplate::parse(std::string_view text, std::string source) {
  if (text.ends_with("\r\n")) {
    text.remove_suffix(2);
  } else if (text.ends_with('\n')) {
    text.remove_suffix(1);
  }
  if (std::all_of(text.begin(), text.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; })) {
    throw std::invalid_argument(source + ": the template is empty");
  }
  if (text.size() > kMaxTemplateBytes) {
    throw std::invalid_argument(fmt::format("{}: the template is over {} bytes", source, kMaxTemplateBytes));
  }
  ReplyTemplate t;
  t.source_ = std::move(source);
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t open = text.find("{{", pos);
    if (open != pos) {
      t.parts_.push_back({-1, std::string(text.substr(pos, open == std::string_view::npos ? std::string_view::npos : open - pos))});
    }
    if (open == std::string_view::npos) break;
    const std::size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      throw std::invalid_argument(fmt::format("{}: unclosed \"{{{{\" at byte {}", t.source_, open));
    }
    const std::string_view name = text.substr(open + 2, close - open - 2);
    const auto it = std::find(std::begin(kPlaceholders), std::end(kPlaceholders), name);
    if (it == std::end(kPlaceholders)) {
      std::string allowed;
      for (auto p : kPlaceholders) allowed += (allowed.empty() ? "{{" : ", {{") + std::string(p) + "}}";
      throw std::invalid_argument(
          fmt::format("{}: unknown placeholder {{{{{}}}}} (allowed: {})", t.source_, name, allowed));
    }
    t.parts_.push_back({static_cast<int>(it - std::begin(kPlaceholders)), {}});
    pos = close + 2;
  }
  return t;
}

ReplyTemplate ReplyTemplate::load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::invalid_argument(file.string() + ": cannot read the template (" + std::strerror(errno) + ")");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::invalid_argument(file.string() + ": cannot read the template");
  return parse(text, file.string());
}

std::string ReplyTemplate::render(const ReplyFields& f) const {
  const std::string_view values[] = {f.queue_label, f.sla_time, f.sla_hours, f.product_label};
  static_assert(std::size(values) == std::size(kPlaceholders));
  std::string out;
  out.reserve(512);
  for (const auto& part : parts_) {
    if (part.slot < 0) {
      out += part.text;
    } else {
      out += values[part.slot];
    }
  }
  return out;
}

std::optional<std::string> reply_problem(std::string_view reply, const std::vector<std::string>& card_last4s) {
  static const common::cases::Payload kNoCase;  // the case's own card digits are checked below
  if (auto problems = broker_policy().reply_problems(reply, kNoCase); !problems.empty()) return std::move(problems.front());
  for (const auto& card : card_last4s) {
    if (!card.empty() && reply.find(card) != std::string_view::npos) return std::string("the reply contains the card's last four digits");
  }
  return std::nullopt;
}

std::string to_json(const Escalation& e) {
  // Hand-composed for the per-task budget (a nlohmann DOM with JSON_DIAGNOSTICS costs ~20 us
  // here). Every string is valid UTF-8 (parsed JSON, cut only at character boundaries), so the
  // text equals dump(-1, ' ', false, error_handler_t::replace) up to the order of keys.
  const Review& r = e.review;
  std::string out;
  out.reserve(2048 + r.summary.size() + r.evidence.size() * 128 + e.reply.size());
  common::json::ObjectWriter top(out);
  {
    common::json::ObjectWriter review(top.key("review"));
    review.string("queue", r.queue);
    review.string("priority", to_string(r.priority));
    review.string("summary", r.summary);
    review.key("evidence").push_back('[');
    for (std::size_t i = 0; i < r.evidence.size(); ++i) {
      if (i) out.push_back(',');
      common::json::append_string(out, r.evidence[i]);
    }
    out.push_back(']');
    review.raw("actions_awaiting_approval",
               r.actions_awaiting_approval.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    review.key("sla_deadline").push_back('"');
    common::append_rfc3339(out, r.sla_deadline);
    out.push_back('"');
    if (r.underwriting) review.raw("underwriting", to_json(*r.underwriting));
    review.close();
  }
  top.string("reply", e.reply);
  top.string("model", e.model);
  top.close();
  return out;
}

std::unique_ptr<Escalator> make_embedded_escalator(Settings settings) {
  if (settings.templates_dir.empty()) {
    throw std::invalid_argument("settings.templates_dir is required (see deploy/config/escalation.json)");
  }
  check_complete(settings);
  const auto& dir = settings.templates_dir;
  // A misspelt kind-specific template would silently never be used: refuse names we do not know.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("holding_reply") || !name.ends_with(".txt") || name == "holding_reply.txt") continue;
    const std::string kind = name.substr(14, name.size() - 14 - 4);  // holding_reply_<kind>.txt
    if (name[13] != '_' || !one_of(kind, kKinds)) {
      throw std::invalid_argument(entry.path().string() + ": unknown template name (expected holding_reply.txt or holding_reply_<kind>.txt with kind one of " +
                                  list_of(kKinds) + ")");
    }
  }
  if (ec) throw std::invalid_argument(dir.string() + ": cannot list the templates directory (" + ec.message() + ")");

  ReplyTemplate general = ReplyTemplate::load(dir / "holding_reply.txt");
  std::array<std::optional<ReplyTemplate>, kKindCount> by_kind;
  for (int k = 0; k < kKindCount; ++k) {
    const auto file = dir / ("holding_reply_" + std::string(kKinds[k]) + ".txt");
    if (std::filesystem::exists(file)) by_kind[static_cast<std::size_t>(k)] = ReplyTemplate::load(file);
  }

  // Every reply this configuration can produce, checked once: a template or a label that could
  // promise an outcome or carry digits fails start-up, not a customer's case.
  std::vector<const ReplyTemplate*> templates{&general};
  for (const auto& t : by_kind) {
    if (t) templates.push_back(&*t);
  }
  std::vector<std::string> products{""};
  for (auto p : kProducts) products.push_back(with_spaces(p));
  for (const ReplyTemplate* t : templates) {
    for (const auto& [queue, label] : settings.queue_labels) {
      for (const auto& [row, minutes] : settings.sla_minutes) {
        for (const auto& product : products) {
          const std::string reply = t->render({label, sla_time(minutes), sla_hours(minutes), product});
          if (auto problem = reply_problem(reply, {})) {
            throw std::invalid_argument(fmt::format("{}: renders an unsafe reply ({}) with queue_label \"{}\" (queue {}) and sla_minutes.{}",
                                                    t->source(), *problem, label, queue, row));
          }
        }
      }
    }
  }
  return std::make_unique<EmbeddedEscalator>(std::move(settings), std::move(general), std::move(by_kind));
}

}  // namespace agents::escalation
