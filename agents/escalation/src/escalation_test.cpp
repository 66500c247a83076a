#include "agent.hpp"
#include "escalation.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>
#include <set>
#include <unistd.h>

namespace agents::escalation {
namespace {

using nlohmann::json;

const std::filesystem::path kSourceDir = CASEBUS_SOURCE_DIR;
const std::filesystem::path kTemplatesDir = kSourceDir / "deploy/templates/escalation";
const common::WallMs kCreatedAt = *common::parse_rfc3339("2026-11-21T08:45:00.123Z");
constexpr common::WallMs kMinute = 60'000;

Settings test_settings() {
  Settings s = default_settings();
  s.templates_dir = kTemplatesDir;
  return s;
}

const Escalator& model() {
  static const auto m = make_embedded_escalator(test_settings());
  return *m;
}

common::bus::Envelope task(const json& payload, const json& context = json::object()) {
  common::bus::Envelope e;
  e.type = common::bus::EnvelopeType::kTask;
  e.id = "t-1";
  e.case_id = "c-1";
  e.to = "escalation";
  e.created_at = kCreatedAt;
  e.payload = payload.dump();
  e.context = context.dump();
  return e;
}

// The DONE JSON of a task that must succeed.
json escalate(const json& payload, const json& context = json::object()) {
  const Answer a = answer_task(model(), task(payload, context));
  EXPECT_TRUE(a.ok()) << a.code << ": " << a.message;
  return a.ok() ? json::parse(a.result) : json::object();
}

const json kFraudAlert = {{"kind", "transaction_alert"},
                          {"channel", "event_bus"},
                          {"customer_ref", "cust-77123"},
                          {"transaction",
                           {{"id", "tx-9"},
                            {"amount_minor", 129900},
                            {"currency", "USD"},
                            {"merchant", "Gadget Hub"},
                            {"card_last4", "4821"},
                            {"card_present", false}}}};

const json kSupportMessage = {{"kind", "support_message"},
                              {"channel", "web"},
                              {"customer_ref", "cust-77123"},
                              {"message", "I was charged twice at Fresh Market yesterday, my name is Ada Lovelace."}};

const json kRefundRequest = {{"kind", "payment_request"},
                             {"channel", "mobile_app"},
                             {"customer_ref", "cust-77123"},
                             {"message", "Refund $42.50 USD for invoice INV-1042 because duplicate charge was detected."},
                             {"payment",
                              {{"type", "refund"},
                               {"amount_minor", 4250},
                               {"currency", "USD"},
                               {"invoice_id", "INV-1042"},
                               {"reason", "duplicate charge at the corner shop"}}}};

const json kLoanApplication = {{"kind", "loan_application"},
                               {"channel", "web"},
                               {"customer_ref", "A123"},
                               {"application",
                                {{"product", "mortgage"},
                                 {"requested_amount_minor", 35000000},
                                 {"annual_income_minor", 9500000},
                                 {"currency", "USD"},
                                 {"debt_to_income", 0.31},
                                 {"employment_years", 6},
                                 {"documents_provided", {"id", "proof_of_income"}}}}};

json fraud_reviewer(const char* level, double score) {
  return {{"risk_score", score},
          {"risk_level", level},
          {"reasons",
           {{{"rule", "card_not_present"}, {"contribution", 0.3}, {"detail", "card not present for a high amount"}},
            {{"rule", "new_merchant"}, {"contribution", 0.25}, {"detail", "first purchase at this merchant"}}}},
          {"actions", json::array()},
          {"model", "embedded-rules-v1"}};
}

json refund_action() {
  return {{"type", "refund"}, {"reason", "duplicate charge"}, {"amount_minor", 4250}, {"currency", "USD"}};
}

json freeze_action() {
  return {{"type", "temporary_card_freeze"}, {"reason", "possible fraud"}};
}

struct Row {
  const char* name;
  json payload;
  json context;
  const char* queue;
  const char* priority;
  int sla_minutes;
  bool underwriting;
};

const Row kRows[] = {
    {"FraudHighRisk", kFraudAlert,
     {{"fraud_reviewer", fraud_reviewer("high", 0.87)}, {"policy", {{"intent", "fraud"}, {"risk_level", "high"}}}},
     "fraud-ops", "urgent", 60, false},
    {"FraudMediumRisk", kFraudAlert, {{"fraud_reviewer", fraud_reviewer("medium", 0.55)}}, "fraud-ops", "high", 240, false},
    {"FraudLowRiskIsLowPriority", kFraudAlert, {{"fraud_reviewer", fraud_reviewer("low", 0.1)}}, "fraud-ops", "low", 1440,
     false},
    {"PendingFreezeLiftsLowToNormal", kFraudAlert,
     {{"fraud_reviewer", fraud_reviewer("low", 0.1)}, {"policy", {{"pending_actions", json::array({freeze_action()})}}}}, "fraud-ops",
     "normal", 1440, false},
    {"PolicyRiskOverridesTheReviewer", kFraudAlert,
     {{"fraud_reviewer", fraud_reviewer("low", 0.1)}, {"policy", {{"risk_level", "high"}}}}, "fraud-ops", "urgent", 60,
     false},
    {"CardDisputeWithoutRisk", kSupportMessage,
     {{"classifier", {{"intent", "card_dispute"}, {"confidence", 0.88}}}}, "disputes", "normal", 1440, false},
    {"PendingRefundIsHighPriority", kRefundRequest,
     {{"classifier", {{"intent", "payments"}, {"confidence", 0.8}}},
      {"policy", {{"intent", "payments"}, {"pending_actions", json::array({refund_action()})}}}},
     "payments-ops", "high", 1440, false},
    {"PaymentRequestWithoutContextFollowsItsKind", kRefundRequest, json::object(), "payments-ops", "normal", 1440, false},
    {"TransactionAlertWithoutContextIsFraud", kFraudAlert, json::object(), "fraud-ops", "normal", 1440, false},
    {"GeneralSupportGoesToCustomerCare", kSupportMessage, json::object(), "customer-care", "normal", 1440, false},
    {"PolicyIntentOutranksTheClassifier", kSupportMessage,
     {{"classifier", {{"intent", "general_support"}, {"confidence", 0.3}}}, {"policy", {{"intent", "fraud"}}}},
     "fraud-ops", "normal", 1440, false},
    {"LoanApplicationGoesToUnderwriting", kLoanApplication, json::object(), "underwriting", "normal", 2880, true},
    {"LoanApplicationKindOutranksItsIntent", kLoanApplication, {{"policy", {{"intent", "loan_question"}}}}, "underwriting",
     "normal", 2880, true},
    {"RiskyLoanApplicationGetsTheShorterSla", kLoanApplication, {{"policy", {{"risk_level", "high"}}}}, "underwriting",
     "urgent", 60, true},
};

TEST(Escalation, Table) {
  for (const auto& row : kRows) {
    SCOPED_TRACE(row.name);
    const json result = escalate(row.payload, row.context);
    const json& review = result.at("review");
    EXPECT_EQ(review.at("queue"), row.queue);
    EXPECT_EQ(review.at("priority"), row.priority);
    EXPECT_EQ(review.at("sla_deadline"), common::format_rfc3339(kCreatedAt + row.sla_minutes * kMinute));
    EXPECT_EQ(review.contains("underwriting"), row.underwriting);
    EXPECT_LE(review.at("summary").get<std::string>().size(), 1000u);
    EXPECT_LE(review.at("evidence").size(), 20u);
    EXPECT_FALSE(reply_problem(result.at("reply").get<std::string>(), {"4821"})) << result.at("reply");
  }
}

TEST(Escalation, FraudSlaIsSixtyMinutesFromCreatedAtExactly) {
  const json result = escalate(kFraudAlert, {{"policy", {{"risk_level", "high"}}}});
  EXPECT_EQ(result.at("review").at("sla_deadline"), "2026-11-21T09:45:00.123Z");
}

TEST(Escalation, PendingActionsAreCopiedAsIs) {
  const json pending = {refund_action(), freeze_action()};
  const json result = escalate(kRefundRequest, {{"policy", {{"pending_actions", pending}, {"approved_actions", json::array()}}}});
  EXPECT_EQ(result.at("review").at("actions_awaiting_approval"), pending);
  EXPECT_EQ(result.at("review").at("priority"), "high");
  const std::string summary = result.at("review").at("summary").get<std::string>();
  EXPECT_NE(summary.find("2 actions await approval: refund of 42.50 USD, temporary_card_freeze."), std::string::npos)
      << summary;

  for (const json& context : {json::object(), json{{"policy", json::object()}}, json{{"policy", {{"pending_actions", nullptr}}}}}) {
    EXPECT_EQ(escalate(kRefundRequest, context).at("review").at("actions_awaiting_approval"), json::array()) << context;
  }
}

TEST(Escalation, EvidenceFromEveryHop) {
  const json context = {
      {"classifier", {{"intent", "fraud"}, {"confidence", 0.912}, {"entities", {{"card_last4", nullptr}}}}},
      {"fraud_reviewer", fraud_reviewer("high", 0.87)},
      {"policy",
       {{"intent", "fraud"},
        {"risk_level", "high"},
        {"violations",
         {{{"agent", "response_drafter"}, {"code", "forbidden_phrase"}, {"field", "reply"}, {"message", "said: secret words"}}}}}},
      {"response_drafter", {{"reply", "whatever"}}}};
  const json result = escalate(kFraudAlert, context);
  const json expected = {"classifier: intent fraud (confidence 0.912)",
                         "fraud_reviewer: risk high (score 0.87)",
                         "fraud_reviewer card_not_present (+0.300): card not present for a high amount",
                         "fraud_reviewer new_merchant (+0.250): first purchase at this merchant",
                         "policy violation: agent response_drafter, code forbidden_phrase, field reply"};
  EXPECT_EQ(result.at("review").at("evidence"), expected);
  EXPECT_EQ(result.dump().find("secret words"), std::string::npos) << "a violation's message may quote case text";
  EXPECT_NE(result.at("review").at("summary").get<std::string>().find("1 policy violation recorded."), std::string::npos);
}

TEST(Escalation, LoanApplicationCarriesTheUnderwritingSummary) {
  const json result = escalate(kLoanApplication);
  const json& review = result.at("review");
  const json& u = review.at("underwriting");
  EXPECT_EQ(u.at("product"), "mortgage");
  EXPECT_EQ(u.at("recommendation"), "needs_documents");
  EXPECT_EQ(u.at("missing_documents"), json({"bank_statements", "property_valuation", "tax_return"}));
  std::vector<std::string> evidence;
  for (const auto& e : review.at("evidence")) evidence.push_back(e.get<std::string>());
  ASSERT_EQ(evidence.size(), 4u);
  EXPECT_EQ(evidence[0], "underwriting debt_to_income passed: 0.31 is at or under the 0.45 maximum for mortgage");
  EXPECT_EQ(evidence[3].rfind("underwriting required_documents failed: missing 3 of 5", 0), 0u) << evidence[3];
  const std::string summary = review.at("summary").get<std::string>();
  EXPECT_EQ(summary,
            "Loan application via web: intent loan_question, risk not assessed. Mortgage application for 350000.00 USD; "
            "pre-screen: needs_documents, 3 documents missing.");
  const std::string reply = result.at("reply").get<std::string>();
  EXPECT_NE(reply.find("Thank you for your mortgage application."), std::string::npos) << reply;
  EXPECT_NE(reply.find("within 48 hours"), std::string::npos) << reply;
  EXPECT_NE(reply.find("our lending team"), std::string::npos) << reply;
}

TEST(Escalation, SummaryHasNoFreeTextCustomerRefOrCardDigits) {
  json payload = kRefundRequest;
  payload["message"] = "Please help, my PIN is 9911 and Bob from next door used my card ending 4821.";
  payload["transaction"] = kFraudAlert.at("transaction");
  const json context = {{"classifier", {{"intent", "fraud"}, {"confidence", 0.7}, {"entities", {{"card_last4", "4821"}}}}},
                        {"fraud_reviewer", fraud_reviewer("high", 0.9)}};
  const json result = escalate(payload, context);
  const std::string summary = result.at("review").at("summary").get<std::string>();
  EXPECT_EQ(summary,
            "Payment request via mobile app: intent fraud, risk high (score 0.9). Transaction of 1299.00 USD at Gadget "
            "Hub, card not present. Payment: refund of 42.50 USD.");
  const std::string all = result.dump();
  for (const char* secret : {"cust-77123", "PIN", "9911", "Bob", "4821", "corner shop", "INV-1042"}) {
    EXPECT_EQ(all.find(secret), std::string::npos) << secret << " in " << all;
  }
}

TEST(Escalation, MerchantDigitsAreMasked) {
  json payload = kFraudAlert;
  payload["transaction"]["merchant"] = "ACME 12345678 STORE 4821 " + std::string(150, 'x');
  const std::string summary = escalate(payload).at("review").at("summary").get<std::string>();
  EXPECT_NE(summary.find("at ACME ######## STORE #### xxx"), std::string::npos) << summary;
  EXPECT_EQ(summary.find(std::string(80, 'x')), std::string::npos) << "merchant is capped";
}

TEST(Escalation, EvidenceIsBounded) {
  json reviewer = fraud_reviewer("medium", 0.5);
  reviewer["reasons"] = json::array();
  for (int i = 0; i < 30; ++i) {
    reviewer["reasons"].push_back({{"rule", "rule_" + std::to_string(i)}, {"detail", std::string(500, 'd')}});
  }
  const json evidence = escalate(kFraudAlert, {{"fraud_reviewer", reviewer}}).at("review").at("evidence");
  ASSERT_EQ(evidence.size(), 20u);
  EXPECT_EQ(evidence.back(), "12 more evidence items not shown");
  for (const auto& e : evidence) EXPECT_LE(e.get<std::string>().size(), 300u);
}

TEST(Escalation, IsDeterministic) {
  for (const auto& row : kRows) {
    EXPECT_EQ(answer_task(model(), task(row.payload, row.context)).result,
              answer_task(model(), task(row.payload, row.context)).result)
        << row.name;
  }
}

TEST(Escalation, JsonShape) {
  const json result = escalate(kFraudAlert, {{"fraud_reviewer", fraud_reviewer("high", 0.87)}});
  std::set<std::string> keys;
  for (const auto& [k, v] : result.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"review", "reply", "model"}));
  EXPECT_EQ(result.at("model"), "embedded-v1");
  EXPECT_TRUE(result.at("reply").is_string());
  keys.clear();
  for (const auto& [k, v] : result.at("review").items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"queue", "priority", "summary", "evidence", "actions_awaiting_approval", "sla_deadline"}));
  EXPECT_TRUE(result.at("review").at("evidence").is_array());
  EXPECT_TRUE(result.at("review").at("actions_awaiting_approval").is_array());
  EXPECT_TRUE(common::parse_rfc3339(result.at("review").at("sla_deadline").get<std::string>()));

  Escalation e;
  e.review.queue = "q";
  e.reply = "r";
  e.model = "m";
  e.review.sla_deadline = 0;
  e.review.evidence = {"a \"quoted\"\n line", "caf\xC3\xA9"};
  EXPECT_EQ(to_json(e),
            R"({"review":{"queue":"q","priority":"normal","summary":"","evidence":["a \"quoted\"\n line","café"],)"
            R"("actions_awaiting_approval":[],"sla_deadline":"1970-01-01T00:00:00.000Z"},"reply":"r","model":"m"})");
  // The same text nlohmann's dump writes, up to key order.
  EXPECT_EQ(json::parse(to_json(e)).dump(-1, ' ', false, json::error_handler_t::replace),
            json({{"review",
                   {{"queue", "q"},
                    {"priority", "normal"},
                    {"summary", ""},
                    {"evidence", e.review.evidence},
                    {"actions_awaiting_approval", json::array()},
                    {"sla_deadline", "1970-01-01T00:00:00.000Z"}}},
                  {"reply", "r"},
                  {"model", "m"}})
                .dump(-1, ' ', false, json::error_handler_t::replace));
}

