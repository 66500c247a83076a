#include "classifier.hpp"
#include "model.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace agents::classifier {
namespace {

struct Example {
  const char* message;
  Intent intent;
};

// Every customer message in ../shared/seeds, then the issue's scenarios.
const Example kExamples[] = {
    {"I was charged twice on my debit card yesterday.", Intent::kCardDispute},
    {"I see a card charge from a merchant I don't recognize.", Intent::kFraud},
    {"I see a card charge from a merchant I don\xE2\x80\x99t recognize.", Intent::kFraud},
    {"Customer says their card was declined at checkout.", Intent::kPayments},
    {"I need help disputing a duplicate card charge.", Intent::kCardDispute},
    {"I was charged twice at a grocery store yesterday.", Intent::kCardDispute},
    {"My debit card was charged twice for the same merchant.", Intent::kCardDispute},
    {"My debit card was charged twice for the same purchase.", Intent::kCardDispute},
    {"Customer message: My debit card was charged twice.", Intent::kCardDispute},
    {"The customer reports a duplicate debit card charge and likely needs dispute handling.", Intent::kCardDispute},
    {"Text: Customer reports duplicate debit card charge.", Intent::kCardDispute},
    {"Refund $42.50 USD for invoice INV-1042 because duplicate charge was detected.", Intent::kPayments},
    {"What is my current balance?", Intent::kBalanceAndFees},
    {"Why was I charged a monthly fee on my checking account?", Intent::kBalanceAndFees},
    {"I'm locked out of my account after too many password attempts.", Intent::kAccountAccess},
    {"I can't log in, the verification code never arrives.", Intent::kAccountAccess},
    {"What interest rate would I get on a personal loan?", Intent::kLoanQuestion},
    {"Can I refinance my mortgage?", Intent::kLoanQuestion},
    {"I lost my card, please send a replacement card.", Intent::kCardServices},
    {"How do I activate my new card?", Intent::kCardServices},
    {"Please transfer 25,000 EUR to my savings account abroad.", Intent::kPayments},
    {"Someone used my card without permission, there are charges I never made.", Intent::kFraud},
    {"Hello, what are your opening hours?", Intent::kGeneralSupport},
};

TEST(EmbeddedClassifier, GetsEverySeedExampleRight) {
  const auto model = make_embedded_classifier();
  for (const auto& ex : kExamples) {
    const auto c = model->classify(ex.message);
    EXPECT_EQ(to_string(c.intent), to_string(ex.intent)) << ex.message;
    EXPECT_GE(c.confidence, 0.0);
    EXPECT_LE(c.confidence, 1.0);
  }
}

TEST(EmbeddedClassifier, ConfidenceFollowsTheEvidence) {
  const auto model = make_embedded_classifier();
  const auto none = model->classify("Hello there.");
  EXPECT_EQ(none.intent, Intent::kGeneralSupport);
  EXPECT_LT(none.confidence, 0.5) << "no evidence must fall under an escalation threshold";
  const auto clear = model->classify("I was charged twice, please help me dispute the duplicate.");
  EXPECT_GT(clear.confidence, 0.85);
  const auto mixed = model->classify("My card was declined and I see a charge I don't recognize.");
  EXPECT_LT(mixed.confidence, clear.confidence);
}

TEST(EmbeddedClassifier, IsDeterministic) {
  const auto model = make_embedded_classifier();
  for (const auto& ex : kExamples) EXPECT_EQ(to_json(model->classify(ex.message)), to_json(model->classify(ex.message)));
}

TEST(Entities, AmountsInMinorUnitsWithCurrency) {
  const auto e = extract_entities("Refund $42.50 USD for invoice INV-1042 because duplicate charge was detected.");
  ASSERT_EQ(e.amounts.size(), 1u);
  EXPECT_EQ(e.amounts[0].minor, 4250);
  EXPECT_EQ(e.amounts[0].currency, "USD");
  ASSERT_EQ(e.invoice_ids.size(), 1u);
  EXPECT_EQ(e.invoice_ids[0], "INV-1042");

  EXPECT_EQ(extract_entities("Please transfer 25,000 EUR today").amounts.at(0).minor, 2500000);
  EXPECT_EQ(extract_entities("It cost \xE2\x82\xAC" "19.99 at the shop").amounts.at(0).currency, "EUR");
  EXPECT_EQ(extract_entities("Paid JPY 1200 at the kiosk").amounts.at(0).minor, 1200);
  EXPECT_EQ(extract_entities("Paid 12.500 KWD").amounts.at(0).minor, 12500);
}

TEST(Entities, MerchantDatesAndCard) {
  const auto e = extract_entities("I was charged twice at Fresh Market yesterday on my card ending in 4821.");
  EXPECT_EQ(e.merchant, "Fresh Market");
  ASSERT_EQ(e.dates.size(), 1u);
  EXPECT_EQ(e.dates[0], "yesterday");
  EXPECT_EQ(e.card_last4, "4821");
  EXPECT_EQ(extract_entities("I was charged twice at a grocery store yesterday.").merchant, "grocery store");
  EXPECT_EQ(extract_entities("A charge on 2026-11-20 from ACME Corp.").dates.at(0), "2026-11-20");
}

TEST(Entities, NumbersThatAreNotAmountsOrCardsStayOut) {
  const auto e = extract_entities("Order 55-10293 arrived on Monday, ticket 123456, call 555 0100.");
  EXPECT_TRUE(e.amounts.empty());
  EXPECT_FALSE(e.card_last4);
  EXPECT_TRUE(e.invoice_ids.empty());
  EXPECT_FALSE(extract_entities("Customer says their card was declined at checkout.").merchant);
}

TEST(Classification, JsonShape) {
  const auto j = nlohmann::json::parse(to_json(make_embedded_classifier()->classify("I was charged twice for $10.00")));
  EXPECT_EQ(j.at("intent"), "card_dispute");
  EXPECT_EQ(j.at("entities").at("amounts")[0].at("amount_minor"), 1000);
  EXPECT_EQ(j.at("model"), "embedded-keywords-v1");
  EXPECT_TRUE(j.at("entities").at("merchant").is_null());
}

common::cases::Payload support(const char* message) {
  common::cases::Payload p;
  p.customer_ref = "cust-1";
  p.message = message;
  return p;
}

TEST(PaymentDecision, SeedRefundAndTable) {
  using Action = PaymentDecision::Action;
  struct Row {
    const char* message;
    Action action;
    std::int64_t minor;  // -1: no amount
    const char* currency;
    const char* reason;
  };
  const Row rows[] = {
      {"Refund $42.50 USD for invoice INV-1042 because duplicate charge was detected.", Action::kRefund, 4250, "USD", "duplicate_charge"},
      {"My card was declined at checkout for $19.99, please retry the payment.", Action::kRetry, 1999, "USD", "card_declined"},
      {"Please transfer 25,000 EUR to my savings account abroad.", Action::kAuthorize, 2500000, "EUR", "customer_request"},
      {"I want a refund for the payment.", Action::kEscalate, -1, "", "no_amount_stated"},
      {"Refund $10 or $20, whichever was the duplicate payment.", Action::kEscalate, -1, "", "several_amounts"},
  };
  const auto model = make_embedded_classifier();
  for (const auto& r : rows) {
    const auto c = classify_case(*model, support(r.message));
    ASSERT_EQ(c.intent, Intent::kPayments) << r.message;
    ASSERT_TRUE(c.payment_decision) << r.message;
    EXPECT_EQ(c.payment_decision->action, r.action) << r.message;
    EXPECT_EQ(c.payment_decision->reason, r.reason) << r.message;
    if (r.minor < 0) {
      EXPECT_FALSE(c.payment_decision->amount) << r.message;
    } else {
      ASSERT_TRUE(c.payment_decision->amount) << r.message;
      EXPECT_EQ(c.payment_decision->amount->minor, r.minor) << r.message;
      EXPECT_EQ(c.payment_decision->amount->currency, r.currency) << r.message;
    }
  }
  const auto j = nlohmann::json::parse(to_json(classify_case(*model, support(rows[0].message))));
  EXPECT_EQ(j.at("payment_decision"), (nlohmann::json{{"action", "refund"}, {"reason", "duplicate_charge"},
                                                      {"amount_minor", 4250}, {"currency", "USD"}}));
}

TEST(PaymentDecision, NoneForQuestions) {
  const auto model = make_embedded_classifier();
  for (const char* m : {"Customer says their card was declined at checkout.", "Something about a payment of $5."}) {
    const auto c = classify_case(*model, support(m));
    EXPECT_EQ(c.intent, Intent::kPayments) << m;
    EXPECT_FALSE(c.payment_decision) << m;
  }
}

TEST(PaymentDecision, OnlyForPayments) {
  const auto c = classify_case(*make_embedded_classifier(), support("I was charged twice on my debit card yesterday."));
  EXPECT_EQ(c.intent, Intent::kCardDispute);
  EXPECT_FALSE(c.payment_decision);
  EXPECT_FALSE(nlohmann::json::parse(to_json(c)).contains("payment_decision"));
}

TEST(ClassifyCase, KindsStateTheirIntent) {
  using common::cases::Kind;
  const auto model = make_embedded_classifier();
  auto p = support("");
  p.kind = Kind::kPaymentRequest;
  p.payment = common::cases::Payment{common::cases::PaymentType::kRefund, {4250, "USD"}, "INV-1042", {}, {}};
  auto c = classify_case(*model, p);
  EXPECT_EQ(c.intent, Intent::kPayments);
  EXPECT_EQ(c.confidence, 1.0);
  EXPECT_EQ(c.model, "case-kind");
  ASSERT_TRUE(c.payment_decision);
  EXPECT_EQ(c.payment_decision->action, PaymentDecision::Action::kRefund);
  EXPECT_EQ(c.payment_decision->amount->minor, 4250);

  p.payment->type = common::cases::PaymentType::kTransfer;
  EXPECT_EQ(classify_case(*model, p).payment_decision->action, PaymentDecision::Action::kAuthorize);

  auto alert = support("");
  alert.kind = Kind::kTransactionAlert;
  alert.transaction = common::cases::Transaction{};
  alert.transaction->merchant = "ACME Electronics";
  alert.transaction->card_last4 = "4417";
  c = classify_case(*model, alert);
  EXPECT_EQ(c.intent, Intent::kFraud);
  EXPECT_EQ(c.entities.merchant, "ACME Electronics");
  EXPECT_EQ(c.entities.card_last4, "4417");
  EXPECT_FALSE(c.payment_decision);

  auto loan = support("");
  loan.kind = Kind::kLoanApplication;
  EXPECT_EQ(classify_case(*model, loan).intent, Intent::kLoanQuestion);
}

}  // namespace
}  // namespace agents::classifier

