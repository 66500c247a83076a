#include "agent.hpp"
#include "model.hpp"
#include "reviewer.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>

namespace agents::fraud_reviewer {
namespace {

using nlohmann::json;

constexpr common::WallMs kT0 = 1'795'000'000'000;  // 2026-11-18, an arbitrary fixed instant
constexpr common::WallMs kHour = 3'600'000;

common::cases::Payload payload_of(const std::string& text) {
  auto p = common::cases::parse_payload(std::string_view(text));
  if (!p) ADD_FAILURE() << "bad test payload: " << p.error().describe();
  return p ? *p : common::cases::Payload{};
}

std::string support(const std::string& channel, const std::string& customer, const std::string& message) {
  return json{{"kind", "support_message"}, {"channel", channel}, {"customer_ref", customer}, {"message", message}}.dump();
}

std::string classifier(const std::string& intent, double confidence, json amounts = json::array()) {
  return json{{"classifier",
               {{"intent", intent},
                {"confidence", confidence},
                {"entities",
                 {{"amounts", amounts}, {"merchant", nullptr}, {"dates", json::array()}, {"card_last4", nullptr},
                  {"invoice_ids", json::array()}}},
                {"model", "embedded-keywords-v1"}}},
              {"policy", {{"intent", intent}, {"risk_level", nullptr}}}}
      .dump();
}

std::vector<std::string> rules_of(const Review& r) {
  std::vector<std::string> out;
  for (const auto& reason : r.reasons) out.push_back(reason.rule);
  return out;
}

std::vector<std::string> actions_of(const Review& r) {
  std::vector<std::string> out;
  for (const auto& a : r.actions) out.emplace_back(to_string(a.type));
  return out;
}

using Strings = std::vector<std::string>;

struct SeedCase {
  const char* name;
  std::string payload;
  std::string context;
  double score;
  const char* level;
  Strings rules;
  Strings actions;
};

const char* const kCustomer = "cust_10492";

// The seed documents' messages and the case kinds casebus adds; scores follow default_rules().
std::vector<SeedCase> seed_cases() {
  const std::string alert_cnp =
      R"({"kind":"transaction_alert","channel":"event_bus","customer_ref":"cust_10492",)"
      R"("transaction":{"id":"txn-1","amount_minor":4999,"currency":"USD","merchant":"ACME Online","card_last4":"4821","card_present":false}})";
  const std::string alert_cnp_large =
      R"({"kind":"transaction_alert","channel":"event_bus","customer_ref":"cust_10492",)"
      R"("transaction":{"amount_minor":250000,"currency":"USD","card_last4":"4821","card_present":false}})";
  const std::string alert_present =
      R"({"kind":"transaction_alert","channel":"event_bus","customer_ref":"cust_10492",)"
      R"("transaction":{"amount_minor":1200,"currency":"USD","card_present":true}})";
  const std::string transfer_eur =
      R"({"kind":"payment_request","channel":"web","customer_ref":"cust_10492","message":"Please transfer 25,000 EUR to my savings account abroad.",)"
      R"("payment":{"type":"transfer","amount_minor":2500000,"currency":"EUR","payee_ref":"payee-77"}})";
  const std::string transfer_usd =
      R"({"kind":"payment_request","channel":"web","customer_ref":"cust_10492",)"
      R"("payment":{"type":"transfer","amount_minor":150000,"currency":"USD"}})";
  const std::string transfer_denied =
      R"({"kind":"payment_request","channel":"phone","customer_ref":"cust_10492","message":"This transfer was not me.",)"
      R"("payment":{"type":"reversal","amount_minor":2500000,"currency":"USD","reason":"Unauthorized transfer"}})";
  const std::string alert_jpy =
      R"({"kind":"transaction_alert","channel":"event_bus","customer_ref":"cust_10492",)"
      R"("transaction":{"amount_minor":200000,"currency":"JPY","card_present":true}})";
  const std::string alert_kwd =
      R"({"kind":"transaction_alert","channel":"event_bus","customer_ref":"cust_10492",)"
      R"("transaction":{"amount_minor":150000,"currency":"KWD","card_present":true}})";
  const json big = json::array({{{"amount_minor", 2500000}, {"currency", "USD"}}});

  return {
      {"UnrecognisedMerchantWithClassifier",
       support("web", kCustomer, "I see a card charge from a merchant I don't recognize."), classifier("fraud", 0.8), 0.8,
       "high", {"unrecognised_merchant", "classifier_intent", "channel"}, {"temporary_card_freeze"}},
      {"UnrecognisedMerchantTypographicApostropheNoClassifier",
       support("web", kCustomer, "I see a card charge from a merchant I DON\xE2\x80\x99T recognize."), "{}", 0.5, "medium",
       {"unrecognised_merchant", "channel"}, {"monitor"}},
      {"ChargedTwiceOnDebitCard", support("mobile_app", kCustomer, "I was charged twice on my debit card yesterday."),
       classifier("card_dispute", 0.88), 0.05, "low", {"classifier_intent"}, {}},
      {"ChargedTwiceWebNoClassifier", support("web", kCustomer, "My debit card was charged twice for the same purchase."),
       "{}", 0.05, "low", {"channel"}, {}},
      {"NotMeantIsNotNotMe", support("branch", kCustomer, "I was charged twice, it was not meant to happen."),
       classifier("card_dispute", 0.9), 0.05, "low", {"classifier_intent"}, {}},
      {"LargeTransferVeryHigh", transfer_eur, classifier("payments", 0.9), 0.4, "medium", {"amount_threshold", "channel"},
       {"monitor"}},
      {"TransferOverHighThreshold", transfer_usd, "{}", 0.25, "low", {"amount_threshold", "channel"}, {}},
      {"DeniedTransferHasNoCardToFreeze", transfer_denied, classifier("payments", 0.9), 0.85, "high",
       {"amount_threshold", "unrecognised_merchant", "channel"}, {"monitor"}},
      {"CardNotPresentAlert", alert_cnp, "{}", 0.45, "medium", {"card_not_present", "classifier_intent"}, {"monitor"}},
      {"LargeCardNotPresentAlert", alert_cnp_large, "{}", 0.65, "high",
       {"amount_threshold", "card_not_present", "classifier_intent"}, {"temporary_card_freeze"}},
      {"CardPresentAlert", alert_present, "{}", 0.3, "medium", {"classifier_intent"}, {"monitor"}},
      {"YenThresholdInYen", alert_jpy, "{}", 0.5, "medium", {"amount_threshold", "classifier_intent"}, {"monitor"}},
      {"UnlistedCurrencyUsesDefault", alert_kwd, "{}", 0.5, "medium", {"amount_threshold", "classifier_intent"}, {"monitor"}},
      {"LowConfidenceClassifierIgnored", support("branch", kCustomer, "Something odd happened on my account."),
       classifier("fraud", 0.4), 0, "low", {}, {}},
      // examples/transaction-alert.json and examples/unrecognised-merchant.json
      {"ExampleTransactionAlert",
       R"({"kind":"transaction_alert","channel":"event_bus","customer_ref":"cust-58213","transaction":{"id":"tx-88231",)"
       R"("amount_minor":249900,"currency":"USD","merchant":"ACME Electronics","occurred_at":"2026-11-21T03:12:44Z",)"
       R"("card_last4":"4417","card_present":false}})",
       "{}", 0.65, "high", {"amount_threshold", "card_not_present", "classifier_intent"}, {"temporary_card_freeze"}},
      {"ExampleUnrecognisedMerchantInTheApp",
       R"({"kind":"support_message","channel":"mobile_app","customer_ref":"cust-20417","message":"I see a card charge from a )"
       R"(merchant I don't recognize.","transaction":{"amount_minor":8999,"currency":"USD","merchant":"QuickShop Online",)"
       R"("occurred_at":"2026-11-20T22:14:00Z","card_last4":"4417","card_present":false}})",
       classifier("fraud", 0.8), 0.9, "high", {"unrecognised_merchant", "card_not_present", "classifier_intent"},
       {"temporary_card_freeze"}},
      {"ScoreIsClamped", support("web", kCustomer, "Someone used my card for $25,000.00 yesterday."),
       classifier("fraud", 0.95, big), 1, "high",
       {"amount_threshold", "unrecognised_merchant", "classifier_intent", "channel"}, {"temporary_card_freeze"}},
  };
}

TEST(RuleReviewer, SeedCases) {
  for (const auto& c : seed_cases()) {
    SCOPED_TRACE(c.name);
    const auto reviewer = make_rule_reviewer(default_rules());
    const auto p = payload_of(c.payload);
    const auto r = reviewer->review(p, read_context(c.context, std::string("case-") + c.name), kT0);
    EXPECT_DOUBLE_EQ(r.risk_score, c.score);
    EXPECT_EQ(to_string(r.risk_level), c.level);
    EXPECT_EQ(rules_of(r), c.rules);
    EXPECT_EQ(actions_of(r), c.actions);
    EXPECT_EQ(r.model, "embedded-rules-v1");
    for (const auto& reason : r.reasons) {
      EXPECT_NE(reason.contribution, 0) << reason.rule;
      EXPECT_FALSE(reason.detail.empty()) << reason.rule;
    }
  }
}

TEST(RuleReviewer, DetailsKeepCustomerDataOut) {
  for (const auto& c : seed_cases()) {
    SCOPED_TRACE(c.name);
    const auto p = payload_of(c.payload);
    const auto r = make_rule_reviewer(default_rules())->review(p, read_context(c.context, "case-1"), kT0);
    std::vector<std::string> texts;
    for (const auto& reason : r.reasons) texts.push_back(reason.detail);
    for (const auto& a : r.actions) texts.push_back(a.reason);
    for (const auto& t : texts) {
      EXPECT_EQ(t.find(p.customer_ref), std::string::npos) << t;
      if (p.transaction && p.transaction->card_last4) {
        EXPECT_EQ(t.find(*p.transaction->card_last4), std::string::npos) << t;
      }
      if (!p.message.empty()) {
        EXPECT_EQ(t.find(p.message), std::string::npos) << t;
      }
      if (p.payment && p.payment->reason) {
        EXPECT_EQ(t.find(*p.payment->reason), std::string::npos) << t;
      }
      if (p.transaction && p.transaction->merchant) {
        EXPECT_EQ(t.find(*p.transaction->merchant), std::string::npos) << t;
      }
    }
  }
}

TEST(RuleReviewer, DetailsExplainTheRule) {
  // A fresh reviewer per case: the three share a customer, and the repeat rule is not under test.
  const auto transfer = make_rule_reviewer(default_rules())->review(payload_of(seed_cases()[5].payload), {}, kT0);
  ASSERT_EQ(transfer.reasons.at(0).rule, "amount_threshold");
  EXPECT_EQ(transfer.reasons[0].detail, "payment amount 25000.00 EUR at or over the very high threshold 10000.00 EUR");
  EXPECT_DOUBLE_EQ(transfer.reasons[0].contribution, 0.35);

  const auto kwd = make_rule_reviewer(default_rules())->review(payload_of(seed_cases()[12].payload), {}, kT0);
  EXPECT_EQ(kwd.reasons.at(0).detail, "transaction amount 150.000 KWD at or over the high threshold 100.000 KWD (default thresholds)");
  EXPECT_EQ(kwd.reasons.at(1).detail, "intent fraud from the case kind transaction_alert (no classifier result)");

  const auto freeze = make_rule_reviewer(default_rules())->review(payload_of(seed_cases()[0].payload), read_context(seed_cases()[0].context, "c"), kT0);
  EXPECT_EQ(freeze.reasons.at(0).detail, "the customer's words deny making the transaction (phrase \"don't recognize\")");
  EXPECT_EQ(freeze.reasons.at(1).detail, "classifier intent fraud (confidence 0.80)");
  EXPECT_EQ(freeze.reasons.at(2).detail, "the case arrived over web");
  EXPECT_EQ(freeze.actions.at(0).reason,
            "stop further card use until the customer confirms the activity: risk high (score 0.800) from "
            "unrecognised_merchant, classifier_intent, channel");
}

TEST(RuleReviewer, NegativeWeightsLowerTheScoreButNotBelowZero) {
  Rules rules = default_rules();
  rules.channel.weights[static_cast<std::size_t>(common::cases::Channel::kBranch)] = -0.5;
  const auto r = make_rule_reviewer(rules)->review(
      payload_of(support("branch", kCustomer, "I was charged twice on my card.")), read_context(classifier("card_dispute", 0.9), "c"), kT0);
  EXPECT_EQ(rules_of(r), (Strings{"classifier_intent", "channel"}));
  EXPECT_DOUBLE_EQ(r.reasons.at(1).contribution, -0.5);
  EXPECT_DOUBLE_EQ(r.risk_score, 0);
  EXPECT_EQ(to_json(r).find("-0.0"), std::string::npos);
}

TEST(UnrecognisedMerchant, MatchesWholeWordsAnywhere) {
  struct Row {
    std::string message;
    std::string payment_reason;
    bool fires;
  };
  const Row rows[] = {
      {"Not me!", "", true},
      {"this was NOT ME", "", true},
      {"I didn\xE2\x80\x98t make this purchase", "", true},
      {"I didn\xE2\x80\x99t make this purchase", "", true},
      {"(unauthorized)", "", true},
      {"Someone used my card at a petrol station", "", true},
      {"", "Customer says: do not recognise it", true},
      {"It was not meant to happen", "", false},
      {"I cannot merge my accounts", "", false},
      {"It was unauthorizedly done", "", false},
      {"Not", "me", false},  // no phrase spans the message and the payment's reason
      {"d", "", false},
      {"", "", false},
  };
  Rules rules = default_rules();
  for (const auto& row : rows) {
    SCOPED_TRACE(row.message + " / " + row.payment_reason);
    json p = {{"kind", "payment_request"}, {"channel", "branch"}, {"customer_ref", kCustomer}, {"message", row.message},
              {"payment", {{"type", "reversal"}, {"amount_minor", 100}, {"currency", "USD"}}}};
    if (!row.payment_reason.empty()) p["payment"]["reason"] = row.payment_reason;
    const auto r = make_rule_reviewer(rules)->review(payload_of(p.dump()), {}, kT0);
    EXPECT_EQ(rules_of(r), row.fires ? Strings{"unrecognised_merchant"} : Strings{});
  }
}

TEST(UnrecognisedMerchant, ReportsTheFirstPhraseInTheText) {
  const auto r = make_rule_reviewer(default_rules())
                     ->review(payload_of(support("branch", kCustomer, "Not me, I never made it, I don't recognise it")), {}, kT0);
  ASSERT_EQ(r.reasons.size(), 1u);
  EXPECT_EQ(r.reasons[0].detail, "the customer's words deny making the transaction (phrase \"not me\")");
}

// ---- repeat_customer ----

struct RepeatStep {
  const char* customer;
  const char* case_id;
  common::WallMs at;
  bool fires;
};

// Only the repeat rule can fire on these cases: branch channel, a balance question.
void run_steps(Reviewer& reviewer, const std::vector<RepeatStep>& steps) {
  const std::string ctx = classifier("balance_and_fees", 0.9);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const auto& s = steps[i];
    const auto r = reviewer.review(payload_of(support("branch", s.customer, "What is my balance?")), read_context(ctx, s.case_id), s.at);
    EXPECT_EQ(rules_of(r), s.fires ? Strings{"repeat_customer"} : Strings{}) << "step " << i << " case " << s.case_id;
  }
}