TEST(Escalation, RepliesComeFromTheKindsTemplate) {
  const std::string fraud = escalate(kFraudAlert, {{"policy", {{"risk_level", "high"}}}}).at("reply").get<std::string>();
  EXPECT_EQ(fraud,
            "We noticed a transaction on your account that we would like a specialist to look at. We have passed it to our "
            "fraud team, who will review it within 1 hour and contact you with the next step. If you do not recognise a "
            "recent transaction, please contact us using the number on the back of your card.");
  const std::string general = escalate(kSupportMessage, {{"policy", {{"risk_level", "medium"}}}}).at("reply").get<std::string>();
  EXPECT_EQ(general,
            "Thank you for your patience. We have passed your case to our customer care team, and a specialist will review "
            "it within 4 hours. They will contact you with the next step once the review is done. You do not need to "
            "contact us again in the meantime.");
}

// ---- the answer: parse errors and the reply check ----

TEST(Answer, InvalidPayloadNamesTheField) {
  json payload = kFraudAlert;
  payload["transaction"]["currency"] = "XYZ";
  const Answer a = answer_task(model(), task(payload));
  EXPECT_EQ(a.code, "invalid_field");
  EXPECT_EQ(a.message.rfind("payload.transaction.currency: ", 0), 0u) << a.message;

  common::bus::Envelope bad = task(kFraudAlert);
  bad.payload = "{not json";
  EXPECT_EQ(answer_task(model(), bad).code, "invalid_field");
}

