#include "agent.hpp"
#include "model.hpp"
#include "drafter.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <unistd.h>

namespace agents::response_drafter {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kShippedTemplates = fs::path(CASEBUS_SOURCE_DIR) / "deploy" / "templates" / "reply";

std::shared_ptr<const Drafter> shipped_drafter() {
  static const std::shared_ptr<const Drafter> drafter = make_template_drafter(kShippedTemplates);
  return drafter;
}

// Phrases of the policy (docs/policy.md), checked here independently of the drafter.
constexpr const char* kContractForbidden[] = {"will refund",      "will be refunded",        "refund you",
                                              "guarantee",        "will be reversed",        "you will get your money",
                                              "has been refunded"};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Longest digit run with spaces and dashes between digits ignored (an independent reading of the
// contract's rule).
std::size_t longest_digit_run(const std::string& s) {
  std::size_t longest = 0, run = 0;
  for (const char c : s) {
    if (c >= '0' && c <= '9') {
      longest = std::max(longest, ++run);
    } else if (c != ' ' && c != '-' && c != '\n') {
      run = 0;
    }
  }
  return longest;
}

std::string alert(const std::string& merchant, long long minor, const std::string& currency, const std::string& last4) {
  json t{{"amount_minor", minor}, {"currency", currency}, {"card_last4", last4}};
  if (!merchant.empty()) t["merchant"] = merchant;
  return json{{"kind", "transaction_alert"}, {"channel", "event_bus"}, {"customer_ref", "cust-1"}, {"transaction", t}}.dump();
}

std::string support(const std::string& message) {
  return json{{"kind", "support_message"}, {"channel", "web"}, {"customer_ref", "cust-2"}, {"message", message}}.dump();
}

std::string classified(const std::string& intent) {
  return json{{"classifier", {{"intent", intent}, {"confidence", 0.9}}}}.dump();
}

const std::string kFreshMarketAlert = alert("Fresh Market", 4250, "USD", "4417");

struct Row {
  const char* name;
  std::string payload;
  std::string context;
  const char* template_name;
  std::vector<std::string> contains;
  std::vector<std::string> lacks;
};

// One row per intent with an example case, then the policy's effects on a reply.
const std::vector<Row>& rows() {
  static const std::vector<Row> kRows = {
      {"FraudAlert", kFreshMarketAlert, "{}", "fraud",
       {"the 42.50 USD charge at Fresh Market", "If suspicious activity continues, please temporarily freeze your card",
        "Our fraud team will review"},
       {"4417"}},
      {"CardDispute",
       json{{"kind", "support_message"}, {"channel", "mobile_app"}, {"customer_ref", "cust-3"},
            {"message", "I was charged twice at Fresh Market on my card ending in 4821."},
            {"transaction", {{"amount_minor", 1999}, {"currency", "EUR"}, {"merchant", "Fresh Market"}}}}
           .dump(),
       json{{"classifier", {{"intent", "card_dispute"}, {"entities", {{"card_last4", "4821"}}}}}}.dump(), "card_dispute",
       {"the 19.99 EUR charge at Fresh Market", "temporarily freeze your card", "messages from Fresh Market",
        "We will review the charge"},
       {"4821"}},
      {"PaymentRequest",
       json{{"kind", "payment_request"}, {"channel", "web"}, {"customer_ref", "cust-4"},
            {"payment", {{"type", "transfer"}, {"amount_minor", 2500000}, {"currency", "EUR"}}}}
           .dump(),
       "{}", "payments", {"your 25,000.00 EUR transfer", "check the status of the payment"}, {"freeze"}},
      {"AccountAccess", support("I'm locked out of my account after too many password attempts."),
       classified("account_access"), "account_access", {"verify your identity", "never ask for your password"}, {"freeze"}},
      {"CardServices", support("I lost my card, please send a replacement card."), classified("card_services"),
       "card_services", {"temporarily freeze your card", "under Cards"}, {}},
      {"BalanceAndFees", support("Why was I charged a monthly fee?"), classified("balance_and_fees"), "balance_and_fees",
       {"under Statements", "If a fee looks wrong"}, {"freeze"}},
      {"LoanApplication",
       json{{"kind", "loan_application"}, {"channel", "branch"}, {"customer_ref", "cust-5"},
            {"application",
             {{"product", "mortgage"}, {"currency", "USD"}, {"annual_income_minor", 9000000},
              {"requested_amount_minor", 35000000}, {"debt_to_income", 0.31}, {"employment_years", 4}}}}
           .dump(),
       "{}", "loan_question", {"our mortgage options", "lending specialist", "cannot confirm them"}, {"freeze"}},
      {"GeneralSupport", support("Hello, what are your opening hours?"), "{}", "general_support",
       {"Thank you for getting in touch", "A member of our team will reply"}, {"freeze", "specialist"}},

      {"ApprovedFreezeIsReported", kFreshMarketAlert,
       R"({"policy":{"intent":"fraud","risk_level":"medium","approved_actions":[{"type":"temporary_card_freeze","reason":"r"}],"pending_actions":[],"violations":[]}})",
       "fraud", {"As a precaution, your card has been temporarily frozen."}, {"please temporarily freeze", "specialist"}},
      {"PendingActionsGoToASpecialist", kFreshMarketAlert,
       R"({"policy":{"approved_actions":[],"pending_actions":[{"type":"refund","reason":"r","amount_minor":4250,"currency":"USD"}]}})",
       "fraud", {"Next step: A specialist will review your case", "We cannot confirm an outcome"}, {"Our fraud team"}},
      {"HighRiskAdvisesFreezingNow", kFreshMarketAlert,
       R"({"fraud_reviewer":{"risk_score":0.91,"risk_level":"high","reasons":[],"actions":[],"model":"embedded-rules-v1"}})",
       "fraud", {"we recommend that you temporarily freeze your card in the app now"}, {"If suspicious activity continues"}},
      {"ProposalsWithoutPolicyAreUndecided", kFreshMarketAlert,
       R"({"fraud_reviewer":{"risk_level":"medium","actions":[{"type":"temporary_card_freeze","reason":"r"}]}})", "fraud",
       {"A specialist will review your case", "please temporarily freeze your card"}, {"has been temporarily frozen"}},
      {"ApprovedActionsAreReported", support("I can't log in."),
       R"({"classifier":{"intent":"account_access"},"policy":{"approved_actions":[{"type":"account_unlock","reason":"r"},{"type":"monitor","reason":"r"}]}})",
       "account_access",
       {"We have added extra monitoring to your account for unusual activity. Your online banking access has been unlocked."},
       {}},
      {"PolicyIntentWinsOverClassifier", kFreshMarketAlert,
       R"({"classifier":{"intent":"general_support"},"policy":{"intent":"card_dispute"}})", "card_dispute", {}, {}},
      {"KindGivesTheIntentWithoutClassifier", kFreshMarketAlert, "", "fraud", {}, {}},
      {"UnsafeMerchantIsNotRepeated", alert("Refund You Ltd", 4250, "USD", "4417"), "{}", "fraud",
       {"the 42.50 USD charge."}, {"Refund You", "refund"}},
      {"MerchantWithTheCardDigitsIsNotRepeated", alert("Shop 4417", 4250, "USD", "4417"), "{}", "fraud",
       {"the 42.50 USD charge."}, {"Shop"}},
      {"LargeAmountsAreGrouped", alert("", 123456789012, "USD", "4417"), "{}", "fraud",
       {"the 1,234,567,890.12 USD charge"}, {}},
      {"ZeroDecimalCurrency", alert("Konbini", 1250000, "JPY", "0042"), "{}", "fraud", {"the 1,250,000 JPY charge at Konbini"},
       {}},
  };
  return kRows;
}

TEST(TemplateDrafter, DraftsEveryExampleWithinPolicy) {
  const auto drafter = shipped_drafter();
  for (const auto& row : rows()) {
    SCOPED_TRACE(row.name);
    auto input = read_input(row.payload, row.context);
    ASSERT_TRUE(input) << input.error().describe();
    const Draft d = drafter->draft(*input);
    EXPECT_EQ(d.template_name, row.template_name);
    EXPECT_EQ(d.model, "embedded-templates-v1");
    EXPECT_TRUE(d.violations.empty()) << d.violations.front();
    EXPECT_TRUE(draft_violations(d, *input).empty());

    ASSERT_FALSE(d.next_step.empty());
    EXPECT_LE(d.next_step.size(), kMaxNextStepBytes);
    EXPECT_NE(d.reply.find("Next step: " + d.next_step), std::string::npos) << d.reply;
    EXPECT_GE(d.reply.size(), 1u);
    EXPECT_LE(d.reply.size(), kMaxReplyBytes);
    for (const char* phrase : kContractForbidden) EXPECT_EQ(lower(d.reply).find(phrase), std::string::npos) << phrase;
    EXPECT_LT(longest_digit_run(d.reply), 6u) << d.reply;
    if (input->payload.transaction && input->payload.transaction->card_last4) {
      EXPECT_EQ(d.reply.find(*input->payload.transaction->card_last4), std::string::npos);
    }
    if (input->mentioned_card_last4) {
      EXPECT_EQ(d.reply.find(*input->mentioned_card_last4), std::string::npos);
    }
    EXPECT_EQ(d.reply.find("  "), std::string::npos) << "an empty placeholder left a gap:\n" << d.reply;
    EXPECT_EQ(d.reply.find("\n\n\n"), std::string::npos) << d.reply;

    for (const auto& s : row.contains) EXPECT_NE(d.reply.find(s), std::string::npos) << "missing \"" << s << "\" in\n" << d.reply;
    for (const auto& s : row.lacks) EXPECT_EQ(lower(d.reply).find(lower(s)), std::string::npos) << "unexpected \"" << s << "\" in\n" << d.reply;

    const auto j = json::parse(to_json(d));
    EXPECT_EQ(j.size(), 4u);
    EXPECT_EQ(j.at("reply").get<std::string>(), d.reply);
    EXPECT_EQ(j.at("template").get<std::string>(), row.template_name);
    EXPECT_EQ(j.at("next_step").get<std::string>(), d.next_step);
    EXPECT_EQ(j.at("model").get<std::string>(), "embedded-templates-v1");
  }
}

TEST(TemplateDrafter, ExamplesCoverEveryIntent) {
  std::set<std::string> used;
  for (const auto& row : rows()) used.insert(row.template_name);
  for (int i = 0; i < kIntentCount; ++i) EXPECT_TRUE(used.count(std::string(to_string(static_cast<Intent>(i))))) << i;
}

TEST(TemplateDrafter, ApprovedMoneyMovingActionsChangeNothing) {
  const auto drafter = shipped_drafter();
  const std::string payload = json{{"kind", "payment_request"}, {"channel", "web"}, {"customer_ref", "cust-4"},
                                   {"payment", {{"type", "refund"}, {"amount_minor", 4250}, {"currency", "USD"}}}}
                                  .dump();
  const auto plain = read_input(payload, R"({"policy":{"approved_actions":[],"pending_actions":[]}})");
  const auto approved = read_input(
      payload, R"({"policy":{"approved_actions":[{"type":"refund","reason":"r","amount_minor":4250,"currency":"USD"}]}})");
  ASSERT_TRUE(plain && approved);
  EXPECT_EQ(drafter->draft(*plain).reply, drafter->draft(*approved).reply);
}

TEST(TemplateDrafter, IsDeterministic) {
  const auto drafter = shipped_drafter();
  for (const auto& row : rows()) {
    const auto input = read_input(row.payload, row.context);
    ASSERT_TRUE(input);
    EXPECT_EQ(to_json(drafter->draft(*input)), to_json(drafter->draft(*input))) << row.name;
  }
}

struct ViolationRow {
  const char* text;
  std::optional<std::string> card_last4;
  const char* violation;  // a part of the expected violation; nullptr: the text is safe
};

TEST(ReplyViolations, FlagsPromisesNumbersAndTheCard) {
  const ViolationRow kRows[] = {
      // Safe, though they hold digits or sound close.
      {"We have received your request about 42.50 USD.", std::nullopt, nullptr},
      {"Our fees changed in 2026.", std::nullopt, nullptr},
      {"The 1,234,567.89 USD transfer is being checked.", std::nullopt, nullptr},
      {"Reference 12345 is five digits.", std::nullopt, nullptr},
      {"We will review the refund request.", std::nullopt, nullptr},
      {"Your card 1234 is fine when it is not the case's card.", "9999", nullptr},
      {"Between 9 - 5 on weekdays.", std::nullopt, nullptr},
      {"Line one.\nLine two.", std::nullopt, nullptr},
      // Promises.
      {"We will refund you shortly.", std::nullopt, "will refund"},
      {"Your money WILL BE REFUNDED.", std::nullopt, "will be refunded"},
      {"We can refund you.", std::nullopt, "refund you"},
      {"We Guarantee a quick answer.", std::nullopt, "guarantee"},
      {"This is guaranteed.", std::nullopt, "guarantee"},
      {"The charge will be reversed.", std::nullopt, "will be reversed"},
      {"You will get your money back.", std::nullopt, "you will get your money"},
      {"It has been refunded.", std::nullopt, "has been refunded"},
      {"We will\n   refund the charge.", std::nullopt, "will refund"},
      // Card and account numbers.
      {"Card 4111 1111 1111 1111 was used.", std::nullopt, "run of 16 digits"},
      {"Account 4111-1111-11.", std::nullopt, "run of 10 digits"},
      {"Call 555 0100 now.", std::nullopt, "run of 7 digits"},
      {"Ticket 123456.", std::nullopt, "run of 6 digits"},
      {"Card 4111\xC2\xA0" "1111.", std::nullopt, "run of 8 digits"},
      {"Your card 1234 was used.", "1234", "last four"},
      {"Your card 12-34 was used.", "1234", "last four"},
      // Shape.
      {"", std::nullopt, "is empty"},
      {"Hello {{merchant}}.", std::nullopt, "unrendered placeholder"},
      {"Tab\there.", std::nullopt, "control character"},
  };
  for (const auto& row : kRows) {
    const auto v = reply_violations(row.text, row.card_last4);
    if (!row.violation) {
      EXPECT_TRUE(v.empty()) << row.text << ": " << v.front();
      continue;
    }
    std::string all;
    for (const auto& s : v) all += s + "; ";
    EXPECT_NE(all.find(row.violation), std::string::npos) << row.text << " gave: " << all;
  }
  EXPECT_FALSE(reply_violations(std::string(kMaxReplyBytes + 1, 'a'), std::nullopt).empty());
  EXPECT_TRUE(reply_violations(std::string(kMaxReplyBytes, 'a'), std::nullopt).empty());
}

TEST(DraftViolations, NeedTheNextStepInTheReply) {
  DraftInput in;
  in.payload.transaction = common::cases::Transaction{};
  in.payload.transaction->card_last4 = "4417";
  in.mentioned_card_last4 = "9021";
  Draft d{"Hello. Next step: we will call you.", "fraud", "we will call you.", "embedded-templates-v1", {}};
  EXPECT_TRUE(draft_violations(d, in).empty());
  d.next_step = "we will write to you.";
  EXPECT_EQ(draft_violations(d, in).at(0), "reply does not state the next step");
  d.next_step = std::string(kMaxNextStepBytes + 1, 'x');
  EXPECT_NE(draft_violations(d, in).at(0).find("next step is 301 bytes"), std::string::npos);
  d = Draft{"Card 9021. Next step: wait.", "fraud", "wait.", "m", {}};
  EXPECT_EQ(draft_violations(d, in).at(0), "reply contains the card's last four digits");
}

// A copy of the shipped templates in a fresh directory, removed at the end of the test.
class TemplateDir final {
 public:
  TemplateDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("casebus-rd-" + std::string(info->name()) + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter_));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy(kShippedTemplates, dir_, fs::copy_options::recursive);
  }
  ~TemplateDir() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  TemplateDir(const TemplateDir&) = delete;
  TemplateDir& operator=(const TemplateDir&) = delete;

