#include "routes.hpp"

#include "auth.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace edge {
namespace {

using nlohmann::json;

const Route& route(std::string_view path) {
  const Route* r = find_route(path);
  if (!r) throw std::invalid_argument("no route " + std::string(path));
  return *r;
}

TEST(FindRoute, KnowsExactlyTheCaseRoutes) {
  struct Row {
    std::string_view path;
    RouteKind kind;
    bool waits;
  };
  const Row rows[] = {
      {"/v1/cases", RouteKind::kCases, true},          {"/agent", RouteKind::kMessage, false},
      {"/route", RouteKind::kMessage, false},          {"/dispatch", RouteKind::kMessage, false},
      {"/validate", RouteKind::kValidate, false},      {"/lending-review", RouteKind::kLending, false},
      {"/api/payments", RouteKind::kPayments, false},
  };
  for (const auto& r : rows) {
    const Route* found = find_route(r.path);
    ASSERT_NE(found, nullptr) << r.path;
    EXPECT_EQ(found->path, r.path);
    EXPECT_EQ(found->kind, r.kind) << r.path;
    EXPECT_EQ(found->waits, r.waits) << r.path;
  }
  for (std::string_view path : {"", "/", "/v1/cases/", "/v1/case", "/V1/cases", "/agent/x", "/api/payments?x=1", "/healthz"}) {
    EXPECT_EQ(find_route(path), nullptr) << path;
  }
}

TEST(BuildCase, EachRouteMakesItsPayload) {
  struct Row {
    std::string_view path;
    json body;
    json payload;
    const char* customer_ref;
  };
  const Row rows[] = {
      {"/v1/cases",
       {{"kind", "support_message"}, {"channel", "web"}, {"customer_ref", "cust-10492"}, {"message", "I was charged twice."}},
       {{"kind", "support_message"}, {"channel", "web"}, {"customer_ref", "cust-10492"}, {"message", "I was charged twice."}},
       "cust-10492"},
      {"/agent",
       {{"customer_id", "cust_12345"}, {"message", "I need help disputing a duplicate card charge."}, {"channel", "mobile"}},
       {{"kind", "support_message"},
        {"channel", "mobile_app"},
        {"customer_ref", "cust_12345"},
        {"message", "I need help disputing a duplicate card charge."}},
       "cust_12345"},
      {"/agent",
       {{"customer_id", "cust_1"}, {"message", "Help."}, {"channel", "app"}},
       {{"kind", "support_message"}, {"channel", "mobile_app"}, {"customer_ref", "cust_1"}, {"message", "Help."}},
       "cust_1"},
      {"/route",
       {{"customer_id", "cust_10492"}, {"channel", "branch"}, {"request_text", "My debit card was charged twice."},
        {"intent", "card_dispute"}, {"agent_chain", {"anthropic_classifier", "cloudflare_orchestrator"}}},
       {{"kind", "support_message"}, {"channel", "branch"}, {"customer_ref", "cust_10492"}, {"message", "My debit card was charged twice."}},
       "cust_10492"},
      {"/dispatch",
       {{"customer_id", "cust_1"}, {"message", "Duplicate debit card charge."}, {"intent", "card_dispute"}, {"urgency", "high"},
        {"next_action", "refund"}, {"risk_level", "low"}},
       {{"kind", "support_message"}, {"channel", "web"}, {"customer_ref", "cust_1"}, {"message", "Duplicate debit card charge."}},
       "cust_1"},
      {"/lending-review",
       {{"applicant_id", "A123"}, {"income", 95000}, {"debt_to_income", 0.31}, {"employment_years", 4}},
       {{"kind", "loan_application"},
        {"channel", "web"},
        {"customer_ref", "A123"},
        {"application",
         {{"product", "personal_loan"}, {"currency", "USD"}, {"annual_income_minor", 9500000}, {"debt_to_income", 0.31}, {"employment_years", 4}}}},
       "A123"},
      {"/lending-review",
       {{"applicant_id", "A124"}, {"income", 12000.125}, {"currency", "KWD"}, {"debt_to_income", 0.2}, {"employment_years", 1.5},
        {"product", "auto_loan"}, {"requested_amount", 5000}, {"documents", {"id", "proof_of_income"}}, {"channel", "mobile"},
        {"message", "Please review."}},
       {{"kind", "loan_application"},
        {"channel", "mobile_app"},
        {"customer_ref", "A124"},
        {"message", "Please review."},
        {"application",
         {{"product", "auto_loan"},
          {"currency", "KWD"},
          {"annual_income_minor", 12000125},
          {"requested_amount_minor", 5000000},
          {"debt_to_income", 0.2},
          {"employment_years", 1.5},
          {"documents_provided", {"id", "proof_of_income"}}}}},
       "A124"},
      {"/api/payments",
       {{"source", "anthropic-agent"}, {"customer_id", "cust_2"},
        {"decision", {{"action", "refund"}, {"reason", "duplicate charge"}, {"amount_minor", 4250}, {"currency", "USD"}}}},
       {{"kind", "payment_request"},
        {"channel", "web"},
        {"customer_ref", "cust_2"},
        {"payment", {{"type", "refund"}, {"amount_minor", 4250}, {"currency", "USD"}, {"reason", "duplicate charge"}}}},
       "cust_2"},
      {"/api/payments",
       {{"customer_id", "cust_3"}, {"message", "Pay the invoice."},
        {"decision", {{"action", "authorize"}, {"amount_minor", 1999}, {"currency", "EUR"}, {"next_agent", "fraud_reviewer"}}}},
       {{"kind", "payment_request"},
        {"channel", "web"},
        {"customer_ref", "cust_3"},
        {"message", "Pay the invoice."},
        {"payment", {{"type", "card_payment"}, {"amount_minor", 1999}, {"currency", "EUR"}}}},
       "cust_3"},
      {"/api/payments",
       {{"customer_id", "cust_4"}, {"decision", {{"action", "retry"}, {"amount_minor", 100}, {"currency", "GBP"}}}},
       {{"kind", "payment_request"},
        {"channel", "web"},
        {"customer_ref", "cust_4"},
        {"message", "Please retry the payment."},
        {"payment", {{"type", "card_payment"}, {"amount_minor", 100}, {"currency", "GBP"}}}},
       "cust_4"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(testing::Message() << r.path << " " << r.body.dump());
    const std::string body = r.body.dump();
    const auto built = build_case(route(r.path), body);
    ASSERT_TRUE(built) << built.error().describe();
    EXPECT_EQ(built->payload, r.payload) << built->payload.dump();
    EXPECT_EQ(built->customer_ref, r.customer_ref);
    EXPECT_EQ(built->digest, to_hex(sha256(body)));
    EXPECT_EQ(built->redactions, 0);
    EXPECT_TRUE(built->validation.is_null());
  }
}

TEST(BuildCase, TheDigestIsOfTheBodyBytes) {
  const auto a = build_case(route("/v1/cases"), R"({"kind":"support_message","channel":"web","customer_ref":"c1","message":"hi"})");
  const auto b = build_case(route("/v1/cases"), R"({"kind":"support_message", "channel":"web","customer_ref":"c1","message":"hi"})");
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->payload, b->payload);
  EXPECT_NE(a->digest, b->digest);
}

TEST(BuildCase, ErrorsNameTheField) {
  struct Row {
    const char* name;
    std::string_view path;
    std::string body;
    common::Errc code;
    const char* field;
  };
  using common::Errc;
  const json support{{"kind", "support_message"}, {"channel", "web"}, {"customer_ref", "c1"}, {"message", "hi"}};
  const json lending{{"applicant_id", "A123"}, {"income", 95000}, {"debt_to_income", 0.31}, {"employment_years", 4}};
  const json decision{{"action", "refund"}, {"amount_minor", 4250}, {"currency", "USD"}};
  auto with = [](json j, const std::string& key, json v) {
    j[key] = std::move(v);
    return j.dump();
  };
  auto without = [](json j, const std::string& key) {
    j.erase(key);
    return j.dump();
  };
  const Row rows[] = {
      {"not JSON", "/v1/cases", "{\"kind\":", Errc::kMalformed, ""},
      {"nested too deep", "/lending-review", R"({"applicant_id":"a","income":1,"documents":)" + std::string(100, '[') + std::string(100, ']') + "}",
       Errc::kMalformed, ""},
      {"a card number as customer ref", "/v1/cases", with(support, "customer_ref", "4111111111111111"), Errc::kInvalidField,
       "payload.customer_ref"},
      {"empty body", "/agent", "", Errc::kMalformed, ""},
      {"an array", "/agent", "[1,2]", Errc::kMalformed, ""},
      {"a string", "/api/payments", "\"hi\"", Errc::kMalformed, ""},
      {"case: missing customer_ref", "/v1/cases", without(support, "customer_ref"), Errc::kInvalidField, "payload.customer_ref"},
      {"case: unknown key", "/v1/cases", with(support, "colour", "red"), Errc::kInvalidField, "payload.colour"},
      {"message: missing customer_id", "/agent", R"({"message":"hi"})", Errc::kInvalidField, "customer_id"},
      {"message: customer_id not a string", "/agent", R"({"customer_id":7,"message":"hi"})", Errc::kInvalidField, "customer_id"},
      {"message: customer_id with a space", "/route", R"({"customer_id":"cust 1","message":"hi"})", Errc::kInvalidField,
       "payload.customer_ref"},
      {"message: missing message", "/dispatch", R"({"customer_id":"c1"})", Errc::kInvalidField, "message"},
      {"message: blank message", "/agent", R"({"customer_id":"c1","message":"  "})", Errc::kInvalidField, "payload.message"},
      {"message: channel not a string", "/agent", R"({"customer_id":"c1","message":"hi","channel":5})", Errc::kInvalidField, "channel"},
      {"message: unknown channel", "/agent", R"({"customer_id":"c1","message":"hi","channel":"fax"})", Errc::kInvalidField,
       "payload.channel"},
      {"message: unknown key", "/agent", R"({"customer_id":"c1","message":"hi","colour":"red"})", Errc::kInvalidField, "colour"},
      {"message: unknown key with odd characters", "/agent", R"({"customer_id":"c1","message":"hi","<script>":1})",
       Errc::kInvalidField, "<unnamed>"},
      {"message: unknown key too long", "/agent", with(json{{"customer_id", "c1"}, {"message", "hi"}}, std::string(65, 'k'), 1),
       Errc::kInvalidField, "<unnamed>"},
      {"message: unknown key of 64 characters", "/agent", with(json{{"customer_id", "c1"}, {"message", "hi"}}, std::string(64, 'k'), 1),
       Errc::kInvalidField, nullptr},  // named: checked below
      {"lending: missing applicant_id", "/lending-review", without(lending, "applicant_id"), Errc::kInvalidField, "applicant_id"},
      {"lending: missing income", "/lending-review", without(lending, "income"), Errc::kInvalidField, "income"},
      {"lending: negative income", "/lending-review", with(lending, "income", -1), Errc::kInvalidField, "income"},
      {"lending: income a string", "/lending-review", with(lending, "income", "95000"), Errc::kInvalidField, "income"},
      {"lending: unknown currency", "/lending-review", with(lending, "currency", "ZZZ"), Errc::kInvalidField, "currency"},
      {"lending: debt_to_income out of range", "/lending-review", with(lending, "debt_to_income", 12), Errc::kInvalidField,
       "payload.application.debt_to_income"},
      {"lending: missing employment_years", "/lending-review", without(lending, "employment_years"), Errc::kInvalidField,
       "payload.application.employment_years"},
      {"lending: unknown product", "/lending-review", with(lending, "product", "yacht"), Errc::kInvalidField,
       "payload.application.product"},
      {"lending: unknown document", "/lending-review", with(lending, "documents", json{"id", "horoscope"}), Errc::kInvalidField,
       "payload.application.documents_provided[1]"},
      {"lending: unknown key", "/lending-review", with(lending, "salary", 1), Errc::kInvalidField, "salary"},
      {"payments: missing customer_id", "/api/payments", json{{"decision", decision}}.dump(), Errc::kInvalidField, "customer_id"},
      {"payments: missing decision", "/api/payments", R"({"customer_id":"c1"})", Errc::kInvalidField, "decision"},
      {"payments: decision not an object", "/api/payments", R"({"customer_id":"c1","decision":"refund"})", Errc::kInvalidField,
       "decision"},
      {"payments: bad decision.action", "/api/payments",
       json{{"customer_id", "c1"}, {"decision", json::parse(with(decision, "action", "escalate"))}}.dump(), Errc::kInvalidField,
       "decision.action"},
      {"payments: missing decision.action", "/api/payments",
       json{{"customer_id", "c1"}, {"decision", json::parse(without(decision, "action"))}}.dump(), Errc::kInvalidField, "decision.action"},
      {"payments: decision.action not a string", "/api/payments",
       json{{"customer_id", "c1"}, {"decision", json::parse(with(decision, "action", 1))}}.dump(), Errc::kInvalidField, "decision.action"},
      {"payments: missing amount", "/api/payments",
       json{{"customer_id", "c1"}, {"decision", json::parse(without(decision, "amount_minor"))}}.dump(), Errc::kInvalidField,
       "decision.amount_minor"},
      {"payments: missing currency", "/api/payments",
       json{{"customer_id", "c1"}, {"decision", json::parse(without(decision, "currency"))}}.dump(), Errc::kInvalidField,
       "decision.currency"},
      {"payments: zero amount", "/api/payments", json{{"customer_id", "c1"}, {"decision", json::parse(with(decision, "amount_minor", 0))}}.dump(),
       Errc::kInvalidField, "payload.payment.amount_minor"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    const auto built = build_case(route(r.path), r.body);
    ASSERT_FALSE(built) << built->payload.dump();
    EXPECT_EQ(built.error().code, r.code) << built.error().describe();
    if (r.field) {
      EXPECT_EQ(built.error().field, r.field) << built.error().describe();
    }
    EXPECT_FALSE(built.error().message.empty());
  }
  const auto long_key = build_case(route("/agent"), with(json{{"customer_id", "c1"}, {"message", "hi"}}, std::string(64, 'k'), 1));
  ASSERT_FALSE(long_key);
  EXPECT_EQ(long_key.error().field, std::string(64, 'k'));
}

TEST(BuildCase, ValidateRunsTheChecksOnly) {
  struct Row {
    const char* name;
    json body;
    json validation;
  };
  const json lending{{"applicant_id", "A123"}, {"income", 95000}, {"debt_to_income", 0.31}, {"employment_years", 4}};
  json high_dti = lending;
  high_dti["debt_to_income"] = 12;
  json no_income = lending;
  no_income.erase("income");
  const Row rows[] = {
      {"a sound application", lending, {{"ok", true}}},
      {"debt_to_income out of range", high_dti,
       {{"ok", false}, {"field", "payload.application.debt_to_income"}, {"reason", "must be between 0 and 10"}}},
      {"no income", no_income, {{"ok", false}, {"field", "income"}, {"reason", "missing required field"}}},
      {"a case payload", {{"kind", "support_message"}, {"channel", "web"}, {"customer_ref", "c1"}, {"message", "hi"}}, {{"ok", true}}},
      {"a case payload with a bad channel",
       {{"kind", "support_message"}, {"channel", "fax"}, {"customer_ref", "c1"}, {"message", "hi"}},
       {{"ok", false},
        {"field", "payload.channel"},
        {"reason", "must be one of web, mobile_app, branch, phone, event_bus"}}},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    const auto built = build_case(route("/validate"), r.body.dump());
    ASSERT_TRUE(built) << built.error().describe();
    EXPECT_EQ(built->validation, r.validation) << built->validation.dump();
  }
  // Not JSON is still an error, not a validation result.
  const auto bad = build_case(route("/validate"), "nope");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, common::Errc::kMalformed);
}

TEST(BuildCase, FreeTextIsRedactedAndCounted) {
  struct Row {
    const char* name;
    std::string_view path;
    json body;
    json::json_pointer pointer;  // where the redacted text lands in the payload
    std::string text;
    int redactions;
  };
  const Row rows[] = {
      {"a card in a message", "/agent",
       {{"customer_id", "cust_1"}, {"message", "My card 4111 1111 1111 1111 was charged twice."}},
       json::json_pointer("/message"), "My card [card ending 1111] was charged twice.", 1},
      {"a card and an e-mail", "/v1/cases",
       {{"kind", "support_message"}, {"channel", "web"}, {"customer_ref", "c1"},
        {"message", "Card 4111111111111111, mail jane.doe@example.com"}},
       json::json_pointer("/message"), "Card [card ending 1111], mail [email]", 2},
      {"a Luhn-invalid number stays", "/agent", {{"customer_id", "cust_1"}, {"message", "Order 4111 1111 1111 1112 is late."}},
       json::json_pointer("/message"), "Order 4111 1111 1111 1112 is late.", 0},
      {"a payment's reason", "/api/payments",
       {{"customer_id", "c1"},
        {"decision", {{"action", "refund"}, {"reason", "charged card 5555 5555 5555 4444 twice"}, {"amount_minor", 1}, {"currency", "USD"}}}},
       json::json_pointer("/payment/reason"), "charged card [card ending 4444] twice", 1},
      {"a transaction's merchant", "/v1/cases",
       {{"kind", "transaction_alert"}, {"channel", "event_bus"}, {"customer_ref", "c1"},
        {"transaction", {{"amount_minor", 100}, {"currency", "USD"}, {"merchant", "SHOP jane@example.com"}}}},
       json::json_pointer("/transaction/merchant"), "SHOP [email]", 1},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    const auto built = build_case(route(r.path), r.body.dump());
    ASSERT_TRUE(built) << built.error().describe();
    EXPECT_EQ(built->payload.at(r.pointer), r.text);
    EXPECT_EQ(built->redactions, r.redactions);
    const std::string out = built->payload.dump();
    for (const char* pii : {"4111 1111 1111 1111", "4111111111111111", "5555 5555 5555 4444", "jane.doe@example.com", "jane@example.com"}) {
      EXPECT_EQ(out.find(pii), std::string::npos) << pii << " in " << out;
    }
  }
}

}  // namespace
}  // namespace edge