TEST(Answer, MalformedContextMembersAreNamed) {
  struct Case {
    json context;
    const char* field;
  };
  const Case cases[] = {
      {json::array(), "context: "},
      {{{"policy", {{"pending_actions", "refund"}}}}, "context.policy.pending_actions: "},
      {{{"policy", {{"pending_actions", {{{"type", "teleport"}}}}}}}, "context.policy.pending_actions[0].type: "},
      {{{"policy", {{"pending_actions", {{{"type", "refund"}, {"amount_minor", 10}}}}}}}, "context.policy.pending_actions[0].currency: "},
      {{{"policy", {{"pending_actions", {{{"type", "refund"}, {"amount_minor", 10}, {"currency", "usd"}}}}}}},
       "context.policy.pending_actions[0].currency: "},
      {{{"policy", {{"violations", {{{"agent", 7}}}}}}}, "context.policy.violations[0].agent: "},
      {{{"policy", {{"intent", "pizza"}}}}, "context.policy.intent: "},
      {{{"policy", {{"risk_level", "extreme"}}}}, "context.policy.risk_level: "},
      {{{"classifier", {{"confidence", 3}}}}, "context.classifier.confidence: "},
      {{{"fraud_reviewer", {{"reasons", {{{"detail", "no rule"}}}}}}}, "context.fraud_reviewer.reasons[0].rule: "},
      {{{"fraud_reviewer", "high"}}, "context.fraud_reviewer: "},
  };
  for (const auto& c : cases) {
    const Answer a = answer_task(model(), task(kFraudAlert, c.context));
    EXPECT_EQ(a.code, "invalid_field") << c.context;
    EXPECT_EQ(a.message.rfind(c.field, 0), 0u) << a.message;
  }
  common::bus::Envelope bad = task(kFraudAlert);
  bad.context = "[1,";
  EXPECT_EQ(answer_task(model(), bad).message.rfind("context: invalid JSON", 0), 0u);
}