TEST(RepeatCustomer, CrossesTheThresholdWithinTheWindow) {
  const auto reviewer = make_rule_reviewer(default_rules());
  run_steps(*reviewer, {{"cust-a", "c1", kT0, false}, {"cust-a", "c2", kT0 + kHour, false}, {"cust-a", "c3", kT0 + 2 * kHour, true},
                        {"cust-a", "c4", kT0 + 3 * kHour, true}});
  const auto r = reviewer->review(payload_of(support("branch", "cust-a", "What is my balance?")), {"c5", {}, {}, {}}, kT0 + 4 * kHour);
  ASSERT_EQ(r.reasons.size(), 1u);
  EXPECT_DOUBLE_EQ(r.reasons[0].contribution, 0.2);
  EXPECT_EQ(r.reasons[0].detail, "at least 4 cases from this customer less than 86400 s apart (threshold 3)");
}

TEST(RepeatCustomer, CasesOutsideTheWindowDoNotCount) {
  const auto reviewer = make_rule_reviewer(default_rules());
  run_steps(*reviewer, {{"cust-a", "c1", kT0, false},
                        {"cust-a", "c2", kT0 + 13 * kHour, false},
                        {"cust-a", "c3", kT0 + 25 * kHour, false},  // c1 is 25 h before
                        {"cust-a", "c4", kT0 + 26 * kHour, true}});
}

