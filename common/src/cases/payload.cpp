#include "common/cases/payload.hpp"

#include "common/redact/redact.hpp"

#include "common/util/json.hpp"

#include <algorithm>
#include <cmath>

namespace common::cases {
namespace {

using nlohmann::json;

constexpr std::string_view kKinds[] = {"support_message", "payment_request", "loan_application", "transaction_alert"};
constexpr std::string_view kChannels[] = {"web", "mobile_app", "branch", "phone", "event_bus"};
constexpr std::string_view kPaymentTypes[] = {"refund", "reversal", "transfer", "card_payment", "bill_payment"};
constexpr std::string_view kProducts[] = {"personal_loan", "mortgage", "auto_loan", "credit_card", "credit_line"};

using common::json::FieldError;
using Object = common::json::StrictObject;
using common::json::string_at;

bool ref_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == ':' || c == '-';
}

std::string ref_of(const json& v, const std::string& field) {
  std::string s = string_at(v, field, 64);
  if (!std::all_of(s.begin(), s.end(), ref_char)) throw FieldError{field, "must be 1-64 characters of A-Z a-z 0-9 . _ : -"};
  return s;
}

template <std::size_t N>
int enum_of(const json& v, const std::string& field, const std::string_view (&names)[N]) {
  if (!v.is_string()) throw FieldError{field, "must be a string"};
  const auto& s = v.get_ref<const std::string&>();
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == s) return static_cast<int>(i);
  }
  std::string list;
  for (std::size_t i = 0; i < N; ++i) list += (i ? ", " : "") + std::string(names[i]);
  throw FieldError{field, "must be one of " + list};
}

std::int64_t minor_of(const json& v, const std::string& field, bool positive) {
  if (!v.is_number_integer()) throw FieldError{field, "must be an integer (minor units, e.g. cents)"};
  const std::int64_t n = v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(money::kMaxMinor)
                             ? money::kMaxMinor + 1
                             : v.get<std::int64_t>();
  if (n < (positive ? 1 : 0) || n > money::kMaxMinor) {
    throw FieldError{field, std::string("must be ") + (positive ? "between 1" : "between 0") + " and " +
                             std::to_string(money::kMaxMinor)};
  }
  return n;
}

std::string currency_of(const json& v, const std::string& field) {
  if (!v.is_string()) throw FieldError{field, "must be a string"};
  const auto& s = v.get_ref<const std::string&>();
  if (!money::is_currency(s)) throw FieldError{field, "must be an active ISO 4217 currency code such as USD"};
  return s;
}

Transaction transaction_of(const json& j) {
  Object o(j, "payload.transaction");
  Transaction t;
  if (const json* v = o.find("id")) t.id = ref_of(*v, o.field("id"));
  t.amount.minor = minor_of(o.need("amount_minor"), o.field("amount_minor"), false);
  t.amount.currency = currency_of(o.need("currency"), o.field("currency"));
  if (const json* v = o.find("merchant")) t.merchant = string_at(*v, o.field("merchant"), 200);
  if (const json* v = o.find("occurred_at")) {
    if (!v->is_string()) throw FieldError{o.field("occurred_at"), "must be a string"};
    const auto ms = parse_rfc3339(v->get_ref<const std::string&>());
    if (!ms) throw FieldError{o.field("occurred_at"), "must be an RFC 3339 timestamp such as 2026-11-20T14:03:00Z"};
    t.occurred_at = *ms;
  }
  if (const json* v = o.find("card_last4")) {
    const std::string s = string_at(*v, o.field("card_last4"), 4);
    if (s.size() != 4 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      throw FieldError{o.field("card_last4"), "must be exactly 4 digits (never a full card number)"};
    }
    t.card_last4 = s;
  }
  if (const json* v = o.find("card_present")) {
    if (!v->is_boolean()) throw FieldError{o.field("card_present"), "must be true or false"};
    t.card_present = v->get<bool>();
  }
  o.done();
  return t;
}

Payment payment_of(const json& j) {
  Object o(j, "payload.payment");
  Payment p;
  p.type = static_cast<PaymentType>(enum_of(o.need("type"), o.field("type"), kPaymentTypes));
  p.amount.minor = minor_of(o.need("amount_minor"), o.field("amount_minor"), true);
  p.amount.currency = currency_of(o.need("currency"), o.field("currency"));
  if (const json* v = o.find("invoice_id")) p.invoice_id = ref_of(*v, o.field("invoice_id"));
  if (const json* v = o.find("payee_ref")) p.payee_ref = ref_of(*v, o.field("payee_ref"));
  if (const json* v = o.find("reason")) p.reason = string_at(*v, o.field("reason"), 500);
  o.done();
  return p;
}

