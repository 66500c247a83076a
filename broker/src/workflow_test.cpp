// The routing table's start-up checks and route choice, and workflow cases through the core with
// injected time and hand-written agent results.
#include "broker/settings.hpp"
#include "core.hpp"
#include "workflow.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace broker {
namespace {

namespace bus = common::bus;
using nlohmann::json;
using namespace std::chrono_literals;

json shipped_config() {
  std::ifstream f(CASEBUS_SOURCE_DIR "/deploy/config/broker.json");
  return json::parse(f);
}

TEST(ShippedConfig, ParsesAndItsPolicyIsTheDefault) {
  Settings s;
  shipped_config().get_to(s);
  ASSERT_EQ(s.core.workflows->count("banking"), 1u);
  const auto& wf = s.core.workflows->at("banking");
  EXPECT_EQ(wf.on_violation, "escalation");
  EXPECT_EQ(wf.longest_path, 4);  // classifier -> fraud_reviewer -> response_drafter -> escalation
  EXPECT_EQ(s.core.policy->config(), common::policy::default_config())
      << "deploy/config/broker.json's policy drifted from common::policy::default_config()";
}

// A small valid table to break in one place per row.
json table() {
  return json::parse(R"({"w": {
    "start": [{"to": "classifier"}],
    "nodes": {
      "classifier": {"routes": [{"when": [{"field": "case.confidence", "lt": 0.5}], "to": "escalation"}, {"to": "response_drafter"}]},
      "response_drafter": {"routes": [{"end": "resolved"}]},
      "escalation": {"routes": [{"end": "escalated"}]}
    }}})");
}

TEST(Workflow, StartUpChecksNameWhatIsWrong) {
  struct Row {
    std::function<void(json&)> edit;
    const char* message;
  };
  const Row rows[] = {
      {[](json& j) { j["w"]["nodes"]["classifier"]["routes"][1]["to"] = "drafter"; },
       "workflows.w.nodes.classifier.routes[1].to: unknown agent kind \"drafter\""},
      {[](json& j) { j["w"]["nodes"]["echo"] = {{"routes", {{{"end", "resolved"}}}}}; }, "workflows.w.nodes.echo: unknown agent kind \"echo\""},
      {[](json& j) { j["w"]["nodes"]["fraud_reviewer"] = {{"routes", {{{"end", "resolved"}}}}}; },
       "workflows.w.nodes.fraud_reviewer: unreachable"},
      {[](json& j) { j["w"]["nodes"]["response_drafter"]["routes"][0] = {{"to", "classifier"}}; }, "cycle: classifier -> response_drafter -> classifier"},
      {[](json& j) { j["w"]["nodes"]["response_drafter"]["routes"][0]["when"] = {{{"field", "case.intent"}, {"eq", "fraud"}}}; },
       "workflows.w.nodes.response_drafter.routes: the last route must have no \"when\""},
      {[](json& j) { j["w"]["start"] = {{{"when", {{{"field", "result.intent"}, {"eq", "x"}}}}, {"to", "classifier"}}, {{"to", "classifier"}}}; },
       "workflows.w.start[0].when[0].field: start routes run before any agent"},
      {[](json& j) { j["w"]["nodes"]["classifier"]["routes"][0]["when"][0]["field"] = "case.mood"; }, "case fields are"},
      {[](json& j) { j["w"]["nodes"]["classifier"]["routes"][0]["when"][0] = {{"field", "case.confidence"}, {"below", 0.5}}; },
       "workflows.w.nodes.classifier.routes[0].when[0].below: unknown operator"},
      {[](json& j) { j["w"]["nodes"]["classifier"]["routes"][0]["when"][0]["lt"] = "low"; }, "routes[0].when[0].lt: must be a number"},
      {[](json& j) { j["w"]["nodes"]["escalation"]["routes"][0]["end"] = "closed"; }, "must be resolved, escalated or rejected"},
      {[](json& j) { j["w"]["nodes"]["escalation"]["routes"][0]["to"] = "classifier"; }, "needs exactly one of"},
      {[](json& j) { j["w"]["on_violation"] = "fraud_reviewer"; }, "workflows.w.on_violation: \"fraud_reviewer\" is not a node"},
      {[](json& j) { j["w"]["nodes"]["escalation"]["routes"][0] = {{"to", "response_drafter"}}; },
       "the on_violation node must end the case"},
      {[](json& j) { j["w"]["nodes"]["escalation"]["routes"][0]["end"] = "resolved"; }, "must end the case \"escalated\""},
      {[](json& j) { j["w"]["colour"] = "blue"; }, "workflows.w.colour: unknown key"},
      {[](json& j) { j["Bad Name"] = j["w"]; }, "workflows.Bad Name"},
  };
  for (const auto& r : rows) {
    json j = table();
    r.edit(j);
    try {
      parse_workflows(j, 8);
      ADD_FAILURE() << "accepted " << j.dump();
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(r.message), std::string::npos) << e.what();
    }
  }
  EXPECT_NO_THROW(parse_workflows(table(), 8));
  try {
    parse_workflows(table(), 2);  // classifier -> escalation needs 2, plus one for a refused result
    ADD_FAILURE() << "accepted a table longer than max_hops";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("max_hops is 2"), std::string::npos) << e.what();
  }
}

