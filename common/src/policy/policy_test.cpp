#include "common/policy/policy.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace common::policy {
namespace {

using nlohmann::json;

cases::Payload support(std::string message) {
  cases::Payload p;
  p.customer_ref = "cust-1";
  p.message = std::move(message);
  return p;
}

json classifier(const char* intent, double confidence = 0.9) {
  return json{{"intent", intent},
              {"confidence", confidence},
              {"entities",
               {{"amounts", json::array()},
                {"merchant", nullptr},
                {"dates", json::array()},
                {"card_last4", nullptr},
                {"invoice_ids", json::array()}}},
              {"model", "test"}};
}

json reviewer(const char* level, double score, json actions = json::array()) {
  return json{{"risk_score", score},
              {"risk_level", level},
              {"reasons", {{{"rule", "unrecognised_merchant"}, {"contribution", 0.4}, {"detail", "merchant not recognised"}}}},
              {"actions", std::move(actions)},
              {"model", "test"}};
}

json action(const char* type, std::int64_t minor = -1, const char* currency = "USD") {
  json a{{"type", type}, {"reason", "test"}};
  if (minor >= 0) {
    a["amount_minor"] = minor;
    a["currency"] = currency;
  }
  return a;
}

TEST(Policy, AppliesAValidClassifierResult) {
  const Policy policy(default_config());
  CaseState s;
  const auto v = policy.apply("classifier", classifier("card_dispute", 0.84), support("charged twice"), s);
  ASSERT_TRUE(v.ok()) << to_json(v.violations.front()).dump();
  EXPECT_EQ(s.intent, "card_dispute");
  EXPECT_EQ(s.confidence, 0.84);
  EXPECT_EQ(v.summary, "intent=card_dispute confidence=0.84");
}

TEST(Policy, SchemaViolationsNameTheFieldAndChangeNothing) {
  struct Row {
    const char* kind;
    std::function<json()> result;
    const char* field;
  };
  const Row rows[] = {
      {"classifier", [] { return json::array(); }, "result"},
      {"classifier", [] { auto j = classifier("card_dispute"); j["intent"] = "wire_fraud"; return j; }, "intent"},
      {"classifier", [] { auto j = classifier("card_dispute"); j["confidence"] = 1.5; return j; }, "confidence"},
      {"classifier", [] { auto j = classifier("card_dispute"); j["confidence"] = "high"; return j; }, "confidence"},
      {"classifier", [] { auto j = classifier("card_dispute"); j.erase("entities"); return j; }, "entities"},
      {"classifier", [] { auto j = classifier("card_dispute"); j["next"] = "escalation"; return j; }, "next"},
      {"classifier",
       [] {
         auto j = classifier("card_dispute");
         j["entities"]["card_last4"] = "4111111111111111";
         return j;
       },
       "entities.card_last4"},
      {"classifier",
       [] {
         auto j = classifier("payments");
         j["payment_decision"] = {{"action", "wire"}, {"reason", "x"}};
         return j;
       },
       "payment_decision.action"},
      {"classifier",
       [] {
         auto j = classifier("payments");
         j["payment_decision"] = {{"action", "refund"}, {"reason", "x"}};
         return j;
       },
       "payment_decision.amount_minor"},
      {"fraud_reviewer", [] { auto j = reviewer("high", 0.8); j["risk_level"] = "severe"; return j; }, "risk_level"},
      {"fraud_reviewer", [] { auto j = reviewer("high", 0.8); j["risk_score"] = -0.1; return j; }, "risk_score"},
      {"fraud_reviewer", [] { return reviewer("high", 0.8, json::array({{{"type", "refund"}}})); }, "actions[0].reason"},
      {"fraud_reviewer",
       [] { return reviewer("high", 0.8, json::array({{{"type", "refund"}, {"reason", ""}, {"amount_minor", 5}}})); },
       "actions[0].currency"},
      {"response_drafter", [] { return json{{"reply", 5}, {"template", "x"}, {"next_step", "x"}, {"model", "m"}}; }, "reply"},
      {"response_drafter", [] { return json{{"reply", "Hello"}, {"template", "x"}, {"model", "m"}}; }, "next_step"},
      {"escalation", [] { return json{{"reply", "We will look at it."}, {"model", "m"}}; }, "review"},
      // Untrusted names never come back verbatim, and agent-given names are identifiers.
      {"classifier", [] { auto j = classifier("fraud"); j["Jane Doe 4111 1111 1111 1111"] = 1; return j; }, "<unnamed>"},
      {"fraud_reviewer",
       [] {
         auto j = reviewer("high", 0.8);
         j["reasons"][0]["rule"] = "customer Jane Doe";
         return j;
       },
       "reasons[0].rule"},
  };
  const Policy policy(default_config());
  for (const auto& r : rows) {
    CaseState s;
    const auto v = policy.apply(r.kind, r.result(), support("hello"), s);
    ASSERT_EQ(v.violations.size(), 1u) << r.result().dump();
    EXPECT_EQ(v.violations[0].code, "schema");
    EXPECT_EQ(v.violations[0].agent, r.kind);
    EXPECT_EQ(v.violations[0].field, r.field) << v.violations[0].message;
    EXPECT_FALSE(s.intent);
    EXPECT_FALSE(s.risk_level);
    EXPECT_FALSE(s.reply);
  }
}

TEST(Policy, ActionsFollowTheAllowlistAndTheLimits) {
  struct Row {
    const char* intent;
    json actions;
    const char* message;
    const char* violation;  // "" when none
    std::size_t approved, pending;
  };
  const Row rows[] = {
      // Protective, reversible, auto-approved by default.
      {"fraud", json::array({action("temporary_card_freeze")}), "I don't recognize this", "", 1, 0},
      // Not allowed for the intent.
      {"balance_and_fees", json::array({action("temporary_card_freeze")}), "fee?", "action_not_allowed", 0, 0},
      {"fraud", json::array({action("launch_rocket")}), "x", "unknown_action", 0, 0},
      // Money moves only for an amount the case states, and never automatically by default.
      {"card_dispute", json::array({action("refund", 4250)}), "Refund $42.50 please", "", 0, 1},
      {"card_dispute", json::array({action("refund", 425000)}), "Refund $42.50 please", "amount_mismatch", 0, 0},
      {"card_dispute", json::array({action("refund", 4250, "EUR")}), "Refund $42.50 please", "currency_mismatch", 0, 0},
      {"card_dispute", json::array({action("refund")}), "Refund $42.50 please", "missing_amount", 0, 0},
      {"fraud", json::array({action("monitor", 100)}), "x", "unexpected_amount", 0, 0},
      // Needs a person although it moves no money.
      {"fraud", json::array({action("card_replacement")}), "x", "", 0, 1},
  };
  const Policy policy(default_config());
  for (const auto& r : rows) {
    CaseState s;
    ASSERT_TRUE(policy.apply("classifier", classifier(r.intent), support(r.message), s).ok());
    const auto v = policy.apply("fraud_reviewer", reviewer("high", 0.7, r.actions), support(r.message), s);
    if (*r.violation) {
      ASSERT_FALSE(v.ok()) << r.actions.dump();
      EXPECT_EQ(v.violations[0].code, r.violation) << r.actions.dump();
      EXPECT_FALSE(s.risk_level) << "a refused result must not be applied";
    } else {
      ASSERT_TRUE(v.ok()) << to_json(v.violations[0]).dump();
      EXPECT_EQ(s.risk_level, "high");
    }
    EXPECT_EQ(s.approved.size(), r.approved) << r.actions.dump();
    EXPECT_EQ(s.pending.size(), r.pending) << r.actions.dump();
  }
}

cases::Payload with_transaction(std::int64_t minor, const char* currency = "USD") {
  auto p = support("Please refund the duplicate charge.");
  p.transaction = cases::Transaction{};
  p.transaction->amount = {minor, currency};
  return p;
}

TEST(Policy, AutoApproveLimitsAreInclusiveAndPerCurrency) {
  auto config = default_config();
  config.auto_approve_limits["USD"] = 5000;
  const Policy policy(config);
  for (auto [minor, approved] : {std::pair{5000, true}, std::pair{5001, false}}) {
    CaseState s;
    const auto p = with_transaction(minor);
    ASSERT_TRUE(policy.apply("classifier", classifier("card_dispute"), p, s).ok());
    ASSERT_TRUE(policy.apply("fraud_reviewer", reviewer("low", 0.1, json::array({action("refund", minor)})), p, s).ok());
    EXPECT_EQ(s.approved.size(), approved ? 1u : 0u) << minor;
    EXPECT_EQ(s.pending.size(), approved ? 0u : 1u) << minor;
  }
  // Within the limit, but stated only in the customer's own words: a person decides.
  CaseState typed;
  ASSERT_TRUE(policy.apply("classifier", classifier("balance_and_fees"), support("Please refund the $25.00 fee"), typed).ok());
  ASSERT_TRUE(policy.apply("fraud_reviewer", reviewer("low", 0.1, json::array({action("refund", 2500)})),
                           support("Please refund the $25.00 fee"), typed)
                  .ok());
  EXPECT_TRUE(typed.approved.empty());
  EXPECT_EQ(typed.pending.size(), 1u);
  // A limit in another currency approves nothing in this one.
  config.auto_approve_limits = {{"EUR", 100000}};
  const Policy eur(config);
  CaseState s;
  ASSERT_TRUE(eur.apply("classifier", classifier("card_dispute"), with_transaction(100), s).ok());
  ASSERT_TRUE(eur.apply("fraud_reviewer", reviewer("low", 0.1, json::array({action("refund", 100)})), with_transaction(100), s).ok());
  EXPECT_TRUE(s.approved.empty());
}

TEST(Policy, SeedRefundDecisionIsPendingForAPerson) {
  const Policy policy(default_config());
  const auto p = support("Refund $42.50 USD for invoice INV-1042 because duplicate charge was detected.");
  auto c = classifier("payments");
  c["payment_decision"] = {{"action", "refund"}, {"reason", "duplicate_charge"}, {"amount_minor", 4250}, {"currency", "USD"}};
  CaseState s;
  const auto v = policy.apply("classifier", c, p, s);
  ASSERT_TRUE(v.ok()) << to_json(v.violations[0]).dump();
  EXPECT_EQ(v.summary, "intent=payments confidence=0.9 payment_decision=refund actions=refund");
  ASSERT_EQ(s.pending.size(), 1u);
  EXPECT_EQ(s.pending[0].type, "refund");
  EXPECT_EQ(s.pending[0].amount, (money::Money{4250, "USD"}));
  EXPECT_EQ(s.payment_decision, "refund");
  // The reviewer proposing the same refund again does not make two.
  ASSERT_TRUE(policy.apply("fraud_reviewer", reviewer("low", 0.1, json::array({action("refund", 4250)})), p, s).ok());
  EXPECT_EQ(s.pending.size(), 1u);
  // The escalation review must list exactly what is pending.
  json review{{"queue", "payments-ops"},
              {"priority", "high"},
              {"summary", "refund request"},
              {"evidence", json::array()},
              {"actions_awaiting_approval", json::array()},
              {"sla_deadline", "2026-11-21T10:00:00.000Z"}};
  json esc{{"review", review}, {"reply", "A specialist will review your request."}, {"model", "m"}};
  auto v2 = policy.apply("escalation", esc, p, s);
  ASSERT_FALSE(v2.ok());
  EXPECT_EQ(v2.violations[0].code, "review_mismatch");
  esc["review"]["actions_awaiting_approval"] = json::array({to_json(s.pending[0])});
  v2 = policy.apply("escalation", esc, p, s);
  ASSERT_TRUE(v2.ok()) << to_json(v2.violations[0]).dump();
  EXPECT_EQ(s.reply, "A specialist will review your request.");
  EXPECT_EQ(s.review.at("queue"), "payments-ops");
}

TEST(Policy, ReplyRules) {
  const Policy policy(default_config());
  auto p = support("x");
  p.transaction = cases::Transaction{};
  p.transaction->card_last4 = "4417";
  struct Row {
    const char* reply;
    bool ok;
  };
  const Row rows[] = {
      {"We are looking into the 42.50 USD charge from 2026-11-20 and will contact you within 2 days.", true},
      {"Call the number on the back of your card if the charges continue.", true},
      // Six digits: could be an account number, so a phone number is refused too.
      {"Call us on 0800 12 if the charges continue.", false},
      {"We will refund you within 3 days.", false},
      {"You WILL BE REFUNDED.", false},
      {"We guarantee a positive outcome.", false},
      {"Your card 4111 1111 1111 1111 is frozen.", false},
      {"Your account 12-34-56-78 is safe.", false},
      {"Your card ending 4417 is frozen.", false},
      {"", false},
      {"We  WILL\n refund the fee.", false},                  // whitespace and case folded
      {"Card 4111\u00A01111\u20131111 1111.", false},          // no-break space and en dash inside the run
      {"Your reference is 12345.", true},                       // five digits
      {"Call 4417-12 now.", false},                             // the last four inside a run
      {"Line one\u0007", false},                               // a control character
      {"Card 4539-14-88-0343-64-67 is blocked.", false},        // digits dressed up as dates
      {"Card 4111.1111.1111.1111 is blocked.", false},          // dotted
      {"Amounts 42.50 USD and 1.250 KWD.", true},               // decimals are not joined
      {"Dated 2026-13-45.", false},                             // not a real date: eight digits
      {"Card \uFF14\uFF11\uFF11\uFF11\uFF11\uFF11 used.", false},  // fullwidth digits
      {"We'll refund it.", false},                              // contraction
      {"We will ref\u00ADund it.", false},                      // soft hyphen inside a phrase
      {"Hello \u202Eolleh", false},                            // bidirectional override
      {"Next\u0085line", false},                               // C1 control
  };
  for (const auto& r : rows) EXPECT_EQ(policy.reply_problems(r.reply, p).empty(), r.ok) << r.reply;
  CaseState s;
  const auto v = policy.apply("response_drafter",
                              json{{"reply", "We will refund you."}, {"template", "t"}, {"next_step", "n"}, {"model", "m"}}, p, s);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.violations[0].code, "unsafe_reply");
  EXPECT_FALSE(s.reply);
}

