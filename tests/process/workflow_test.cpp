// The banking workflow end to end: the real broker with the shipped routing table and policy,
// the four agents with their shipped configs, scenarios drawn from the seed documents.
#include "stack.hpp"

#include "common/cases/payload.hpp"
#include "common/policy/policy.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>

namespace testsupport {
namespace {

using nlohmann::json;
using Status = common::bus::Outcome::Status;

json banking_case(const json& payload) {
  return json{{"v", 1}, {"type", "case"}, {"tenant", "acme"}, {"to", "banking"}, {"payload", payload}};
}

json support(const std::string& customer, const std::string& message, const std::string& channel = "web") {
  return json{{"kind", "support_message"}, {"channel", channel}, {"customer_ref", customer}, {"message", message}};
}

std::vector<std::string> agents_of(const json& final_case) {
  std::vector<std::string> r;
  for (const auto& h : final_case.at("trail")) r.push_back(h.at("agent").get<std::string>());
  return r;
}

std::vector<std::string> types_of(const json& actions) {
  std::vector<std::string> r;
  for (const auto& a : actions) r.push_back(a.at("type").get<std::string>());
  return r;
}

// What must hold for every reply a customer gets, checked by the same policy code the broker
// uses, plus the rule that it states a next step.
void expect_safe_reply(const json& final_case) {
  ASSERT_TRUE(final_case.at("reply").is_string()) << final_case.dump(2);
  const auto reply = final_case.at("reply").get<std::string>();
  auto payload = common::cases::parse_payload(final_case.at("payload"));
  ASSERT_TRUE(payload);
  const common::policy::Policy policy(common::policy::default_config());
  const auto problems = policy.reply_problems(reply, *payload);
  EXPECT_TRUE(problems.empty()) << (problems.empty() ? "" : problems.front()) << "\n" << reply;
  const auto& msg = final_case.at("payload").value("message", "");
  if (msg.size() > 20) {
    EXPECT_EQ(reply.find(msg), std::string::npos) << "the reply echoes the customer's message";
  }
}

struct Scenario {
  const char* name;
  json payload;
  const char* intent;  // nullptr: none expected (no classifier on the route)
  std::vector<std::string> route;
  const char* status;
  std::vector<std::string> approved, pending;
  std::function<void(const json&)> more;
};

std::vector<Scenario> scenarios() {
  std::vector<Scenario> s;
  s.push_back({"duplicate charge (seed 000/001)", support("cust-a01", "I was charged twice on my debit card yesterday."),
               "card_dispute", {"classifier", "fraud_reviewer", "response_drafter"}, "resolved", {}, {},
               [](const json& c) {
                 EXPECT_EQ(c.at("risk").at("level"), "low");
                 EXPECT_TRUE(c.at("review").is_null());
               }});
  s.push_back({"unrecognised merchant (seed 000)", support("cust-a02", "I see a card charge from a merchant I don't recognize."),
               "fraud", {"classifier", "fraud_reviewer", "escalation"}, "escalated", {"temporary_card_freeze"}, {},
               [](const json& c) {
                 EXPECT_EQ(c.at("risk").at("level"), "high");
                 EXPECT_EQ(c.at("review").at("priority"), "urgent");
                 bool rule = false;
                 for (const auto& h : c.at("trail")) rule |= h.value("summary", "").find("unrecognised_merchant") != std::string::npos;
                 EXPECT_TRUE(rule) << "the trail names the rule that fired";
               }});
  s.push_back({"declined card (seed 000)", support("cust-a03", "Customer says their card was declined at checkout."),
               "payments", {"classifier", "fraud_reviewer", "response_drafter"}, "resolved", {}, {},
               [](const json& c) { EXPECT_FALSE(c.contains("payment_decision")); }});
  s.push_back({"balance question", support("cust-a04", "What is my current balance?", "mobile_app"), "balance_and_fees",
               {"classifier", "response_drafter"}, "resolved", {}, {}, nullptr});
  s.push_back({"loan question (seed 002)", support("cust-a05", "What interest rate would I get on a personal loan?"),
               "loan_question", {"classifier", "response_drafter"}, "resolved", {}, {}, nullptr});
  s.push_back({"account locked", support("cust-a06", "I'm locked out of my account after too many password attempts.", "phone"),
               "account_access", {"classifier", "response_drafter"}, "resolved", {}, {}, nullptr});
  s.push_back({"refund request (seed 003)",
               support("cust-a07", "Refund $42.50 USD for invoice INV-1042 because duplicate charge was detected."), "payments",
               {"classifier", "fraud_reviewer", "escalation"}, "escalated", {}, {"refund"},
               [](const json& c) {
                 EXPECT_EQ(c.at("payment_decision"), "refund");
                 const auto& refund = c.at("pending_actions").at(0);
                 EXPECT_EQ(refund.at("amount_minor"), 4250);
                 EXPECT_EQ(refund.at("currency"), "USD");
                 EXPECT_EQ(c.at("review").at("actions_awaiting_approval").at(0).at("amount_minor"), 4250);
               }});
  s.push_back({"high-value transfer", support("cust-a08", "Please transfer 25,000 EUR to my savings account abroad."), "payments",
               {"classifier", "fraud_reviewer", "escalation"}, "escalated", {"monitor"}, {"payment_authorize"},
               [](const json& c) {
                 EXPECT_EQ(c.at("pending_actions").at(0).at("amount_minor"), 2500000);
                 EXPECT_EQ(c.at("pending_actions").at(0).at("currency"), "EUR");
                 EXPECT_EQ(c.at("risk").at("level"), "medium");  // over the very-high amount tier
               }});
  s.push_back({"loan application with high DTI (seed 002)",
               json{{"kind", "loan_application"},
                    {"channel", "web"},
                    {"customer_ref", "A123"},
                    {"application",
                     {{"product", "personal_loan"}, {"currency", "USD"}, {"annual_income_minor", 9500000},
                      {"requested_amount_minor", 2500000}, {"debt_to_income", 0.52}, {"employment_years", 6},
                      {"documents_provided", {"id", "proof_of_income"}}}}},
               nullptr, {"escalation"}, "escalated", {}, {},
               [](const json& c) {
                 const auto& u = c.at("review").at("underwriting");
                 EXPECT_EQ(u.at("recommendation"), "refer_to_underwriter") << u.dump(2);
                 bool dti_failed = false;
                 for (const auto& check : u.at("checks")) {
                   if (check.at("check") == "debt_to_income") dti_failed = !check.at("passed").get<bool>();
                 }
                 EXPECT_TRUE(dti_failed) << u.dump(2);
               }});
  s.push_back({"card-not-present alert from the core banking bus",
               json{{"kind", "transaction_alert"},
                    {"channel", "event_bus"},
                    {"customer_ref", "cust-a10"},
                    {"transaction",
                     {{"id", "tx-88231"}, {"amount_minor", 249900}, {"currency", "USD"}, {"merchant", "ACME Electronics"},
                      {"card_last4", "4417"}, {"card_present", false}}}},
               nullptr, {"fraud_reviewer", "escalation"}, "escalated", {"temporary_card_freeze"}, {},
               [](const json& c) { EXPECT_EQ(c.at("risk").at("level"), "high"); }});
  s.push_back({"payment in an unsupported currency",
               json{{"kind", "payment_request"},
                    {"channel", "mobile_app"},
                    {"customer_ref", "cust-a11"},
                    {"payment", {{"type", "transfer"}, {"amount_minor", 50000}, {"currency", "JPY"}}}},
               nullptr, {}, "rejected", {}, {},
               [](const json& c) { EXPECT_EQ(c.at("reason"), "payment currency not supported"); }});
  s.push_back({"unclear message, low confidence", support("cust-a12", "Hello, I have a question."), "general_support",
               {"classifier", "escalation"}, "escalated", {}, {},
               [](const json& c) { EXPECT_LT(c.at("confidence").get<double>(), 0.6); }});
  s.push_back({"refund payment request (seed 003)",
               json{{"kind", "payment_request"},
                    {"channel", "web"},
                    {"customer_ref", "cust-a13"},
                    {"message", "Duplicate charge on invoice INV-1042."},
                    {"payment", {{"type", "refund"}, {"amount_minor", 4250}, {"currency", "USD"}, {"invoice_id", "INV-1042"}}}},
               "payments", {"classifier", "fraud_reviewer", "escalation"}, "escalated", {}, {"refund"},
               [](const json& c) { EXPECT_EQ(c.at("confidence"), 1.0); }});
  return s;
}

TEST(BankingWorkflow, SeedScenariosTakeTheirRoutes) {
  Stack stack(shipped_broker_config());
  stack.start_broker();
  stack.start_banking_agents();
  const auto list = scenarios();
  std::vector<std::string> envelopes;
  for (const auto& sc : list) envelopes.push_back(banking_case(sc.payload).dump());
  const auto outcomes = stack.submit_all(envelopes);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& sc = list[i];
    SCOPED_TRACE(sc.name);
    ASSERT_EQ(outcomes[i].status, Status::kCompleted) << outcomes[i].error.describe();
    const auto c = json::parse(outcomes[i].body);
    EXPECT_EQ(c.at("status"), sc.status) << c.dump(2);
    if (sc.intent) {
      EXPECT_EQ(c.at("intent"), sc.intent) << c.dump(2);
    } else {
      EXPECT_TRUE(c.at("intent").is_null());
    }
    EXPECT_EQ(agents_of(c), sc.route) << c.dump(2);
    EXPECT_EQ(types_of(c.at("approved_actions")), sc.approved) << c.dump(2);
    EXPECT_EQ(types_of(c.at("pending_actions")), sc.pending) << c.dump(2);
    EXPECT_TRUE(c.at("violations").empty()) << c.dump(2);
    for (const auto& h : c.at("trail")) EXPECT_EQ(h.at("outcome"), "done");
    if (c.at("status") != "rejected") expect_safe_reply(c);
    if (c.at("status") == "escalated") {
      EXPECT_TRUE(c.at("review").is_object()) << c.dump(2);
      EXPECT_EQ(c.at("review").at("actions_awaiting_approval"), c.at("pending_actions"));
    }
    if (sc.more) sc.more(c);
  }
  const auto counters = stack.stats().at("counters");
  EXPECT_EQ(counters.at("policy_violations"), 0);
  EXPECT_EQ(counters.at("resolved").get<int>() + counters.at("escalated").get<int>() + counters.at("rejected_by_workflow").get<int>(),
            static_cast<int>(list.size()));
}

// An agent whose result breaks the policy: a manipulated model's word never becomes an action.
struct Rogue {
  const char* name;
  const char* kind;
  json result;
  const char* violation;
};

TEST(BankingWorkflow, ARogueAgentsResultIsNeverActedOn) {
  const Rogue rogues[] = {
      {"reviewer approves a refund for a fraud case", "fraud_reviewer",
       json{{"risk_score", 0.1},
            {"risk_level", "low"},
            {"reasons", json::array()},
            {"actions", {{{"type", "refund"}, {"reason", "customer asked"}, {"amount_minor", 999999}, {"currency", "USD"}}}},
            {"model", "rogue"}},
       "action_not_allowed"},
      {"reviewer returns a malformed result", "fraud_reviewer", json{{"risk", "none"}}, "schema"},
      {"reviewer invents an action", "fraud_reviewer",
       json{{"risk_score", 0.1}, {"risk_level", "low"}, {"reasons", json::array()},
            {"actions", {{{"type", "close_account"}, {"reason", "x"}}}}, {"model", "rogue"}},
       "unknown_action"},
  };
  for (const auto& r : rogues) {
    SCOPED_TRACE(r.name);
    Stack stack(shipped_broker_config());
    stack.start_broker();
    stack.start_banking_agents({r.kind});
    stack.start_agent("rogue", {}, Binaries::test_agent(),
                      {std::string("CASEBUS_TEST_KIND=") + r.kind, "CASEBUS_TEST_RESULT=" + r.result.dump()});
    const auto out = stack.submit(banking_case(support("cust-r1", "I see a card charge from a merchant I don't recognize.")).dump());
    ASSERT_EQ(out.status, Status::kCompleted) << out.error.describe();
    const auto c = json::parse(out.body);
    EXPECT_EQ(c.at("status"), "escalated") << c.dump(2);
    EXPECT_TRUE(c.at("approved_actions").empty()) << c.dump(2);
    EXPECT_TRUE(c.at("pending_actions").empty()) << c.dump(2);
    ASSERT_EQ(c.at("violations").size(), 1u) << c.dump(2);
    EXPECT_EQ(c.at("violations")[0].at("code"), r.violation);
    EXPECT_EQ(c.at("violations")[0].at("agent"), r.kind);
    EXPECT_EQ(agents_of(c), (std::vector<std::string>{"classifier", "fraud_reviewer", "escalation"}));
    EXPECT_TRUE(c.at("trail")[1].contains("violations"));
    EXPECT_FALSE(c.at("context").contains("fraud_reviewer")) << "a refused result is not passed on";
    // The escalation review lists the violation as evidence for the person who picks it up.
    EXPECT_NE(c.at("review").at("evidence").dump().find(r.violation), std::string::npos) << c.at("review").dump(2);
    expect_safe_reply(c);
  }
}

TEST(BankingWorkflow, ARogueDrafterCannotPromiseARefund) {
  Stack stack(shipped_broker_config());
  stack.start_broker();
  stack.start_banking_agents({"response_drafter"});
  const json promise{{"reply", "Good news: we will refund you 42.50 USD today."}, {"template", "x"}, {"next_step", "none"},
                     {"model", "rogue"}};
  stack.start_agent("rogue", {}, Binaries::test_agent(), {"CASEBUS_TEST_KIND=response_drafter", "CASEBUS_TEST_RESULT=" + promise.dump()});
  const auto out = stack.submit(banking_case(support("cust-r2", "What is my current balance?")).dump());
  ASSERT_EQ(out.status, Status::kCompleted);
  const auto c = json::parse(out.body);
  EXPECT_EQ(c.at("status"), "escalated") << c.dump(2);
  EXPECT_EQ(c.at("violations").at(0).at("code"), "unsafe_reply");
  EXPECT_EQ(c.at("reply").get<std::string>().find("refund you"), std::string::npos);
  expect_safe_reply(c);
}

TEST(BankingWorkflow, InvalidCasesAreRejectedNamingTheField) {
  Stack stack(shipped_broker_config());
  stack.start_broker();
  auto payload = support("cust-x", "hi");
  payload["transaction"] = {{"amount_minor", 100}, {"currency", "dollars"}};
  const auto out = stack.submit(banking_case(payload).dump());
  ASSERT_EQ(out.status, Status::kRejected);
  EXPECT_EQ(out.error.field, "payload.transaction.currency");
  payload = support("cust-x", "hi");
  payload["card_number"] = "4111111111111111";
  const auto extra = stack.submit(banking_case(payload).dump());
  ASSERT_EQ(extra.status, Status::kRejected);
  EXPECT_EQ(extra.error.field, "payload.card_number");
  EXPECT_EQ(stack.stats().at("cases_active"), 0);
}

TEST(BankingWorkflow, CasebusctlPrintsEveryShippedExample) {
  Stack stack(shipped_broker_config());
  stack.start_broker();
  stack.start_banking_agents();
  std::vector<std::filesystem::path> examples;
  for (const auto& e : std::filesystem::directory_iterator(source_path("examples"))) {
    if (e.path().extension() == ".json") examples.push_back(e.path());
  }
  ASSERT_GE(examples.size(), 5u);
  stack.start_agent("echo-1");
  for (const auto& path : examples) {
    SCOPED_TRACE(path.filename().string());
    Process ctl("casebusctl", Binaries::ctl(), {"--broker", stack.client_endpoint(), "submit", path.string()}, stack.dir());
    const auto code = ctl.wait_exit(20s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 0) << ctl.stderr_text();
    const auto text = ctl.stderr_text();
    std::ifstream f(path);
    const auto envelope = json::parse(f);
    if (envelope.at("to") == "banking") {
      EXPECT_NE(text.find("workflow  banking"), std::string::npos) << text;
      EXPECT_NE(text.find("reply     "), std::string::npos) << text;
    }
  }
}

}  // namespace
}  // namespace testsupport