TEST(Workflow, ChoosesTheFirstRouteThatHolds) {
  const auto wfs = parse_workflows(json::parse(R"({"w": {
    "start": [{"to": "classifier"}],
    "nodes": {
      "classifier": {"routes": [
        {"when": [{"field": "payload.transaction.amount_minor", "gte": 100000}], "to": "escalation"},
        {"when": [{"field": "result.intent", "in": ["fraud", "card_dispute"]}, {"field": "case.confidence", "gt": 0.6}], "end": "resolved"},
        {"when": [{"field": "payload.transaction", "exists": false}], "end": "rejected"},
        {"to": "escalation"}]},
      "escalation": {"routes": [{"end": "escalated"}]}}}})"),
                                   8);
  const auto& routes = wfs.at("w").nodes.at("classifier");
  std::size_t i = 0;
  const json big{{"transaction", {{"amount_minor", 250000}}}};
  EXPECT_EQ(choose(routes, big, json{{"intent", "fraud"}}, json{{"confidence", 0.9}}, i).describe(), "escalation");
  EXPECT_EQ(i, 0u);
  const json small{{"transaction", {{"amount_minor", 100}}}};
  EXPECT_EQ(choose(routes, small, json{{"intent", "fraud"}}, json{{"confidence", 0.9}}, i).describe(), "end resolved");
  EXPECT_EQ(choose(routes, small, json{{"intent", "fraud"}}, json{{"confidence", 0.5}}, i).describe(), "escalation");
  EXPECT_EQ(i, 3u);
  // A missing field makes every comparison false, and "exists": false true.
  EXPECT_EQ(choose(routes, json::object(), json{{"intent", "fraud"}}, json::object(), i).describe(), "end rejected");
}

// ---------------------------------------------------------------------------------------------
// Workflow cases through the core.

// The core takes frame views; the encoders return owned frames.
std::vector<std::string_view> views(const bus::Frames& f) {
  return {f.begin(), f.end()};
}