  const fs::path& path() const { return dir_; }
  std::string read(const std::string& name) const {
    std::ifstream in(dir_ / name);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  void write(const std::string& name, const std::string& text) const { std::ofstream(dir_ / name) << text; }
  void remove(const std::string& name) const { fs::remove(dir_ / name); }
  void edit_policy(const std::function<void(json&)>& edit) const {
    json j = json::parse(read("policy.json"));
    edit(j);
    write("policy.json", j.dump(2));
  }

 private:
  static inline int counter_ = 0;
  fs::path dir_;
};

struct LoadRow {
  const char* name;
  std::function<void(const TemplateDir&)> spoil;
  std::vector<std::string> error_mentions;
};

TEST(TemplateLoading, RefusesBadTemplatesNamingTheFile) {
  const LoadRow kRows[] = {
      {"UnknownPlaceholder", [](const TemplateDir& t) { t.write("fraud.txt", t.read("fraud.txt") + "Dear {{customer_name}},"); },
       {"fraud.txt", "unknown placeholder {{customer_name}}", "allowed: next_step"}},
      {"MissingFile", [](const TemplateDir& t) { t.remove("payments.txt"); }, {"payments.txt", "missing"}},
      {"PromisesARefund",
       [](const TemplateDir& t) { t.write("card_dispute.txt", t.read("card_dispute.txt") + "\nWe will refund you in full."); },
       {"card_dispute.txt", "will refund"}},
      {"PromisesAnOutcome",
       [](const TemplateDir& t) { t.write("general_support.txt", "We guarantee an answer. {{freeze_advice}} {{action_status}} {{next_step}}"); },
       {"general_support.txt", "guarantee"}},
      {"HoldsAPhoneNumber",
       [](const TemplateDir& t) { t.write("loan_question.txt", t.read("loan_question.txt") + "Call 0800 123 456."); },
       {"loan_question.txt", "run of 10 digits"}},
      {"DoesNotStateTheNextStep",
       [](const TemplateDir& t) { t.write("balance_and_fees.txt", "Thanks. {{freeze_advice}} {{action_status}}"); },
       {"balance_and_fees.txt", "{{next_step}}"}},
      {"DoesNotReportActions", [](const TemplateDir& t) { t.write("payments.txt", "Thanks. {{next_step}} {{freeze_advice}}"); },
       {"payments.txt", "{{action_status}}"}},
      {"Unterminated", [](const TemplateDir& t) { t.write("fraud.txt", "Next step: {{next_step"); },
       {"fraud.txt", "unterminated {{"}},
      {"StrayClose", [](const TemplateDir& t) { t.write("fraud.txt", "Next step: {next_step}} {{freeze_advice}}"); },
       {"fraud.txt", "stray }}"}},
      {"TooLong",
       [](const TemplateDir& t) { t.write("account_access.txt", t.read("account_access.txt") + std::string(1900, 'a')); },
       {"account_access.txt", "more than the 2000"}},
      {"PolicyUnknownKey", [](const TemplateDir& t) { t.edit_policy([](json& j) { j["intents"]["fraud"]["colour"] = "red"; }); },
       {"policy.json", "intents.fraud.colour", "unknown key"}},
      {"PolicyMissingIntent", [](const TemplateDir& t) { t.edit_policy([](json& j) { j["intents"].erase("loan_question"); }); },
       {"policy.json", "intents.loan_question", "missing"}},
      {"PolicyPhrasePromises",
       [](const TemplateDir& t) {
         t.edit_policy([](json& j) { j["phrases"]["pending_next_step"] = "Your money has been refunded."; });
       },
       {"policy.json", "phrases.pending_next_step", "has been refunded"}},
      {"PolicyPhraseTemplateScope",
       [](const TemplateDir& t) { t.edit_policy([](json& j) { j["phrases"]["charge"] = "the charge {{next_step}}"; }); },
       {"policy.json", "phrases.charge", "{{next_step}} is not allowed here"}},
      {"PolicyMissing", [](const TemplateDir& t) { t.remove("policy.json"); }, {"policy.json", "missing"}},
      {"PolicyNotJson", [](const TemplateDir& t) { t.write("policy.json", "{intents:"); }, {"policy.json", "invalid JSON"}},
  };
  for (const auto& row : kRows) {
    SCOPED_TRACE(row.name);
    const TemplateDir dir;
    row.spoil(dir);
    try {
      make_template_drafter(dir.path());
      ADD_FAILURE() << "loaded";
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      for (const auto& m : row.error_mentions) EXPECT_NE(what.find(m), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
    }
  }
}

TEST(TemplateDrafter, FallsBackToNoCaseDataWhenCaseDataMakesAReplyUnsafe) {
  const TemplateDir dir;
  // Legal on its own, but a merchant ending in digits right before an amount makes a long run.
  dir.write("fraud.txt", "Charge: {{merchant}} {{amount}}. {{freeze_advice}} {{action_status}}\nNext step: {{next_step}}");
  const auto drafter = make_template_drafter(dir.path());
  const auto input = read_input(alert("Kiosk 123", 45678900, "USD", "4417"), "{}");
  ASSERT_TRUE(input);
  const Draft d = drafter->draft(*input);
  EXPECT_TRUE(d.violations.empty()) << d.violations.front();
  EXPECT_EQ(d.reply.rfind("Charge: the merchant the amount.", 0), 0u) << d.reply;

  const auto safe = read_input(alert("Kiosk", 45678900, "USD", "4417"), "{}");
  ASSERT_TRUE(safe);
  EXPECT_EQ(drafter->draft(*safe).reply.rfind("Charge: Kiosk 456,789.00 USD.", 0), 0u);
}

TEST(TemplateLoading, ACopyOfTheShippedTemplatesLoads) {
  const TemplateDir dir;
  EXPECT_NO_THROW(make_template_drafter(dir.path()));
}

TEST(TemplateLoading, RefusesAMissingDirectory) {
  try {
    make_template_drafter("/nonexistent/casebus/templates");
    ADD_FAILURE() << "loaded";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("settings.templates_dir"), std::string::npos) << e.what();
  }
}

TEST(Settings, TemplatesDirIsRequiredAndResolvedAgainstTheConfig) {
  const auto s = read_settings(json{{"templates_dir", "../templates/reply"}}, "/etc/casebus/config");
  EXPECT_EQ(s.templates_dir, fs::path("/etc/casebus/templates/reply"));
  EXPECT_EQ(read_settings(json{{"templates_dir", "/opt/t"}}, "/etc").templates_dir, fs::path("/opt/t"));

  struct Bad {
    json settings;
    std::vector<std::string> mentions;
  };
  const Bad kBad[] = {
      {json::object(), {"settings.templates_dir", "deploy/config/response-drafter.json"}},
      {json{{"templates_dir", ""}}, {"settings.templates_dir"}},
      {json{{"templates_dir", 3}}, {"settings.templates_dir"}},
      {json{{"templates_dir", "t"}, {"template_dir", "t"}}, {"settings.template_dir", "unknown"}},
  };
  for (const auto& b : kBad) {
    try {
      read_settings(b.settings, "/etc");
      ADD_FAILURE() << b.settings.dump();
    } catch (const std::invalid_argument& e) {
      for (const auto& m : b.mentions) EXPECT_NE(std::string(e.what()).find(m), std::string::npos) << e.what();
    }
  }
}

TEST(ReadInput, RejectsMalformedMembersNamingTheField) {
  const std::string ok = support("Hello");
  const struct {
    std::string payload, context, field;
  } kRows[] = {
      {R"({"kind":"postcard","channel":"web","customer_ref":"c"})", "{}", "payload.kind"},
      {"not json", "{}", "payload"},
      {ok, "[1]", "context"},
      {ok, "{", "context"},
      {ok, R"({"classifier":"fraud"})", "context.classifier"},
      {ok, R"({"classifier":{"intent":"lottery"}})", "context.classifier.intent"},
      {ok, R"({"classifier":{"intent":7}})", "context.classifier.intent"},
      {ok, R"({"classifier":{"entities":{"card_last4":"41111"}}})", "context.classifier.entities.card_last4"},
      {ok, R"({"fraud_reviewer":{"risk_level":"extreme"}})", "context.fraud_reviewer.risk_level"},
      {ok, R"({"fraud_reviewer":{"actions":{}}})", "context.fraud_reviewer.actions"},
      {ok, R"({"policy":{"approved_actions":[{"type":"teleport"}]}})", "context.policy.approved_actions[0].type"},
      {ok, R"({"policy":{"pending_actions":[{"reason":"r"}]}})", "context.policy.pending_actions[0].type"},
      {ok, R"({"policy":{"intent":"nope"}})", "context.policy.intent"},
  };
  for (const auto& row : kRows) {
    const auto in = read_input(row.payload, row.context);
    ASSERT_FALSE(in) << row.context;
    EXPECT_EQ(in.error().field, row.field) << in.error().describe();
  }
}

TEST(ReadInput, ToleratesAbsentAndNullMembers) {
  const auto in = read_input(support("Hello"),
                             R"({"classifier":null,"fraud_reviewer":{},"policy":{"intent":null,"risk_level":null},"escalation":{}})");
  ASSERT_TRUE(in) << in.error().describe();
  EXPECT_EQ(in->intent, Intent::kGeneralSupport);
  EXPECT_FALSE(in->risk_level);
  ASSERT_TRUE(in->policy);
  EXPECT_TRUE(in->policy->approved.empty());
}

TEST(ReadInput, IntentFollowsTheKindWithoutAClassifier) {
  EXPECT_EQ(common::cases::intent_of_kind(common::cases::Kind::kTransactionAlert), Intent::kFraud);
  EXPECT_EQ(common::cases::intent_of_kind(common::cases::Kind::kPaymentRequest), Intent::kPayments);
  EXPECT_EQ(common::cases::intent_of_kind(common::cases::Kind::kLoanApplication), Intent::kLoanQuestion);
  EXPECT_EQ(common::cases::intent_of_kind(common::cases::Kind::kSupportMessage), Intent::kGeneralSupport);
  for (int i = 0; i < kIntentCount; ++i) EXPECT_EQ(common::cases::parse_intent(to_string(static_cast<Intent>(i))), static_cast<Intent>(i));
}

}  // namespace
}  // namespace agents::response_drafter