// ---- the language-model modes (model.hpp)

namespace agents::classifier {
namespace {

TEST(ModelAnswer, OnlyAnIntentAndAConfidenceAreAccepted) {
  struct Row {
    const char* answer;
    const char* field;  // nullptr: accepted
  };
  const Row rows[] = {
      {R"({"intent":"fraud","confidence":0.9})", nullptr},
      {R"({"intent":"general_support","confidence":0})", nullptr},
      {R"({"intent":"refund_now","confidence":0.9})", "result.intent"},
      {R"({"intent":7,"confidence":0.9})", "result.intent"},
      {R"({"confidence":0.9})", "result.intent"},
      {R"({"intent":"fraud","confidence":1.5})", "result.confidence"},
      {R"({"intent":"fraud","confidence":"high"})", "result.confidence"},
      {R"({"intent":"fraud","confidence":0.9,"action":"refund"})", "result"},
      {R"(["fraud"])", "result"},
      {R"({"intent":"payments","confidence":0.9,"payment_decision":{"action":"refund","reason":"duplicate_charge","amount_minor":4250,"currency":"USD"}})", nullptr},
      {R"({"intent":"payments","confidence":0.9,"payment_decision":{"action":"escalate","reason":"unclear"}})", nullptr},
      {R"({"intent":"fraud","confidence":0.9,"payment_decision":{"action":"escalate","reason":"unclear"}})", "result.payment_decision"},
      {R"({"intent":"payments","confidence":0.9,"payment_decision":{"action":"wire","reason":"x"}})", "result.payment_decision.action"},
      {R"({"intent":"payments","confidence":0.9,"payment_decision":{"action":"refund","reason":"duplicate_charge"}})", "result.payment_decision.amount_minor"},
      {R"({"intent":"payments","confidence":0.9,"payment_decision":{"action":"refund","reason":"Dup!","amount_minor":1,"currency":"USD"}})", "result.payment_decision.reason"},
      {R"({"intent":"payments","confidence":0.9,"payment_decision":{"action":"refund","reason":"dup","amount_minor":1,"currency":"usd"}})", "result.payment_decision.currency"},
      {R"({"intent":"payments","confidence":0.9,"payment_decision":{"action":"refund","reason":"dup","amount_minor":-5,"currency":"USD"}})", "result.payment_decision.amount_minor"},
  };
  for (const auto& row : rows) {
    const auto r = check_answer(nlohmann::json::parse(row.answer));
    if (!row.field) {
      EXPECT_TRUE(r) << row.answer;
    } else {
      ASSERT_FALSE(r) << row.answer;
      EXPECT_EQ(r.error().field, row.field) << row.answer;
    }
  }
  EXPECT_EQ(answer_schema().at("properties").at("intent").at("enum").size(), common::cases::kIntentNames.size());
}

TEST(ModelSettings, EmbeddedByDefaultAndStrictOtherwise) {
  EXPECT_EQ(read_model_settings(nlohmann::json::object(), ".").mode, "embedded");
  struct Row {
    nlohmann::json settings;
    const char* message;
  };
  const Row rows[] = {
      {{{"mode", "oracle"}}, "settings.mode must be"},
      {{{"mode", "cascade"}, {"cascade_threshold", 2}}, "cascade_threshold must be a number between 0 and 1"},
      {{{"mode", "llm"}}, "settings.prompt_file must be set for mode llm"},
      {{{"mode", "llm"}, {"prompt_file", "/nonexistent/prompt.txt"}}, "cannot read /nonexistent/prompt.txt"},
      {{{"mode", "llm"}, {"prompt_file", CASEBUS_SOURCE_DIR "/agents/classifier/prompts/classify.v1.txt"}}, "settings.provider must be set"},
      {{{"mode", "llm"}, {"prompt_file", CASEBUS_SOURCE_DIR "/agents/classifier/prompts/classify.v1.txt"}, {"provider", {{"provider", "openai"}}}},
       "settings.provider: model must be set"},
  };
  for (const auto& row : rows) {
    try {
      read_model_settings(row.settings, ".");
      ADD_FAILURE() << "accepted " << row.settings.dump();
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(row.message), std::string::npos) << e.what();
    }
  }
  const auto ok = read_model_settings({{"mode", "cascade"},
                                       {"prompt_file", "classify.v1.txt"},
                                       {"provider", {{"provider", "openai"}, {"model", "llama-3-8b"}}}},
                                      CASEBUS_SOURCE_DIR "/agents/classifier/prompts");
  EXPECT_EQ(ok.prompt_version, "classify.v1.txt") << "relative to the config's directory";
  EXPECT_NE(ok.prompt.find("Choose exactly one intent"), std::string::npos);
  EXPECT_EQ(ok.provider.base_url, "http://127.0.0.1:8000");
}

}  // namespace
}  // namespace agents::classifier