TEST(Answer, AbsentNullAndUnknownContextMembersAreTolerated) {
  for (const json& context : {json::object(), json{{"policy", nullptr}, {"classifier", nullptr}},
                              json{{"classifier", json::object()}, {"fraud_reviewer", json::object()}},
                              json{{"some_future_agent", {{"x", 1}}}, {"policy", {{"intent", nullptr}, {"extra", true}}}}}) {
    EXPECT_TRUE(answer_task(model(), task(kFraudAlert, context)).ok()) << context;
  }
}

// Stands in for a model whose reply is not safe.
class FixedReply final : public Escalator {
 public:
  explicit FixedReply(std::string reply) : reply_(std::move(reply)) {}
  Escalation escalate(const common::cases::Payload&, const Context&, common::WallMs) const override {
    Escalation e;
    e.review.queue = "customer-care";
    e.reply = reply_;
    e.model = "fixed";
    return e;
  }

 private:
  std::string reply_;
};

TEST(Answer, UnsafeReplyFailsTheTaskWithoutRetry) {
  const Answer promise = answer_task(FixedReply("We will refund you today."), task(kFraudAlert));
  EXPECT_EQ(promise.code, "unsafe_reply");
  const Answer card = answer_task(FixedReply("About your card 4821."), task(kFraudAlert));
  EXPECT_EQ(card.code, "unsafe_reply");
  EXPECT_EQ(card.message.find("4821"), std::string::npos) << "the failure must not repeat the digits";
  const Answer classifier_card =
      answer_task(FixedReply("About your card 7310."), task(kSupportMessage, {{"classifier", {{"entities", {{"card_last4", "7310"}}}}}}));
  EXPECT_EQ(classifier_card.code, "unsafe_reply");
  EXPECT_TRUE(answer_task(FixedReply("A specialist will review it."), task(kFraudAlert)).ok());
}

