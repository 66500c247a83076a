#include "agent.hpp"

#include "common/cases/payload.hpp"
#include "common/policy/policy.hpp"
#include "common/util/json.hpp"

#include <nlohmann/json.hpp>

#include <limits>

namespace agents::escalation {
namespace {

using common::json::FieldError;
using common::json::member;
using common::json::number_at;
using nlohmann::json;

// The readers below throw FieldError; parse_context() turns it into an Error value.

const json& object_of(const json& v, const std::string& field) {
  if (!v.is_object()) throw FieldError{field, "must be a JSON object"};
  return v;
}

const json& array_of(const json& v, const std::string& field) {
  if (!v.is_array()) throw FieldError{field, "must be an array"};
  return v;
}

// Any string, empty or not: this reader puts no length limit on the context's strings.
std::string string_of(const json& v, const std::string& field) {
  return common::json::string_at(v, field, std::numeric_limits<std::size_t>::max(), /*allow_empty=*/true);
}

RiskLevel risk_of(const json& v, const std::string& field) {
  const std::string s = string_of(v, field);
  if (s == "low") return RiskLevel::kLow;
  if (s == "medium") return RiskLevel::kMedium;
  if (s == "high") return RiskLevel::kHigh;
  throw FieldError{field, "must be one of low, medium, high"};
}

std::string intent_of(const json& v, const std::string& field) {
  std::string s = string_of(v, field);
  if (!is_intent(s)) {
    std::string list;
    for (auto i : common::cases::kIntentNames) list += (list.empty() ? "" : ", ") + std::string(i);
    throw FieldError{field, "must be one of " + list};
  }
  return s;
}

ClassifierView classifier_of(const json& j) {
  const std::string at = "context.classifier";
  object_of(j, at);
  ClassifierView c;
  if (const json* v = member(j, "intent")) c.intent = intent_of(*v, at + ".intent");
  if (const json* v = member(j, "confidence")) c.confidence = number_at(*v, at + ".confidence", 0, 1);
  if (const json* entities = member(j, "entities")) {
    object_of(*entities, at + ".entities");
    if (const json* v = member(*entities, "card_last4")) c.card_last4 = string_of(*v, at + ".entities.card_last4");
  }
  return c;
}

FraudView fraud_reviewer_of(const json& j) {
  const std::string at = "context.fraud_reviewer";
  object_of(j, at);
  FraudView f;
  if (const json* v = member(j, "risk_score")) f.risk_score = number_at(*v, at + ".risk_score", 0, 1);
  if (const json* v = member(j, "risk_level")) f.risk_level = risk_of(*v, at + ".risk_level");
  if (const json* reasons = member(j, "reasons")) {
    array_of(*reasons, at + ".reasons");
    for (std::size_t i = 0; i < reasons->size(); ++i) {
      const std::string field = at + ".reasons[" + std::to_string(i) + "]";
      const json& r = object_of(reasons->at(i), field);
      Reason reason;
      if (const json* v = member(r, "rule")) reason.rule = string_of(*v, field + ".rule");
      if (const json* v = member(r, "contribution")) reason.contribution = number_at(*v, field + ".contribution", -1, 1);
      if (const json* v = member(r, "detail")) reason.detail = string_of(*v, field + ".detail");
      if (reason.rule.empty()) throw FieldError{field + ".rule", "missing required field"};
      f.reasons.push_back(std::move(reason));
    }
  }
  return f;
}

PendingAction action_of(const json& a, const std::string& field) {
  object_of(a, field);
  PendingAction action;
  const json* type = member(a, "type");
  if (!type) throw FieldError{field + ".type", "missing required field"};
  action.type = string_of(*type, field + ".type");
  if (!is_action_type(action.type)) throw FieldError{field + ".type", "unknown action type"};
  const json* minor = member(a, "amount_minor");
  const json* currency = member(a, "currency");
  if (minor || currency) {
    if (!minor) throw FieldError{field + ".amount_minor", "missing required field (the action has a currency)"};
    if (!currency) throw FieldError{field + ".currency", "missing required field (the action has an amount)"};
    if (!minor->is_number_integer() || (minor->is_number_unsigned() && minor->get<std::uint64_t>() > common::money::kMaxMinor) ||
        minor->get<std::int64_t>() < 0 || minor->get<std::int64_t>() > common::money::kMaxMinor) {
      throw FieldError{field + ".amount_minor", "must be an integer (minor units) from 0 to 10^15"};
    }
    std::string code = string_of(*currency, field + ".currency");
    if (!common::money::is_currency(code)) throw FieldError{field + ".currency", "must be an active ISO 4217 currency code"};
    action.amount = common::money::Money{minor->get<std::int64_t>(), std::move(code)};
  }
  return action;
}

PolicyView policy_of(const json& j) {
  const std::string at = "context.policy";
  object_of(j, at);
  PolicyView p;
  if (const json* v = member(j, "intent")) p.intent = intent_of(*v, at + ".intent");
  if (const json* v = member(j, "risk_level")) p.risk_level = risk_of(*v, at + ".risk_level");
  if (const json* actions = member(j, "pending_actions")) {
    const std::string field = at + ".pending_actions";
    array_of(*actions, field);
    for (std::size_t i = 0; i < actions->size(); ++i) {
      p.pending.push_back(action_of(actions->at(i), field + "[" + std::to_string(i) + "]"));
    }
    p.pending_actions = *actions;  // copied as is: the reviewer approves exactly what the policy held back
  }
  if (const json* violations = member(j, "violations")) {
    const std::string field = at + ".violations";
    array_of(*violations, field);
    for (std::size_t i = 0; i < violations->size(); ++i) {
      const std::string f = field + "[" + std::to_string(i) + "]";
      const json& v = object_of(violations->at(i), f);
      Violation violation;
      if (const json* s = member(v, "agent")) violation.agent = string_of(*s, f + ".agent");
      if (const json* s = member(v, "code")) violation.code = string_of(*s, f + ".code");
      if (const json* s = member(v, "field")) violation.field = string_of(*s, f + ".field");
      p.violations.push_back(std::move(violation));
    }
  }
  return p;
}

Context context_of(const json& j) {
  object_of(j, "context");
  Context c;
  if (const json* v = member(j, "classifier")) c.classifier = classifier_of(*v);
  if (const json* v = member(j, "fraud_reviewer")) c.fraud_reviewer = fraud_reviewer_of(*v);
  if (const json* v = member(j, "policy")) c.policy = policy_of(*v);
  return c;
}

Answer failure(std::string code, std::string message) {
  return Answer{{}, std::move(code), std::move(message)};
}

}  // namespace

common::Result<Context> parse_context(std::string_view text) {
  json j;
  try {
    j = text.empty() ? json::object() : json::parse(text);
  } catch (const json::exception& e) {
    return common::make_error(common::Errc::kMalformed, "context", std::string("invalid JSON: ") + e.what());
  }
  try {
    return context_of(j);
  } catch (const FieldError& e) {
    return common::make_error(common::Errc::kInvalidField, e.field, e.message);
  }
}

Answer answer_task(const Escalator& model, const common::bus::Envelope& task) {
  auto payload = common::cases::parse_payload(task.payload);
  if (!payload) return failure("invalid_field", payload.error().field + ": " + payload.error().message);
  auto context = parse_context(task.context);
  if (!context) return failure("invalid_field", context.error().field + ": " + context.error().message);

  Escalation e = model.escalate(*payload, *context, task.created_at);
  // Whatever model wrote the reply, it reaches no customer unchecked.
  std::vector<std::string> cards;
  if (payload->transaction && payload->transaction->card_last4) cards.push_back(*payload->transaction->card_last4);
  if (context->classifier && context->classifier->card_last4) cards.push_back(*context->classifier->card_last4);
  if (auto problem = reply_problem(e.reply, cards)) return failure("unsafe_reply", *problem);
  return Answer{to_json(e), {}, {}};
}

common::agent::Handler make_handler(std::shared_ptr<const Escalator> model) {
  return [model](common::agent::Task task, common::agent::Responder responder) {
    Answer answer = answer_task(*model, task.envelope);
    if (answer.ok()) {
      responder.done(std::move(answer.result));
    } else {
      responder.fail(std::move(answer.code), std::move(answer.message), false);
    }
  };
}

}  // namespace agents::escalation