class Flow : public ::testing::Test {
 protected:
  void SetUp() override {
    Settings s;
    shipped_config().get_to(s);
    core_ = std::make_unique<Core>(s.core);
    for (const char* kind : {"classifier", "fraud_reviewer", "response_drafter", "escalation"}) {
      Outbox out;
      core_->on_agent(kind, views(bus::encode_ready({kind, std::string("w-") + kind, 10})), now_, out);
    }
  }
  // Submits to the banking workflow; returns the outbox.
  Outbox submit(const json& payload, const json& extra = json::object()) {
    json env{{"v", 1}, {"type", "case"}, {"tenant", "acme"}, {"to", "banking"}, {"payload", payload}};
    env.update(extra);
    Outbox out;
    core_->on_client("client", views(bus::encode_submit("c1", env.dump())), now_, out);
    collect(out);
    return out;
  }
  // Answers the task waiting at `kind` with `result`.
  void answer(const std::string& kind, const json& result) {
    ASSERT_TRUE(task_.contains("to")) << "no task out";
    ASSERT_EQ(task_.at("to"), kind) << task_.dump();
    Outbox out;
    now_ = now_.plus(1ms);
    core_->on_agent(kind, views(bus::encode_done(task_.at("id").get<std::string>(), result.dump())), now_, out);
    collect(out);
  }
  void fail(const std::string& kind, bool retryable) {
    Outbox out;
    core_->on_agent(kind, views(bus::encode_fail(task_.at("id").get<std::string>(), "invalid_field", "payload.x: broken", retryable)),
                    now_, out);
    collect(out);
  }
  void collect(const Outbox& out) {
    task_ = json::object();
    for (const auto& m : out) {
      const auto c = static_cast<bus::Command>(static_cast<unsigned char>(m.frames.at(1).at(0)));
      if (c == bus::Command::kTask) task_ = json::parse(m.frames.at(2));
      if (c == bus::Command::kResult) final_ = json::parse(m.frames.at(3));
      if (c == bus::Command::kRejected) rejected_ = m.frames;
    }
  }

  static json support(const std::string& message) {
    return json{{"kind", "support_message"}, {"channel", "web"}, {"customer_ref", "cust-1"}, {"message", message}};
  }
  static json classified(const std::string& intent, double confidence, const json& decision = nullptr) {
    json j{{"intent", intent},
           {"confidence", confidence},
           {"entities", {{"amounts", json::array()}, {"merchant", nullptr}, {"dates", json::array()}, {"card_last4", nullptr}, {"invoice_ids", json::array()}}},
           {"model", "test"}};
    if (!decision.is_null()) j["payment_decision"] = decision;
    return j;
  }
  static json reviewed(const std::string& level, double score, json actions = json::array()) {
    return json{{"risk_score", score}, {"risk_level", level}, {"reasons", json::array()}, {"actions", std::move(actions)}, {"model", "test"}};
  }
  static json drafted(const std::string& reply) {
    return json{{"reply", reply}, {"template", "t"}, {"next_step", "n"}, {"model", "test"}};
  }
  json escalated(const std::string& reply = "A specialist will review your case.") const {
    return json{{"review",
                 {{"queue", "q"},
                  {"priority", "high"},
                  {"summary", "s"},
                  {"evidence", json::array()},
                  {"actions_awaiting_approval", task_.at("context").at("policy").at("pending_actions")},
                  {"sla_deadline", "2026-11-21T10:00:00.000Z"}}},
                {"reply", reply},
                {"model", "test"}};
  }
  std::vector<std::string> route() const {
    std::vector<std::string> r;
    for (const auto& h : final_.at("trail")) r.push_back(h.at("agent").get<std::string>() + ">" + h.value("route", ""));
    return r;
  }

  std::unique_ptr<Core> core_;
  common::Now now_{common::MonoTime{} + 1h, 1'795'250'700'000};
  json task_ = json::object(), final_;
  bus::Frames rejected_;
};

