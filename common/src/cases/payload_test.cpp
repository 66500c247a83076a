#include "common/cases/payload.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace common::cases {
namespace {

TEST(Money, CurrenciesAndExponents) {
  EXPECT_TRUE(money::is_currency("USD"));
  EXPECT_TRUE(money::is_currency("KWD"));
  EXPECT_FALSE(money::is_currency("usd"));
  EXPECT_FALSE(money::is_currency("XXX"));
  EXPECT_FALSE(money::is_currency("US"));
  EXPECT_EQ(money::exponent("JPY"), 0);
  EXPECT_EQ(money::exponent("KWD"), 3);
  EXPECT_EQ(money::exponent("EUR"), 2);
  EXPECT_EQ(money::exponent("ABC"), std::nullopt);
}

TEST(Money, ToMinorAndFormat) {
  EXPECT_EQ(money::to_minor("42.50", "USD"), 4250);
  EXPECT_EQ(money::to_minor("42.5", "USD"), 4250);
  EXPECT_EQ(money::to_minor("1,200", "USD"), 120000);
  EXPECT_EQ(money::to_minor("1200", "JPY"), 1200);
  EXPECT_EQ(money::to_minor("1.250", "KWD"), 1250);
  EXPECT_EQ(money::to_minor("42.505", "USD"), std::nullopt);  // more decimals than cents
  EXPECT_EQ(money::to_minor("12.5", "JPY"), std::nullopt);
  EXPECT_EQ(money::to_minor("", "USD"), std::nullopt);
  EXPECT_EQ(money::to_minor("1.2.3", "USD"), std::nullopt);
  EXPECT_EQ(money::to_minor("99999999999999999999", "USD"), std::nullopt);
  EXPECT_EQ(money::format({4250, "USD"}), "42.50 USD");
  EXPECT_EQ(money::format({1200, "JPY"}), "1200 JPY");
  EXPECT_EQ(money::format({1250, "KWD"}), "1.250 KWD");
  EXPECT_EQ(money::format({5, "EUR"}), "0.05 EUR");
}

TEST(Money, FindAmounts) {
  struct Row {
    const char* text;
    std::vector<money::Money> want;
  };
  const Row rows[] = {
      {"Refund $42.50 USD for invoice INV-1042 because duplicate charge was detected.", {{4250, "USD"}}},
      {"I paid €12 and then £3.40", {{1200, "EUR"}, {340, "GBP"}}},
      {"Transfer EUR 1,200 to my landlord", {{120000, "EUR"}}},
      {"a charge of 5000 JPY", {{5000, "JPY"}}},
      {"order 123456 and invoice 7781 were late", {}},          // numbers without a currency
      {"call me at 555 0100 about ticket 42", {}},
      {"$1.234 is not a USD amount", {}},                       // three decimals in USD
      {"charged C$50 twice, then HK$20", {}},                   // other dollars, no ISO code
      {"charged C$50 CAD", {{5000, "CAD"}}},
  };
  for (const auto& r : rows) EXPECT_EQ(money::find_amounts(r.text), r.want) << r.text;
}

nlohmann::json base() {
  return nlohmann::json{{"kind", "support_message"}, {"channel", "web"}, {"customer_ref", "cust_10492"},
                        {"message", "I was charged twice on my debit card yesterday."}};
}

TEST(Payload, AcceptsEveryKind) {
  auto support = parse_payload(base());
  ASSERT_TRUE(support) << support.error().describe();
  EXPECT_EQ(support->kind, Kind::kSupportMessage);
  EXPECT_EQ(support->customer_ref, "cust_10492");

  auto alert = base();
  alert["kind"] = "transaction_alert";
  alert["channel"] = "event_bus";
  alert.erase("message");
  alert["transaction"] = {{"id", "tx-9"}, {"amount_minor", 129900}, {"currency", "USD"}, {"merchant", "ACME Electronics"},
                          {"occurred_at", "2026-11-20T14:03:00Z"}, {"card_last4", "4417"}, {"card_present", false}};
  auto a = parse_payload(alert);
  ASSERT_TRUE(a) << a.error().describe();
  EXPECT_EQ(a->transaction->amount, (money::Money{129900, "USD"}));
  EXPECT_EQ(a->transaction->card_present, false);
  EXPECT_GT(a->transaction->occurred_at, 0);

  auto pay = base();
  pay["kind"] = "payment_request";
  pay["payment"] = {{"type", "refund"}, {"amount_minor", 4250}, {"currency", "USD"}, {"invoice_id", "INV-1042"}};
  auto p = parse_payload(pay);
  ASSERT_TRUE(p) << p.error().describe();
  EXPECT_EQ(p->payment->type, PaymentType::kRefund);

  auto loan = base();
  loan["kind"] = "loan_application";
  loan["application"] = {{"product", "personal_loan"}, {"currency", "USD"}, {"annual_income_minor", 9500000},
                         {"requested_amount_minor", 2000000}, {"debt_to_income", 0.31}, {"employment_years", 4},
                         {"documents_provided", {"id", "proof_of_income"}}};
  auto l = parse_payload(loan);
  ASSERT_TRUE(l) << l.error().describe();
  EXPECT_DOUBLE_EQ(l->application->debt_to_income, 0.31);
  EXPECT_EQ(l->stated_amounts().front(), (money::Money{2000000, "USD"}));
}

TEST(Payload, StatedAmountsIncludeTheMessage) {
  auto j = base();
  j["message"] = "Refund $42.50 USD for invoice INV-1042 because duplicate charge was detected.";
  j["transaction"] = {{"amount_minor", 4250}, {"currency", "USD"}};
  auto p = parse_payload(j);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->stated_amounts(), (std::vector<money::Money>{{4250, "USD"}, {4250, "USD"}}));
}