TEST(RepeatCustomer, ExactlyOneWindowApartIsOutside) {
  const auto reviewer = make_rule_reviewer(default_rules());
  run_steps(*reviewer, {{"cust-a", "c1", kT0, false}, {"cust-a", "c2", kT0 + 12 * kHour, false}, {"cust-a", "c3", kT0 + 24 * kHour, false}});
}

TEST(RepeatCustomer, RetriesOfOneCaseCountOnce) {
  const auto reviewer = make_rule_reviewer(default_rules());
  run_steps(*reviewer, {{"cust-a", "c1", kT0, false}, {"cust-a", "c1", kT0, false}, {"cust-a", "c1", kT0, false},
                        {"cust-a", "c2", kT0 + kHour, false}, {"cust-a", "c2", kT0 + kHour, false},
                        {"cust-a", "c3", kT0 + kHour, true}, {"cust-a", "c3", kT0 + kHour, true}});
}

TEST(RepeatCustomer, CustomersAreCountedApart) {
  const auto reviewer = make_rule_reviewer(default_rules());
  run_steps(*reviewer, {{"cust-a", "c1", kT0, false}, {"cust-a", "c2", kT0, false}, {"cust-b", "c3", kT0, false},
                        {"cust-b", "c4", kT0, false}, {"cust-a", "c5", kT0, true}});
}