TEST_F(Flow, ResolvesALowRiskDisputeThroughThreeAgents) {
  submit(support("I was charged twice on my debit card yesterday."));
  EXPECT_EQ(task_.at("context"), (json{{"policy", {{"intent", nullptr}, {"risk_level", nullptr}, {"approved_actions", json::array()},
                                                    {"pending_actions", json::array()}, {"violations", json::array()}}}}));
  answer("classifier", classified("card_dispute", 0.84));
  answer("fraud_reviewer", reviewed("medium", 0.35, json::array({{{"type", "monitor"}, {"reason", "watch"}}})));
  EXPECT_EQ(task_.at("context").at("policy").at("approved_actions")[0].at("type"), "monitor");
  EXPECT_EQ(task_.at("context").at("classifier").at("intent"), "card_dispute");
  answer("response_drafter", drafted("We are looking into the duplicate charge."));
  ASSERT_FALSE(final_.is_null());
  EXPECT_EQ(final_.at("status"), "resolved");
  EXPECT_EQ(final_.at("workflow"), "banking");
  EXPECT_EQ(final_.at("intent"), "card_dispute");
  EXPECT_EQ(final_.at("risk"), (json{{"level", "medium"}, {"score", 0.35}}));
  EXPECT_EQ(final_.at("approved_actions").size(), 1u);
  EXPECT_TRUE(final_.at("pending_actions").empty());
  EXPECT_EQ(final_.at("reply"), "We are looking into the duplicate charge.");
  EXPECT_EQ(route(), (std::vector<std::string>{"classifier>fraud_reviewer", "fraud_reviewer>response_drafter", "response_drafter>end resolved"}));
  EXPECT_EQ(final_.at("trail")[0].at("summary"), "intent=card_dispute confidence=0.84");
  EXPECT_EQ(json::parse(core_->stats_json()).at("counters").at("resolved"), 1);
}

TEST_F(Flow, ARefundWaitsForAPersonAndEndsEscalated) {
  submit(support("Refund $42.50 USD for invoice INV-1042 because duplicate charge was detected."));
  answer("classifier", classified("payments", 0.9, {{"action", "refund"}, {"reason", "duplicate_charge"}, {"amount_minor", 4250}, {"currency", "USD"}}));
  answer("fraud_reviewer", reviewed("low", 0.1));
  ASSERT_EQ(task_.at("to"), "escalation");
  EXPECT_EQ(task_.at("context").at("policy").at("pending_actions")[0].at("amount_minor"), 4250);
  answer("escalation", escalated());
  EXPECT_EQ(final_.at("status"), "escalated");
  EXPECT_EQ(final_.at("payment_decision"), "refund");
  EXPECT_TRUE(final_.at("approved_actions").empty());
  ASSERT_EQ(final_.at("pending_actions").size(), 1u);
  EXPECT_EQ(final_.at("pending_actions")[0].at("type"), "refund");
  EXPECT_EQ(final_.at("review").at("queue"), "q");
  EXPECT_EQ(final_.at("reply"), "A specialist will review your case.");
}

TEST_F(Flow, ADisallowedActionEscalatesWithNothingApproved) {
  submit(support("I see a card charge from a merchant I don't recognize."));
  answer("classifier", classified("fraud", 0.9));
  // The freeze would be approved, but the refund is not allowed for fraud: the whole result is refused.
  answer("fraud_reviewer", reviewed("medium", 0.5, json::array({{{"type", "temporary_card_freeze"}, {"reason", "r"}},
                                                                 {{"type", "refund"}, {"reason", "r"}, {"amount_minor", 100}, {"currency", "USD"}}})));
  ASSERT_EQ(task_.at("to"), "escalation");
  EXPECT_EQ(task_.at("context").at("policy").at("violations")[0].at("code"), "action_not_allowed");
  EXPECT_FALSE(task_.at("context").contains("fraud_reviewer")) << "a refused result is not passed on";
  answer("escalation", escalated());
  EXPECT_EQ(final_.at("status"), "escalated");
  EXPECT_TRUE(final_.at("approved_actions").empty());
  EXPECT_TRUE(final_.at("pending_actions").empty());
  EXPECT_TRUE(final_.at("risk").is_null());
  EXPECT_EQ(final_.at("trail")[1].at("violations")[0].at("code"), "action_not_allowed");
  EXPECT_EQ(final_.at("trail")[1].at("route"), "escalation");
  EXPECT_EQ(json::parse(core_->stats_json()).at("counters").at("policy_violations"), 1);
}

