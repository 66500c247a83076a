#include "routes.hpp"

#include "auth.hpp"

#include "common/cases/money.hpp"
#include "common/cases/payload.hpp"
#include "common/redact/redact.hpp"
#include "common/util/json.hpp"

#include <algorithm>
#include <fmt/format.h>

#include <cmath>

namespace edge {
namespace {

constexpr int kMaxDepth = 16;

using nlohmann::json;
using common::json::FieldError;
using common::json::member;

constexpr Route kRoutes[] = {
    {"/v1/cases", RouteKind::kCases, true},       {"/agent", RouteKind::kMessage, false},
    {"/route", RouteKind::kMessage, false},       {"/dispatch", RouteKind::kMessage, false},
    {"/validate", RouteKind::kValidate, false},   {"/lending-review", RouteKind::kLending, false},
    {"/api/payments", RouteKind::kPayments, false},
};

// A body key none of the route's fields: named only when it looks like a field name, as
// common::json::StrictObject::done() does, so that untrusted keys never reach errors or logs.
[[noreturn]] void unknown_key(const std::string& key) {
  const bool plain = !key.empty() && key.size() <= 64 && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  throw FieldError{plain ? key : "<unnamed>", plain ? "unknown field" : "unknown field (its name is not shown)"};
}

std::string need_string(const json& j, const char* key) {
  const json* v = member(j, key);
  if (!v) throw FieldError{key, "missing required field"};
  return common::json::string_at(*v, key, common::cases::kMaxMessageBytes);
}

std::string channel_of(const json& j) {
  const json* v = member(j, "channel");
  if (!v) return "web";
  std::string c = common::json::string_at(*v, "channel", 32);
  if (c == "mobile" || c == "app") c = "mobile_app";  // the seed Workers' word for it
  return c;
}

// A Worker's message route: {"customer_id", "message" | "request_text", "channel"?} plus hints it
// may add (intent, urgency, next_action, risk_level, agent_chain), which are ignored: the broker's
// classifier and policy decide.
json message_case(const json& j) {
  static constexpr std::string_view kAllowed[] = {"customer_id", "message", "request_text", "channel", "intent",
                                                  "urgency",     "next_action", "risk_level", "agent_chain"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (std::find(std::begin(kAllowed), std::end(kAllowed), it.key()) == std::end(kAllowed)) unknown_key(it.key());
  }
  const json* m = member(j, "message");
  if (!m) m = member(j, "request_text");
  if (!m) throw FieldError{"message", "missing required field (or request_text)"};
  return json{{"kind", "support_message"},
              {"channel", channel_of(j)},
              {"customer_ref", need_string(j, "customer_id")},
              {"message", common::json::string_at(*m, "message", common::cases::kMaxMessageBytes)}};
}

// Seed 002's applicant: {"applicant_id", "income" (annual, whole units), "debt_to_income",
// "employment_years", "currency"?, "product"?, "requested_amount"?, "documents"?}.
json lending_case(const json& j) {
  const std::string currency = member(j, "currency") ? common::json::string_at(j.at("currency"), "currency", 3) : "USD";
  const auto exponent = common::money::exponent(currency);
  if (!exponent) throw FieldError{"currency", "must be an active ISO 4217 currency code"};
  auto minor_of = [&](const char* key) -> std::int64_t {
    const double v = common::json::number_at(j.at(key), key, 0, 1e13);
    return static_cast<std::int64_t>(std::llround(v * std::pow(10, *exponent)));
  };
  if (!member(j, "income")) throw FieldError{"income", "missing required field"};
  json application{{"product", member(j, "product") ? j.at("product") : json("personal_loan")},
                   {"currency", currency},
                   {"annual_income_minor", minor_of("income")},
                   {"debt_to_income", member(j, "debt_to_income") ? j.at("debt_to_income") : json(nullptr)},
                   {"employment_years", member(j, "employment_years") ? j.at("employment_years") : json(nullptr)}};
  if (member(j, "requested_amount")) application["requested_amount_minor"] = minor_of("requested_amount");
  if (const json* d = member(j, "documents")) application["documents_provided"] = *d;
  static constexpr std::string_view kAllowed[] = {"applicant_id", "income", "debt_to_income", "employment_years", "currency",
                                                  "product", "requested_amount", "documents", "channel", "message"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (std::find(std::begin(kAllowed), std::end(kAllowed), it.key()) == std::end(kAllowed)) unknown_key(it.key());
  }
  json p{{"kind", "loan_application"}, {"channel", channel_of(j)}, {"customer_ref", need_string(j, "applicant_id")}, {"application", application}};
  if (const json* m = member(j, "message")) p["message"] = *m;
  return p;
}

// Seed 003's Worker call: {"source"?, "customer_id", "message"?, "decision": {"action", "reason"?,
// "amount_minor", "currency", "next_agent"?}}. The decision is another agent's proposal: it
// becomes a payment_request, and the broker's own agents and policy decide again.
json payments_case(const json& j) {
  const json* d = member(j, "decision");
  if (!d) throw FieldError{"decision", "missing required field"};
  if (!d->is_object()) throw FieldError{"decision", "must be a JSON object"};
  const json* a = member(*d, "action");
  if (!a) throw FieldError{"decision.action", "missing required field"};
  const std::string action = common::json::string_at(*a, "decision.action", common::cases::kMaxMessageBytes);
  const std::string type = action == "refund" ? "refund" : action == "authorize" || action == "retry" ? "card_payment" : "";
  if (type.empty()) throw FieldError{"decision.action", "must be authorize, refund or retry (escalate needs no payment)"};
  const json* minor = member(*d, "amount_minor");
  const json* currency = member(*d, "currency");
  if (!minor) throw FieldError{"decision.amount_minor", "missing required field"};
  if (!currency) throw FieldError{"decision.currency", "missing required field"};
  json payment{{"type", type}, {"amount_minor", *minor}, {"currency", *currency}};
  if (const json* r = member(*d, "reason")) payment["reason"] = *r;
  json p{{"kind", "payment_request"}, {"channel", channel_of(j)}, {"customer_ref", need_string(j, "customer_id")}, {"payment", payment}};
  if (const json* m = member(j, "message")) p["message"] = *m;
  else if (action == "retry") p["message"] = "Please retry the payment.";
  return p;
}

}  // namespace

const Route* find_route(std::string_view path) {
  for (const auto& r : kRoutes) {
    if (r.path == path) return &r;
  }
  return nullptr;
}

common::Result<BuiltCase> build_case(const Route& route, std::string_view body) {
  // Nesting first: copying a deeply nested value recurses, and no case is deeper than a few
  // levels. A linear scan, strings and escapes skipped.
  {
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < body.size(); ++i) {
      const char c = body[i];
      if (in_string) {
        if (c == '\\') ++i;
        else if (c == '"') in_string = false;
      } else if (c == '"') {
        in_string = true;
      } else if (c == '{' || c == '[') {
        if (++depth > kMaxDepth) {
          return common::make_error(common::Errc::kMalformed, "", fmt::format("the body is nested deeper than {} levels", kMaxDepth));
        }
      } else if (c == '}' || c == ']') {
        --depth;
      }
    }
  }
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception&) {
    return common::make_error(common::Errc::kMalformed, "", "the body is not valid JSON");
  }
  if (!j.is_object()) return common::make_error(common::Errc::kMalformed, "", "the body must be a JSON object");
  BuiltCase out;
  out.digest = to_hex(sha256(body));
  try {
    switch (route.kind) {
      case RouteKind::kCases:
      case RouteKind::kValidate: out.payload = std::move(j); break;
      case RouteKind::kMessage: out.payload = message_case(j); break;
      case RouteKind::kLending: out.payload = lending_case(j); break;
      case RouteKind::kPayments: out.payload = payments_case(j); break;
    }
  } catch (const FieldError& e) {
    return common::make_error(common::Errc::kInvalidField, e.field, e.message);
  }
  if (route.kind == RouteKind::kValidate) {
    // Seed 002's cheap gate before any model call: the edge's checks only, no agents. A loan
    // applicant in seed 002's shape, or a case payload.
    if (!out.payload.contains("kind")) {  // j was moved into out.payload
      try {
        out.payload = lending_case(out.payload);
      } catch (const FieldError& e) {
        out.validation = json{{"ok", false}, {"field", e.field}, {"reason", e.message}};
        return out;
      }
    }
    auto parsed = common::cases::parse_payload(out.payload);
    out.validation = parsed ? json{{"ok", true}} : json{{"ok", false}, {"field", parsed.error().field}, {"reason", parsed.error().message}};
    return out;
  }
  auto parsed = common::cases::parse_payload(out.payload);
  if (!parsed) return parsed.error();
  // A reference that is really a card number would reach the bus unredacted: refuse it.
  if (common::redact::redact(parsed->customer_ref).total() > 0) {
    return common::make_error(common::Errc::kInvalidField, "payload.customer_ref",
                              "looks like a card, account or other personal number; use a pseudonymous reference");
  }
  out.customer_ref = parsed->customer_ref;
  out.redactions = common::cases::redact_payload(out.payload);
  // Placeholders can be longer than what they replace: the redacted payload must still be valid.
  if (out.redactions > 0) {
    if (auto again = common::cases::parse_payload(out.payload); !again) return again.error();
  }
  return out;
}

}  // namespace edge