TEST(RepeatCustomer, OutOfOrderCasesCount) {
  const auto reviewer = make_rule_reviewer(default_rules());
  run_steps(*reviewer, {{"cust-a", "c3", kT0 + 2 * kHour, false}, {"cust-a", "c1", kT0, false}, {"cust-a", "c2", kT0 + kHour, true}});
}

TEST(RepeatCustomer, ForgetsTheLeastRecentlySeenCustomer) {
  Rules rules = default_rules();
  rules.repeat_customer.threshold = 2;
  rules.repeat_customer.max_customers = 2;
  run_steps(*make_rule_reviewer(rules), {{"cust-a", "a1", kT0, false},
                                         {"cust-b", "b1", kT0, false},
                                         {"cust-c", "c1", kT0, false},  // forgets cust-a
                                         {"cust-a", "a2", kT0, false}});
  run_steps(*make_rule_reviewer(rules), {{"cust-a", "a1", kT0, false},
                                         {"cust-b", "b1", kT0, false},
                                         {"cust-a", "a2", kT0, true},   // cust-a is now the most recent
                                         {"cust-c", "c1", kT0, false},  // forgets cust-b
                                         {"cust-a", "a3", kT0, true},
                                         {"cust-b", "b2", kT0, false}});
}

TEST(RepeatCustomer, DisabledByAZeroWeight) {
  Rules rules = default_rules();
  rules.repeat_customer.weight = 0;
  run_steps(*make_rule_reviewer(rules), {{"cust-a", "c1", kT0, false}, {"cust-a", "c2", kT0, false}, {"cust-a", "c3", kT0, false}});
}