TEST_F(Flow, EarlierApprovalsAreWithheldAfterAViolation) {
  submit(support("I see a card charge from a merchant I don't recognize."));
  answer("classifier", classified("fraud", 0.9));
  answer("fraud_reviewer", reviewed("medium", 0.5, json::array({{{"type", "temporary_card_freeze"}, {"reason", "r"}}})));
  answer("response_drafter", drafted("We will refund you today."));  // promises a refund
  ASSERT_EQ(task_.at("to"), "escalation");
  answer("escalation", escalated());
  EXPECT_EQ(final_.at("status"), "escalated");
  EXPECT_TRUE(final_.at("approved_actions").empty());
  ASSERT_EQ(final_.at("pending_actions").size(), 1u);
  EXPECT_EQ(final_.at("pending_actions")[0].at("type"), "temporary_card_freeze");
  EXPECT_EQ(final_.at("violations")[0].at("code"), "unsafe_reply");
  EXPECT_NE(final_.at("reply"), "We will refund you today.");
}

TEST_F(Flow, AMalformedResultEscalatesAndARefusedReviewUsesTheFallbackReply) {
  submit(support("What is my current balance?"));
  answer("classifier", json{{"intent", "balance_and_fees"}, {"confidence", "very"}});
  ASSERT_EQ(task_.at("to"), "escalation");
  answer("escalation", escalated("Your card 4111 1111 1111 1111 is safe."));
  EXPECT_EQ(final_.at("status"), "escalated");
  EXPECT_EQ(final_.at("reply"), common::policy::default_config().fallback_reply);
  EXPECT_TRUE(final_.at("review").is_null());
  ASSERT_EQ(final_.at("violations").size(), 2u);
  EXPECT_EQ(final_.at("violations")[0].at("field"), "confidence");
  EXPECT_EQ(final_.at("violations")[1].at("agent"), "escalation");
}

TEST_F(Flow, AReviewerCannotDeclareAHighScoreLowRisk) {
  submit(support("I see a card charge from a merchant I don't recognize."));
  answer("classifier", classified("fraud", 0.9));
  answer("fraud_reviewer", reviewed("low", 0.97));
  ASSERT_EQ(task_.at("to"), "escalation") << "routed on the level the score reaches";
  EXPECT_EQ(task_.at("context").at("policy").at("risk_level"), "high");
  answer("escalation", escalated());
  EXPECT_EQ(final_.at("risk").at("level"), "high");
  EXPECT_NE(final_.at("trail")[1].at("summary").get<std::string>().find("declared=low"), std::string::npos);
}

TEST_F(Flow, AFailedCaseKeepsNothingApproved) {
  submit(support("I see a card charge from a merchant I don't recognize."));
  answer("classifier", classified("fraud", 0.9));
  answer("fraud_reviewer", reviewed("high", 0.8, json::array({{{"type", "temporary_card_freeze"}, {"reason", "r"}}})));
  ASSERT_EQ(task_.at("to"), "escalation");
  EXPECT_EQ(task_.at("context").at("policy").at("approved_actions").size(), 1u);
  fail("escalation", false);
  EXPECT_EQ(final_.at("status"), "failed");
  EXPECT_TRUE(final_.at("approved_actions").empty());
  EXPECT_EQ(final_.at("pending_actions").size(), 1u);
}

TEST_F(Flow, TheReviewKeptIsTheCheckedOne) {
  submit(support("Refund $42.50 USD for invoice INV-1042 because duplicate charge was detected."));
  answer("classifier", classified("payments", 0.9, {{"action", "refund"}, {"reason", "duplicate_charge"}, {"amount_minor", 4250}, {"currency", "USD"}}));
  answer("fraud_reviewer", reviewed("low", 0.1));
  auto esc = escalated();
  esc["review"]["actions_awaiting_approval"][0]["proposed_by"] = json{{"huge", std::string(1000, 'x')}};
  answer("escalation", esc);
  EXPECT_EQ(final_.at("status"), "escalated");
  EXPECT_TRUE(final_.at("violations").empty()) << final_.dump(2);
  EXPECT_EQ(final_.at("review").at("actions_awaiting_approval")[0].at("proposed_by"), "classifier");
  // An oversized underwriting object is refused.
  submit(support("Refund $42.50 USD for invoice INV-1042 because duplicate charge was detected."));
  answer("classifier", classified("payments", 0.9, {{"action", "refund"}, {"reason", "duplicate_charge"}, {"amount_minor", 4250}, {"currency", "USD"}}));
  answer("fraud_reviewer", reviewed("low", 0.1));
  esc = escalated();
  esc["review"]["underwriting"] = {{"notes", std::string(10000, 'x')}};
  answer("escalation", esc);
  EXPECT_EQ(final_.at("status"), "escalated");
  EXPECT_EQ(final_.at("violations")[0].at("field"), "review.underwriting");
  EXPECT_TRUE(final_.at("review").is_null());
}