namespace agents::response_drafter {
namespace {

TEST(DrafterModel, TheAnswerIsAReplyAndNothingElseAndSettingsAreStrict) {
  EXPECT_EQ(check_answer(nlohmann::json::parse(R"({"reply":"Hello."})")).value(), "Hello.");
  EXPECT_EQ(check_answer(nlohmann::json::parse(R"({"reply":"Hello.","refund":true})")).error().field, "result");
  EXPECT_EQ(check_answer(nlohmann::json::parse(R"({"text":"Hello."})")).error().field, "result");
  EXPECT_EQ(check_answer(nlohmann::json::parse(R"({"reply":7})")).error().field, "result.reply");
  EXPECT_EQ(read_model_settings(nlohmann::json{{"templates_dir", "x"}}, ".").mode, "embedded");
  for (const auto& [settings, message] : std::vector<std::pair<nlohmann::json, std::string>>{
           {{{"mode", "chat"}}, "settings.mode must be"},
           {{{"provider", {{"model", "m"}}}}, "apply to a language-model mode only"},
           {{{"mode", "llm"}}, "settings.prompt_file must be set"},
           {{{"mode", "llm"}, {"prompt_file", CASEBUS_SOURCE_DIR "/agents/response_drafter/prompts/reply.v1.txt"}}, "settings.provider must be set"}}) {
    try {
      read_model_settings(settings, ".");
      ADD_FAILURE() << "accepted " << settings.dump();
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace agents::response_drafter