Application application_of(const json& j) {
  Object o(j, "payload.application");
  Application a;
  a.product = static_cast<Product>(enum_of(o.need("product"), o.field("product"), kProducts));
  a.currency = currency_of(o.need("currency"), o.field("currency"));
  a.annual_income_minor = minor_of(o.need("annual_income_minor"), o.field("annual_income_minor"), false);
  if (const json* v = o.find("requested_amount_minor")) {
    a.requested = money::Money{minor_of(*v, o.field("requested_amount_minor"), true), a.currency};
  }
  a.debt_to_income = common::json::number_at(o.need("debt_to_income"), o.field("debt_to_income"), 0, 10);
  a.employment_years = common::json::number_at(o.need("employment_years"), o.field("employment_years"), 0, 80);
  if (const json* v = o.find("documents_provided")) {
    const std::string field = o.field("documents_provided");
    if (!v->is_array()) throw FieldError{field, "must be an array of document types"};
    for (std::size_t i = 0; i < v->size(); ++i) {
      const std::string f = field + "[" + std::to_string(i) + "]";
      const auto doc = std::string(kDocumentTypes[enum_of((*v)[i], f, kDocumentTypes)]);
      if (std::find(a.documents_provided.begin(), a.documents_provided.end(), doc) != a.documents_provided.end()) {
        throw FieldError{f, "lists " + doc + " twice"};
      }
      a.documents_provided.push_back(doc);
    }
  }
  o.done();
  return a;
}

Payload payload_of(const json& j) {
  Object o(j, "payload");
  Payload p;
  p.kind = static_cast<Kind>(enum_of(o.need("kind"), o.field("kind"), kKinds));
  p.channel = static_cast<Channel>(enum_of(o.need("channel"), o.field("channel"), kChannels));
  p.customer_ref = ref_of(o.need("customer_ref"), o.field("customer_ref"));
  if (const json* v = o.find("message")) p.message = string_at(*v, o.field("message"), kMaxMessageBytes, true);
  if (const json* v = o.find("transaction")) p.transaction = transaction_of(*v);
  if (const json* v = o.find("payment")) p.payment = payment_of(*v);
  if (const json* v = o.find("application")) p.application = application_of(*v);
  o.done();
  const bool blank = std::all_of(p.message.begin(), p.message.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
  switch (p.kind) {
    case Kind::kSupportMessage:
      if (blank) throw FieldError{"payload.message", "a support_message needs a non-empty message"};
      break;
    case Kind::kPaymentRequest:
      if (!p.payment) throw FieldError{"payload.payment", "a payment_request needs a payment"};
      break;
    case Kind::kLoanApplication:
      if (!p.application) throw FieldError{"payload.application", "a loan_application needs an application"};
      break;
    case Kind::kTransactionAlert:
      if (!p.transaction) throw FieldError{"payload.transaction", "a transaction_alert needs a transaction"};
      break;
  }
  return p;
}

}  // namespace

std::string_view to_string(Kind k) noexcept { return kKinds[static_cast<int>(k)]; }
std::string_view to_string(Channel c) noexcept { return kChannels[static_cast<int>(c)]; }
std::string_view to_string(PaymentType t) noexcept { return kPaymentTypes[static_cast<int>(t)]; }
std::string_view to_string(Product p) noexcept { return kProducts[static_cast<int>(p)]; }

std::vector<money::Money> Payload::structured_amounts() const {
  std::vector<money::Money> out;
  if (transaction) out.push_back(transaction->amount);
  if (payment) out.push_back(payment->amount);
  if (application && application->requested) out.push_back(*application->requested);
  return out;
}

std::vector<money::Money> Payload::stated_amounts() const {
  std::vector<money::Money> out = structured_amounts();
  for (auto& m : money::find_amounts(message)) out.push_back(std::move(m));
  return out;
}

Result<Payload> parse_payload(const nlohmann::json& j) {
  try {
    return payload_of(j);
  } catch (const FieldError& e) {
    return make_error(Errc::kInvalidField, e.field, e.message);
  }
}

Result<Payload> parse_payload(std::string_view text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return make_error(Errc::kMalformed, "payload", std::string("invalid JSON: ") + e.what());
  }
  return parse_payload(j);
}

int redact_payload(nlohmann::json& p) {
  int n = 0;
  auto apply = [&](nlohmann::json* v) {
    if (!v || !v->is_string()) return;
    auto r = redact::redact(v->get_ref<const std::string&>());
    n += r.total();
    *v = std::move(r.text);
  };
  if (p.is_object()) {
    apply(p.contains("message") ? &p["message"] : nullptr);
    if (auto t = p.find("transaction"); t != p.end() && t->is_object()) apply(t->contains("merchant") ? &(*t)["merchant"] : nullptr);
    if (auto t = p.find("payment"); t != p.end() && t->is_object()) apply(t->contains("reason") ? &(*t)["reason"] : nullptr);
  }
  return n;
}

}  // namespace common::cases