TEST(ReplyProblem, Table) {
  struct Case {
    const char* reply;
    bool safe;
  };
  const Case cases[] = {
      {"A specialist will review your case within 24 hours.", true},
      {"We will refund the charge.", false},
      {"The amount will be refunded shortly.", false},
      {"We can refund you.", false},
      {"We GUARANTEE a result.", false},
      {"The payment will be reversed.", false},
      {"You will get your money back.", false},
      {"It has been refunded.", false},
      {"Reference 123456.", false},
      {"Reference 12 34 56.", false},
      {"Reference 12-34-56.", false},
      {"Call 555 0100.", false},  // a space between digits does not end the run
      {"Within 12345 minutes.", true},
      {"About the charge on 2026-11-20.", true},  // an ISO date is not a card or account number
      {"We have approved your claim.", false},       // the broker's default phrases, not only the contracts'

      {"Your card ending 4821.", false},
      {"", false},
  };
  for (const auto& c : cases) EXPECT_EQ(!reply_problem(c.reply, {"4821"}).has_value(), c.safe) << c.reply;
  EXPECT_TRUE(reply_problem(std::string(2001, 'a'), {}));
  EXPECT_FALSE(reply_problem(std::string(2000, 'a'), {}));
  EXPECT_FALSE(reply_problem("card 4821", {}));
}