TEST_F(Flow, LowConfidenceGoesStraightToAPerson) {
  submit(support("Hello there."));
  answer("classifier", classified("general_support", 0.3));
  ASSERT_EQ(task_.at("to"), "escalation");
  answer("escalation", escalated());
  EXPECT_EQ(route(), (std::vector<std::string>{"classifier>escalation", "escalation>end escalated"}));
  EXPECT_EQ(final_.at("reason"), "awaiting human review");
}

TEST_F(Flow, AFailedAgentHandsTheCaseToAPerson) {
  submit(support("What is my current balance?"));
  fail("classifier", false);
  ASSERT_EQ(task_.at("to"), "escalation");
  answer("escalation", escalated());
  EXPECT_EQ(final_.at("status"), "escalated");
  EXPECT_EQ(final_.at("violations")[0].at("code"), "agent_failed");
  EXPECT_EQ(final_.at("trail")[0].at("outcome"), "failed");
  // A failing escalation agent cannot be diverted any further: the case fails.
  submit(support("What is my current balance?"));
  fail("classifier", false);
  fail("escalation", false);
  EXPECT_EQ(final_.at("status"), "failed");
}

TEST_F(Flow, StartRoutesPickTheFirstHopOrEndTheCase) {
  submit(json{{"kind", "loan_application"}, {"channel", "web"}, {"customer_ref", "A123"},
              {"application", {{"product", "personal_loan"}, {"currency", "USD"}, {"annual_income_minor", 9500000},
                               {"debt_to_income", 0.31}, {"employment_years", 4}}}});
  EXPECT_EQ(task_.at("to"), "escalation");
  submit(json{{"kind", "transaction_alert"}, {"channel", "event_bus"}, {"customer_ref", "c"},
              {"transaction", {{"amount_minor", 100}, {"currency", "USD"}}}});
  EXPECT_EQ(task_.at("to"), "fraud_reviewer");
  final_ = nullptr;
  submit(json{{"kind", "payment_request"}, {"channel", "web"}, {"customer_ref", "c"},
              {"payment", {{"type", "transfer"}, {"amount_minor", 100}, {"currency", "JPY"}}}});
  ASSERT_FALSE(final_.is_null());
  EXPECT_EQ(final_.at("status"), "rejected");
  EXPECT_EQ(final_.at("reason"), "payment currency not supported");
  EXPECT_TRUE(final_.at("trail").empty());
}

TEST_F(Flow, BadSubmissionsAreRejectedNamingTheField) {
  auto out = submit(json{{"kind", "support_message"}, {"channel", "fax"}, {"customer_ref", "c"}, {"message", "x"}});
  ASSERT_FALSE(rejected_.empty());
  EXPECT_NE(rejected_.at(3).find("payload.channel"), std::string::npos) << rejected_.at(3);
  rejected_.clear();
  submit(support("hi"), json{{"context", {{"classifier", {{"intent", "fraud"}}}}}});
  ASSERT_FALSE(rejected_.empty());
  EXPECT_NE(rejected_.at(3).find("\"context\""), std::string::npos) << rejected_.at(3);
  EXPECT_EQ(core_->active_cases(), 0u);
}

}  // namespace
}  // namespace broker
