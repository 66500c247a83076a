#include "agent.hpp"

#include "common/util/json.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace agents::response_drafter {
namespace {

using common::json::FieldError;
using common::json::member;
using nlohmann::json;

// The readers below throw FieldError; read_input turns it into an Error value.

const json* object_member(const json& obj, std::string_view key, const std::string& field) {
  const json* v = member(obj, key);
  if (v && !v->is_object()) throw FieldError{field, "must be a JSON object"};
  return v;
}

// Any string, empty or not: this reader puts no length limit on the context's strings.
std::string string_of(const json& v, const std::string& field) {
  return common::json::string_at(v, field, std::numeric_limits<std::size_t>::max(), /*allow_empty=*/true);
}

std::optional<Intent> intent_of(const json& obj, const std::string& path) {
  const json* v = member(obj, "intent");
  if (!v) return std::nullopt;
  const std::string field = path + ".intent";
  const auto intent = common::cases::parse_intent(string_of(*v, field));
  if (!intent) {
    std::string list;
    for (auto i : common::cases::kIntentNames) list += (list.empty() ? "" : ", ") + std::string(i);
    throw FieldError{field, "must be one of " + list};
  }
  return intent;
}

std::optional<RiskLevel> risk_of(const json& obj, const std::string& path) {
  const json* v = member(obj, "risk_level");
  if (!v) return std::nullopt;
  const std::string field = path + ".risk_level";
  const auto risk = parse_risk_level(string_of(*v, field));
  if (!risk) throw FieldError{field, "must be one of low, medium, high"};
  return risk;
}

// An array of action objects; only their types matter to a reply.
std::vector<ActionType> actions_of(const json& obj, std::string_view key, const std::string& path) {
  std::vector<ActionType> out;
  const json* v = member(obj, key);
  if (!v) return out;
  const std::string field = path + "." + std::string(key);
  if (!v->is_array()) throw FieldError{field, "must be an array of action objects"};
  for (std::size_t i = 0; i < v->size(); ++i) {
    const std::string item = field + "[" + std::to_string(i) + "]";
    const json& a = v->at(i);
    if (!a.is_object()) throw FieldError{item, "must be an action object"};
    const json* type = member(a, "type");
    if (!type) throw FieldError{item + ".type", "missing required field"};
    const auto t = parse_action_type(string_of(*type, item + ".type"));
    if (!t) throw FieldError{item + ".type", "unknown action type"};
    out.push_back(*t);
  }
  return out;
}

void read_context(const json& ctx, DraftInput& in) {
  if (!ctx.is_object()) throw FieldError{"context", "must be a JSON object"};
  std::optional<Intent> intent;
  if (const json* c = object_member(ctx, "classifier", "context.classifier")) {
    intent = intent_of(*c, "context.classifier");
    if (const json* e = object_member(*c, "entities", "context.classifier.entities")) {
      if (const json* l4 = member(*e, "card_last4")) {
        const std::string field = "context.classifier.entities.card_last4";
        const std::string s = string_of(*l4, field);
        if (s.size() != 4 || !std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
          throw FieldError{field, "must be exactly 4 digits"};
        }
        in.mentioned_card_last4 = s;
      }
    }
  }
  if (const json* f = object_member(ctx, "fraud_reviewer", "context.fraud_reviewer")) {
    in.risk_level = risk_of(*f, "context.fraud_reviewer");
    in.proposed_actions = actions_of(*f, "actions", "context.fraud_reviewer");
  }
  // The broker's policy is authoritative over what the agents said.
  if (const json* p = object_member(ctx, "policy", "context.policy")) {
    if (auto pi = intent_of(*p, "context.policy")) intent = pi;
    if (auto pr = risk_of(*p, "context.policy")) in.risk_level = pr;
    in.policy = PolicyDecision{actions_of(*p, "approved_actions", "context.policy"),
                               actions_of(*p, "pending_actions", "context.policy")};
  }
  in.intent = intent.value_or(common::cases::intent_of_kind(in.payload.kind));
}

}  // namespace

DrafterSettings read_settings(const nlohmann::json& settings, const std::filesystem::path& config_dir) {
  if (!settings.is_object()) throw std::invalid_argument("settings must be a JSON object");
  for (auto it = settings.begin(); it != settings.end(); ++it) {
    if (it.key() != "templates_dir") {
      throw std::invalid_argument("settings." + it.key() + ": unknown setting (the response drafter takes templates_dir)");
    }
  }
  const json* dir = member(settings, "templates_dir");
  if (!dir) {
    throw std::invalid_argument(
        "settings.templates_dir is required (the reply templates directory): run with --config "
        "deploy/config/response-drafter.json, or set it in your config");
  }
  if (!dir->is_string() || dir->get_ref<const std::string&>().empty()) {
    throw std::invalid_argument("settings.templates_dir must be a non-empty string (a directory path)");
  }
  std::filesystem::path p = dir->get<std::string>();
  if (p.is_relative()) p = config_dir / p;
  return {p.lexically_normal()};
}

common::Result<DraftInput> read_input(std::string_view payload, std::string_view context) {
  auto parsed = common::cases::parse_payload(payload);
  if (!parsed) return parsed.error();
  DraftInput in;
  in.payload = std::move(*parsed);
  try {
    read_context(context.empty() ? json::object() : json::parse(context), in);
  } catch (const FieldError& e) {
    return common::make_error(common::Errc::kInvalidField, e.field, e.message);
  } catch (const json::exception& e) {
    return common::make_error(common::Errc::kInvalidField, "context", std::string("invalid JSON: ") + e.what());
  }
  return in;
}

common::agent::Handler make_handler(std::shared_ptr<const Drafter> drafter) {
  return [drafter](common::agent::Task task, common::agent::Responder responder) {
    auto input = read_input(task.envelope.payload, task.envelope.context);
    if (!input) {
      responder.fail("invalid_field", input.error().field + ": " + input.error().message, false);
      return;
    }
    Draft d = drafter->draft(*input);
    // The gate for whatever Drafter made the draft: nothing unsafe leaves this process.
    if (d.violations.empty()) d.violations = draft_violations(d, *input);
    if (!d.violations.empty()) {
      std::string why;
      for (const auto& v : d.violations) why += (why.empty() ? "" : "; ") + v;
      responder.fail("unsafe_reply", "template " + d.template_name + ": " + why, false);
      return;
    }
    responder.done(to_json(d));
  };
}

}  // namespace agents::response_drafter