// ---- templates ----

class TempDir final {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::path(::testing::TempDir()) /
            ("escalation_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  void write(const std::string& name, const std::string& text) const { std::ofstream(path_ / name) << text; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string start_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ReplyTemplate, SubstitutesAllowedPlaceholders) {
  const auto t = ReplyTemplate::parse("{{queue_label}} in {{sla_time}} ({{sla_hours}} h) for {{product_label}}.\n", "t.txt");
  EXPECT_EQ(t.render({"our team", "1 hour", "1", "mortgage"}), "our team in 1 hour (1 h) for mortgage.");
  EXPECT_EQ(ReplyTemplate::parse("plain } { text", "t.txt").render({}), "plain } { text");
}

TEST(ReplyTemplate, ErrorsNameTheFile) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"Hello {{customer_name}}.", "t.txt: unknown placeholder {{customer_name}} (allowed: {{queue_label}}, {{sla_time}}, {{sla_hours}}, {{product_label}})"},
      {"Hello {{queue_label.", "t.txt: unclosed \"{{\" at byte 6"},
      {"\n", "t.txt: the template is empty"},
  };
  for (const auto& c : cases) EXPECT_EQ(start_error([&] { ReplyTemplate::parse(c.text, "t.txt"); }), c.error);
  EXPECT_EQ(start_error([] { ReplyTemplate::parse(std::string(1501, 'a'), "t.txt"); }), "t.txt: the template is over 1500 bytes");
}