TEST(Payload, BadInputNamesTheField) {
  struct Row {
    std::function<void(nlohmann::json&)> edit;
    const char* field;
    const char* message_part;
  };
  const Row rows[] = {
      {[](auto& j) { j.erase("kind"); }, "payload.kind", "missing"},
      {[](auto& j) { j["kind"] = "complaint"; }, "payload.kind", "one of"},
      {[](auto& j) { j["kind"] = 3; }, "payload.kind", "string"},
      {[](auto& j) { j["channel"] = "fax"; }, "payload.channel", "one of"},
      {[](auto& j) { j.erase("customer_ref"); }, "payload.customer_ref", "missing"},
      {[](auto& j) { j["customer_ref"] = "jane doe@example.com"; }, "payload.customer_ref", "characters"},
      {[](auto& j) { j["message"] = "   "; }, "payload.message", "non-empty"},
      {[](auto& j) { j["message"] = std::string(kMaxMessageBytes + 1, 'a'); }, "payload.message", "at most"},
      {[](auto& j) { j["extra"] = 1; }, "payload.extra", "unknown field"},
      {[](auto& j) { j["Jane Doe 4111 1111 1111 1111"] = 1; }, "payload.<unnamed>", "not shown"},
      {[](auto& j) { j["transaction"] = {{"amount_minor", 10}, {"currency", "usd"}}; }, "payload.transaction.currency", "ISO 4217"},
      {[](auto& j) { j["transaction"] = {{"amount_minor", 10.5}, {"currency", "USD"}}; }, "payload.transaction.amount_minor", "integer"},
      {[](auto& j) { j["transaction"] = {{"amount_minor", -1}, {"currency", "USD"}}; }, "payload.transaction.amount_minor", "between"},
      {[](auto& j) { j["transaction"] = {{"currency", "USD"}}; }, "payload.transaction.amount_minor", "missing"},
      {[](auto& j) { j["transaction"] = {{"amount_minor", 1}, {"currency", "USD"}, {"card_last4", "4111111111111111"}}; },
       "payload.transaction.card_last4", "at most"},
      {[](auto& j) { j["transaction"] = {{"amount_minor", 1}, {"currency", "USD"}, {"card_last4", "12a4"}}; },
       "payload.transaction.card_last4", "4 digits"},
      {[](auto& j) { j["transaction"] = {{"amount_minor", 1}, {"currency", "USD"}, {"occurred_at", "yesterday"}}; },
       "payload.transaction.occurred_at", "RFC 3339"},
      {[](auto& j) { j["transaction"] = {{"amount_minor", 1}, {"currency", "USD"}, {"cvv", "123"}}; }, "payload.transaction.cvv", "unknown"},
      {[](auto& j) { j["transaction"] = "10 USD"; }, "payload.transaction", "object"},
      {[](auto& j) { j["kind"] = "payment_request"; }, "payload.payment", "needs a payment"},
      {[](auto& j) { j["kind"] = "transaction_alert"; }, "payload.transaction", "needs a transaction"},
      {[](auto& j) { j["kind"] = "loan_application"; }, "payload.application", "needs an application"},
      {[](auto& j) { j["payment"] = {{"type", "refund"}, {"amount_minor", 0}, {"currency", "USD"}}; }, "payload.payment.amount_minor", "between 1"},
      {[](auto& j) { j["payment"] = {{"type", "gift"}, {"amount_minor", 1}, {"currency", "USD"}}; }, "payload.payment.type", "one of"},
      {[](auto& j) {
         j["application"] = {{"product", "mortgage"}, {"currency", "USD"}, {"annual_income_minor", 1}, {"debt_to_income", 11},
                             {"employment_years", 1}};
       },
       "payload.application.debt_to_income", "between"},
      {[](auto& j) {
         j["application"] = {{"product", "mortgage"}, {"currency", "USD"}, {"annual_income_minor", 1}, {"debt_to_income", 0.2},
                             {"employment_years", 1}, {"documents_provided", {"id", "id"}}};
       },
       "payload.application.documents_provided[1]", "twice"},
      {[](auto& j) {
         j["application"] = {{"product", "mortgage"}, {"currency", "USD"}, {"annual_income_minor", 1}, {"debt_to_income", 0.2},
                             {"employment_years", 1}, {"documents_provided", {"selfie"}}};
       },
       "payload.application.documents_provided[0]", "one of"},
  };
  for (const auto& r : rows) {
    auto j = base();
    r.edit(j);
    auto p = parse_payload(j);
    ASSERT_FALSE(p) << j.dump();
    EXPECT_EQ(p.error().code, Errc::kInvalidField) << j.dump();
    EXPECT_EQ(p.error().field, r.field) << j.dump();
    EXPECT_NE(p.error().message.find(r.message_part), std::string::npos) << p.error().message;
  }
  auto text = parse_payload(std::string_view("{\"kind\":"));
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, Errc::kMalformed);
  auto array = parse_payload(std::string_view("[]"));
  ASSERT_FALSE(array);
  EXPECT_EQ(array.error().field, "payload");
}

TEST(Payload, NullMeansAbsent) {
  auto j = base();
  j["transaction"] = nullptr;
  auto p = parse_payload(j);
  ASSERT_TRUE(p) << p.error().describe();
  EXPECT_FALSE(p->transaction);
}

}  // namespace
}  // namespace common::cases