// ---- configuration ----

TEST(Rules, EmptySettingsAreTheDefaults) {
  EXPECT_EQ(parse_rules(json::object()), default_rules());
}

TEST(Rules, ShippedConfigEqualsTheDefaults) {
  std::ifstream in(CASEBUS_SOURCE_DIR "/deploy/config/fraud-reviewer.json");
  ASSERT_TRUE(in) << "cannot open deploy/config/fraud-reviewer.json";
  std::stringstream text;
  text << in.rdbuf();
  const auto config = json::parse(text.str());
  ASSERT_TRUE(config.contains("settings"));
  EXPECT_EQ(parse_rules(config.at("settings")), default_rules());
  // Complete, not only equal after defaults fill the gaps.
  EXPECT_EQ(config.at("settings"), rules_to_json(default_rules())) << config.at("settings").dump() << "\n"
                                                                    << rules_to_json(default_rules()).dump();
}

TEST(Rules, RoundTripThroughJson) {
  Rules r = default_rules();
  r.amount_threshold.by_currency.erase("JPY");
  r.amount_threshold.by_currency["CHF"] = {50'000, 500'000};
  r.unrecognised_merchant.phrases = {"not mine"};
  r.repeat_customer.window_s = 3600;
  r.classifier_intent.weights[*intent_index("payments")] = -0.1;
  r.actions.high = {ActionType::kTemporaryCardFreeze, ActionType::kIdentityVerification};
  EXPECT_EQ(parse_rules(rules_to_json(r)), r);
  EXPECT_EQ(parse_rules(rules_to_json(default_rules())), default_rules());
}