TEST(ReplyTemplate, StartUpRefusesBadTemplateDirectories) {
  TempDir dir;
  Settings s = default_settings();
  s.templates_dir = dir.path();
  const std::string file = (dir.path() / "holding_reply.txt").string();

  EXPECT_EQ(start_error([&] { make_embedded_escalator(s); }).rfind(file + ": cannot read the template", 0), 0u);

  dir.write("holding_reply.txt", "Hello {{name}}");
  EXPECT_EQ(start_error([&] { make_embedded_escalator(s); }).rfind(file + ": unknown placeholder {{name}}", 0), 0u);

  dir.write("holding_reply.txt", "We guarantee {{queue_label}} will look.");
  EXPECT_EQ(start_error([&] { make_embedded_escalator(s); }).rfind(file + ": renders an unsafe reply (the reply promises an outcome (\"guarantee\"))", 0), 0u);

  dir.write("holding_reply.txt", "Ticket 1234{{sla_hours}}.");  // 1234 + 24 -> six digits
  EXPECT_EQ(start_error([&] { make_embedded_escalator(s); }).rfind(file + ": renders an unsafe reply", 0), 0u);

  dir.write("holding_reply.txt", "{{queue_label}} will review it within {{sla_time}}.");
  EXPECT_NO_THROW(make_embedded_escalator(s));

  dir.write("holding_reply_loan.txt", "typo");
  EXPECT_EQ(start_error([&] { make_embedded_escalator(s); }), (dir.path() / "holding_reply_loan.txt").string() +
                                                                 ": unknown template name (expected holding_reply.txt or "
                                                                 "holding_reply_<kind>.txt with kind one of support_message, "
                                                                 "payment_request, loan_application, transaction_alert)");
  std::filesystem::remove(dir.path() / "holding_reply_loan.txt");

  s.queue_labels["customer-care"] = "team 99999999";
  EXPECT_NE(start_error([&] { make_embedded_escalator(s); }).find("queue_label \"team 99999999\""), std::string::npos);
}

// ---- settings ----

TEST(Settings, ShippedConfigEqualsTheDefaults) {
  const auto file = kSourceDir / "deploy/config/escalation.json";
  std::ifstream in(file);
  ASSERT_TRUE(in) << file;
  const json config = json::parse(in);
  EXPECT_EQ(config.at("broker_endpoint"), "tcp://127.0.0.1:7102");
  json settings = config.at("settings");
  EXPECT_EQ(settings.at("templates_dir"), "../templates/escalation");

  Settings parsed = parse_settings(settings, file.parent_path());
  EXPECT_EQ(parsed.templates_dir, kTemplatesDir.lexically_normal());
  EXPECT_NO_THROW(make_embedded_escalator(parsed)) << "the shipped templates load and are safe";
  parsed.templates_dir.clear();
  EXPECT_EQ(parsed, default_settings());

  // Spelled out in full, not leaning on the merge over the defaults.
  settings.erase("templates_dir");
  EXPECT_EQ(settings, to_json(default_settings()));
}

