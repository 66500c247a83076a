#include "agent.hpp"

#include "common/util/json.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <optional>
#include <stdexcept>

namespace agents::fraud_reviewer {
namespace {

using common::json::member;

constexpr std::size_t kMaxAmounts = 20;

// One amount of classifier.entities.amounts when it has the contract's shape.
std::optional<common::money::Money> amount_of(const nlohmann::json& a) {
  if (!a.is_object()) return std::nullopt;
  const nlohmann::json* minor = member(a, "amount_minor");
  const nlohmann::json* currency = member(a, "currency");
  if (!minor || !minor->is_number_integer() || !currency || !currency->is_string()) return std::nullopt;
  if (minor->is_number_unsigned() && minor->get<std::uint64_t>() > static_cast<std::uint64_t>(common::money::kMaxMinor)) {
    return std::nullopt;
  }
  const auto n = minor->get<std::int64_t>();
  const auto& code = currency->get_ref<const std::string&>();
  if (n < 0 || n > common::money::kMaxMinor || !common::money::is_currency(code)) return std::nullopt;
  return common::money::Money{n, code};
}

}  // namespace

ReviewContext read_context(std::string_view context_json, std::string case_id) {
  ReviewContext ctx;
  ctx.case_id = std::move(case_id);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(context_json);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("context: ") + e.what());
  }
  if (!j.is_object()) throw std::invalid_argument("context: must be a JSON object");
  const nlohmann::json* c = member(j, "classifier");
  if (!c || !c->is_object()) return ctx;
  const nlohmann::json* intent = member(*c, "intent");
  if (!intent || !intent->is_string() || !intent_index(intent->get_ref<const std::string&>())) return ctx;
  ctx.intent = intent->get<std::string>();
  if (const nlohmann::json* confidence = member(*c, "confidence"); confidence && confidence->is_number()) {
    const double v = confidence->get<double>();
    if (std::isfinite(v) && v >= 0 && v <= 1) ctx.confidence = v;
  }
  const nlohmann::json* entities = member(*c, "entities");
  if (!entities || !entities->is_object()) return ctx;
  const nlohmann::json* amounts = member(*entities, "amounts");
  if (!amounts || !amounts->is_array()) return ctx;
  for (const auto& a : *amounts) {
    if (ctx.message_amounts.size() == kMaxAmounts) break;
    if (auto m = amount_of(a)) ctx.message_amounts.push_back(std::move(*m));
  }
  return ctx;
}

common::agent::Handler make_handler(std::shared_ptr<Reviewer> reviewer) {
  return [reviewer](common::agent::Task task, common::agent::Responder responder) {
    auto payload = common::cases::parse_payload(task.envelope.payload);
    if (!payload) {
      const auto& e = payload.error();
      responder.fail(std::string(common::to_string(e.code)), e.field + ": " + e.message, false);
      return;
    }
    ReviewContext ctx;
    try {
      ctx = read_context(task.envelope.context, task.envelope.case_id);
    } catch (const std::invalid_argument& e) {
      responder.fail("malformed", e.what(), false);
      return;
    }
    responder.done(to_json(reviewer->review(*payload, ctx, task.envelope.created_at)));
  };
}

}  // namespace agents::fraud_reviewer