TEST(Rules, GivenKeysOverrideGivenMapsReplace) {
  const auto r = parse_rules(json::parse(R"({"levels": {"high": 0.7},
      "channel": {"weights": {"phone": 0.1}},
      "unrecognised_merchant": {"phrases": ["Didn\u2019t Make This"]},
      "amount_threshold": {"thresholds_minor": {"default": {"high": 5, "very_high": 10}}}})"));
  Rules expected = default_rules();
  expected.levels.high = 0.7;
  expected.channel.weights = {};
  expected.channel.weights[static_cast<std::size_t>(common::cases::Channel::kPhone)] = 0.1;
  expected.unrecognised_merchant.phrases = {"didn't make this"};
  expected.amount_threshold.fallback = {5, 10};
  expected.amount_threshold.by_currency.clear();
  EXPECT_EQ(r, expected);
}

TEST(Rules, ErrorsNameThePath) {
  struct Row {
    const char* settings;
    const char* message;
  };
  const Row rows[] = {
      {R"([])", "settings: must be a JSON object"},
      {R"({"amount_treshold": {}})", "settings: unknown key \"amount_treshold\""},
      {R"({"repeat_customer": {"windw_s": 60}})", "settings.repeat_customer: unknown key \"windw_s\""},
      {R"({"repeat_customer": {"window_s": 0}})", "settings.repeat_customer.window_s: must be an integer between 1 and 2592000"},
      {R"({"repeat_customer": {"window_s": 1.5}})", "settings.repeat_customer.window_s: must be an integer"},
      {R"({"repeat_customer": {"threshold": 1}})", "settings.repeat_customer.threshold: must be an integer between 2 and 100"},
      {R"({"repeat_customer": {"max_customers": 18446744073709551615}})", "settings.repeat_customer.max_customers: must be an integer"},
      {R"({"card_not_present": {"weight": 1.5}})", "settings.card_not_present.weight: must be between -1 and 1"},
      {R"({"card_not_present": {"weight": "0.1"}})", "settings.card_not_present.weight: must be a number"},
      {R"({"card_not_present": 0.1})", "settings.card_not_present: must be a JSON object"},
      {R"({"amount_threshold": {"thresholds_minor": {"USD": {"high": 1, "very_high": 2}}}})",
       "settings.amount_threshold.thresholds_minor.default: missing required key"},
      {R"({"amount_threshold": {"thresholds_minor": {"default": {"high": 1, "very_high": 2}, "usd": {"high": 1, "very_high": 2}}}})",
       "settings.amount_threshold.thresholds_minor: unknown key \"usd\""},
      {R"({"amount_threshold": {"thresholds_minor": {"default": {"high": 10, "very_high": 2}}}})",
       "settings.amount_threshold.thresholds_minor.default.very_high: must not be below high"},
      {R"({"amount_threshold": {"thresholds_minor": {"default": {"high": 0, "very_high": 2}}}})",
       "settings.amount_threshold.thresholds_minor.default.high: must be an integer between 1 and"},
      {R"({"amount_threshold": {"thresholds_minor": {"default": {"high": 1}}}})",
       "settings.amount_threshold.thresholds_minor.default.very_high: missing required key"},
      {R"({"channel": {"weights": {"fax": 0.1}}})", "settings.channel.weights: unknown key \"fax\""},
      {R"({"channel": {"weight": {}}})", "settings.channel: unknown key \"weight\""},
      {R"({"classifier_intent": {"weights": {"fruad": 0.3}}})", "settings.classifier_intent.weights: unknown key \"fruad\""},
      {R"({"classifier_intent": {"min_confidence": 2}})", "settings.classifier_intent.min_confidence: must be between 0 and 1"},
      {R"({"levels": {"medium": 0.7}})", "settings.levels: medium must not be above high"},
      {R"({"levels": {"high": 0}})", "settings.levels.high: must be between"},
      {R"({"actions": {"high": ["refund"]}})", "settings.actions.high[0]: must be one of temporary_card_freeze, monitor"},
      {R"({"actions": {"medium": ["monitor", "monitor"]}})", "settings.actions.medium[1]: lists monitor twice"},
      {R"({"actions": {"urgent": []}})", "settings.actions: unknown key \"urgent\""},
      {R"({"unrecognised_merchant": {"phrases": ["ok", "x"]}})", "settings.unrecognised_merchant.phrases[1]: must be 2 to 100 bytes"},
      {R"({"unrecognised_merchant": {"phrases": [" not me"]}})", "settings.unrecognised_merchant.phrases[0]: must start and end"},
      {R"({"unrecognised_merchant": {"phrases": "not me"}})", "settings.unrecognised_merchant.phrases: must be an array"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.settings);
    try {
      parse_rules(json::parse(row.settings));
      ADD_FAILURE() << "accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()).rfind(row.message, 0), 0u) << e.what();
    }
  }
}