TEST(Policy, WithholdingMovesApprovalsToPending) {
  CaseState s;
  s.approved.push_back({"temporary_card_freeze", {}, "r", "fraud_reviewer"});
  s.withhold_approvals();
  EXPECT_TRUE(s.approved.empty());
  ASSERT_EQ(s.pending.size(), 1u);
  EXPECT_EQ(s.view().at("pending_actions"), 1);
  EXPECT_EQ(s.context().at("pending_actions")[0].at("type"), "temporary_card_freeze");
}

TEST(PolicyConfig, RoundTripsAndRejectsBadKeys) {
  Config c = default_config();
  Config parsed = default_config();
  from_json(to_json(c), parsed);
  EXPECT_EQ(parsed, c);
  struct Row {
    json j;
    const char* names;
  };
  const Row rows[] = {
      {{{"allowed", json::object()}}, "policy.allowed"},
      {{{"allowed_actions", {{"gambling", json::array()}}}}, "gambling"},
      {{{"allowed_actions", {{"fraud", {"teleport"}}}}}, "teleport"},
      {{{"actions", {{"refund", {{"money_moving", true}, {"auto_approve", true}}}}}}, "auto_approve_limits"},
      {{{"auto_approve_limits", {{"usd", 100}}}}, "usd"},
      {{{"auto_approve_limits", {{"USD", -1}}}}, "USD"},
      {{{"fallback_reply", "We guarantee a refund."}}, "fallback_reply"},
  };
  for (const auto& r : rows) {
    Config x = default_config();
    try {
      from_json(r.j, x);
      ADD_FAILURE() << "accepted " << r.j.dump();
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(r.names), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace common::policy