TEST(Settings, UnknownKeysAndBadValuesAreNamed) {
  struct Case {
    json settings;
    const char* error;  // prefix
  };
  const Case cases[] = {
      {{{"queue", json::object()}}, "settings.queue: unknown key"},
      {{{"queues", {{"frud", "fraud-ops"}}}}, "settings.queues.frud: unknown key"},
      {{{"queues", {{"fraud", "Fraud Ops"}}}}, "settings.queues.fraud: a queue name must be"},
      {{{"queues", {{"fraud", "vip"}}}}, "settings.queue_labels: no label for queue \"vip\" (named by settings.queues.fraud)"},
      {{{"queue_labels", {{"vip", ""}}}}, "settings.queue_labels.vip: a label must be"},
      {{{"sla_minutes", {{"hgih", 60}}}}, "settings.sla_minutes.hgih: unknown key"},
      {{{"sla_minutes", {{"high", 0}}}}, "settings.sla_minutes.high: must be a whole number of minutes from 1 to 43200"},
      {{{"sla_minutes", {{"high", 1.5}}}}, "settings.sla_minutes.high: must be a whole number"},
      {{{"prescreen", {{"max_dti", 0.4}}}}, "settings.prescreen.max_dti: unknown key"},
      {{{"prescreen", {{"max_debt_to_income", {{"boat_loan", 0.4}}}}}}, "settings.prescreen.max_debt_to_income.boat_loan: unknown key"},
      {{{"prescreen", {{"max_debt_to_income", {{"default", 0}}}}}}, "settings.prescreen.max_debt_to_income.default: must be over 0"},
      {{{"prescreen", {{"min_employment_years", "two"}}}}, "settings.prescreen.min_employment_years: must be a number"},
      {{{"prescreen", {{"required_documents", {{"mortgage", {"id", "passport"}}}}}}},
       "settings.prescreen.required_documents.mortgage[1]: must be one of"},
      {{{"prescreen", {{"required_documents", {{"mortgage", {"id", "id"}}}}}}},
       "settings.prescreen.required_documents.mortgage: lists id twice"},
      {{{"templates_dir", 3}}, "settings.templates_dir: must be a string"},
      {json::array(), "settings: must be an object"},
  };
  for (const auto& c : cases) {
    json settings = c.settings;
    if (settings.is_object() && !settings.contains("templates_dir")) settings["templates_dir"] = "t";
    const std::string error = start_error([&] { parse_settings(settings, "/etc/casebus"); });
    EXPECT_EQ(error.rfind(c.error, 0), 0u) << error;
  }
}

TEST(Settings, SettingsBuiltInCodeAreCheckedToo) {
  Settings no_label = test_settings();
  no_label.queue_labels.erase("disputes");
  EXPECT_EQ(start_error([&] { make_embedded_escalator(no_label); }),
            "settings.queue_labels: no label for queue \"disputes\" (named by settings.queues.card_dispute)");
  Settings no_default = test_settings();
  no_default.queues.erase("default");
  EXPECT_EQ(start_error([&] { make_embedded_escalator(no_default); }), "settings.queues: needs a \"default\" queue");
  Settings no_row = test_settings();
  no_row.sla_minutes.erase("none");
  EXPECT_EQ(start_error([&] { make_embedded_escalator(no_row); }), "settings.sla_minutes: needs a row for none");
}

TEST(Settings, TemplatesDirIsRequired) {
  const std::string error = start_error([] { parse_settings(json::object(), "/etc/casebus"); });
  EXPECT_NE(error.find("settings.templates_dir"), std::string::npos) << error;
  EXPECT_NE(error.find("deploy/config/escalation.json"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << "one line";
}

TEST(Settings, ObjectsMergeOverTheDefaults) {
  const Settings s = parse_settings({{"queues", {{"account_access", "security"}}},
                                     {"queue_labels", {{"security", "our security team"}}},
                                     {"sla_minutes", {{"high", 30}}},
                                     {"prescreen", {{"max_loan_to_income", {{"mortgage", nullptr}}}}},
                                     {"templates_dir", "templates"}},
                                    "/etc/casebus");
  EXPECT_EQ(s.queues.at("account_access"), "security");
  EXPECT_EQ(s.queues.at("fraud"), "fraud-ops");
  EXPECT_EQ(s.sla_minutes.at("high"), 30);
  EXPECT_EQ(s.sla_minutes.at("medium"), 240);
  EXPECT_EQ(s.prescreen.max_loan_to_income.at("mortgage"), std::nullopt);
  EXPECT_EQ(s.prescreen.max_loan_to_income.at("default"), 0.5);
  EXPECT_EQ(s.templates_dir, std::filesystem::path("/etc/casebus/templates"));
  EXPECT_EQ(parse_settings({{"templates_dir", "/srv/t"}}, "/etc/casebus").templates_dir, std::filesystem::path("/srv/t"));
}

}  // namespace
}  // namespace agents::escalation