// ---- context and result shape ----

TEST(ReadContext, TakesTheClassifierWhenItIsWellFormed) {
  const auto ctx = read_context(classifier("fraud", 0.7, json::array({{{"amount_minor", 4250}, {"currency", "USD"}},
                                                                      {{"amount_minor", -1}, {"currency", "USD"}},
                                                                      {{"amount_minor", 5}, {"currency", "usd"}}})),
                                "case-9");
  EXPECT_EQ(ctx.case_id, "case-9");
  EXPECT_EQ(ctx.intent, "fraud");
  EXPECT_EQ(ctx.confidence, 0.7);
  ASSERT_EQ(ctx.message_amounts.size(), 1u);
  EXPECT_EQ(ctx.message_amounts[0], (common::money::Money{4250, "USD"}));

  // Other members skipped, whatever their shape; member order does not matter.
  const auto busy = read_context(R"({"policy": {"intent": "payments", "approved_actions": [{"type": "monitor", "reason": "x"}],
      "violations": []}, "fraud_reviewer": {"risk_score": 0.4, "reasons": [{"rule": "channel", "contribution": 0.05}]},
      "classifier": {"entities": {"merchant": {"intent": "payments"}, "amounts": [{"currency": "EUR", "extra": [1, {"a": 2}],
      "amount_minor": 100}, [1], "x", {"amount_minor": 1.5, "currency": "EUR"}]}, "confidence": 1, "intent": "card_dispute",
      "model": "m"}, "zz": [[{"intent": "fraud"}]]})", "c");
  EXPECT_EQ(busy.intent, "card_dispute");
  EXPECT_EQ(busy.confidence, 1.0);
  EXPECT_EQ(busy.message_amounts, (std::vector<common::money::Money>{{100, "EUR"}}));
  json many = json::array();
  for (int i = 0; i < 50; ++i) many.push_back({{"amount_minor", i}, {"currency", "USD"}});
  EXPECT_EQ(read_context(classifier("fraud", 0.9, many), "c").message_amounts.size(), 20u);

  EXPECT_FALSE(read_context("{}", "c").intent);
  EXPECT_FALSE(read_context(R"({"policy": {"intent": "fraud"}})", "c").intent);
  EXPECT_FALSE(read_context(R"({"classifier": {"intent": "fruad", "confidence": 0.9}})", "c").intent);
  EXPECT_FALSE(read_context(R"({"classifier": "fraud"})", "c").intent);
  EXPECT_FALSE(read_context(R"({"classifier": {"intent": "fraud", "confidence": 7}})", "c").confidence);
  for (const char* bad : {"not json", "[]", "\"classifier\"", "5", "null", "{} {}", "{\"classifier\": {\"intent\": \"fraud\"}"}) {
    EXPECT_THROW(read_context(bad, "c"), std::invalid_argument) << bad;
  }
}

TEST(ReviewJson, HasTheContractShape) {
  const std::regex snake("[a-z][a-z0-9_]*");
  const Strings allowed_actions = {"temporary_card_freeze", "monitor", "card_replacement", "account_unlock", "identity_verification"};
  auto three_decimals = [](double x) { return std::abs(std::round(x * 1000) / 1000 - x) < 1e-12; };
  for (const auto& c : seed_cases()) {
    SCOPED_TRACE(c.name);
    const auto review = make_rule_reviewer(default_rules())->review(payload_of(c.payload), read_context(c.context, "c"), kT0);
    const auto j = json::parse(to_json(review));
    ASSERT_TRUE(j.is_object());
    Strings keys;
    for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
    EXPECT_EQ(keys, (Strings{"actions", "model", "reasons", "risk_level", "risk_score"}));
    ASSERT_TRUE(j.at("risk_score").is_number());
    const double score = j.at("risk_score").get<double>();
    EXPECT_GE(score, 0);
    EXPECT_LE(score, 1);
    EXPECT_TRUE(three_decimals(score)) << score;
    EXPECT_DOUBLE_EQ(score, c.score);
    EXPECT_EQ(j.at("risk_level").get<std::string>(), c.level);
    EXPECT_EQ(j.at("model").get<std::string>(), "embedded-rules-v1");
    ASSERT_TRUE(j.at("reasons").is_array());
    EXPECT_EQ(j.at("reasons").size(), c.rules.size());
    for (const auto& r : j.at("reasons")) {
      ASSERT_TRUE(r.is_object());
      EXPECT_EQ(r.size(), 3u);
      ASSERT_TRUE(r.at("rule").is_string());
      EXPECT_TRUE(std::regex_match(r.at("rule").get<std::string>(), snake));
      ASSERT_TRUE(r.at("contribution").is_number());
      const double contribution = r.at("contribution").get<double>();
      EXPECT_GE(contribution, -1);
      EXPECT_LE(contribution, 1);
      EXPECT_TRUE(three_decimals(contribution));
      ASSERT_TRUE(r.at("detail").is_string());
      EXPECT_LE(r.at("detail").get_ref<const std::string&>().size(), 300u);
    }
    ASSERT_TRUE(j.at("actions").is_array());
    for (const auto& a : j.at("actions")) {
      ASSERT_TRUE(a.is_object());
      EXPECT_EQ(a.size(), 2u) << a.dump();  // not money-moving: no amount_minor, no currency
      ASSERT_TRUE(a.at("type").is_string());
      EXPECT_NE(std::find(allowed_actions.begin(), allowed_actions.end(), a.at("type").get<std::string>()), allowed_actions.end());
      ASSERT_TRUE(a.at("reason").is_string());
      EXPECT_LE(a.at("reason").get_ref<const std::string&>().size(), 300u);
    }
  }
}

TEST(RuleReviewer, IsDeterministic) {
  const auto a = make_rule_reviewer(default_rules());
  const auto b = make_rule_reviewer(default_rules());
  for (int round = 0; round < 3; ++round) {
    for (const auto& c : seed_cases()) {
      const auto p = payload_of(c.payload);
      const auto ctx = read_context(c.context, c.name);
      const auto t = kT0 + round * kHour;
      EXPECT_EQ(to_json(a->review(p, ctx, t)), to_json(b->review(p, ctx, t))) << c.name;
    }
  }
}

}  // namespace
}  // namespace agents::fraud_reviewer

namespace agents::fraud_reviewer {
namespace {

TEST(ModelSummary, OnlyAShortSummaryWithoutPersonalNumbers) {
  const auto problem = [](const char* text) { return summary_problem(nlohmann::json::parse(text)); };
  EXPECT_EQ(problem(R"({"summary":"A large card-not-present purchase at a new merchant at night."})"), "");
  EXPECT_NE(problem(R"({"summary":""})"), "");
  EXPECT_NE(problem(R"({"summary":"Card 4111 1111 1111 1111 was used."})").find("personal number"), std::string::npos);
  EXPECT_NE(problem(R"({"summary":"Write to jordan@example.com."})").find("personal number"), std::string::npos);
  EXPECT_NE(problem(R"({"summary":"Order 12345678 shipped."})").find("6 or more digits"), std::string::npos);
  EXPECT_NE(problem(R"({"summary":"ok","risk_level":"low"})").find("unknown field"), std::string::npos);
  EXPECT_NE(problem(R"({"summary":7})"), "");
  EXPECT_NE(summary_problem(nlohmann::json{{"summary", std::string(301, 'a')}}), "");
}

}  // namespace
}  // namespace agents::fraud_reviewer
