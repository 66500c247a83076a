// casebus-fraud-reviewer: a case's fraud risk from explainable rules (docs/agents/fraud_reviewer.md).
#include "agent.hpp"

#include "common/agent/app.hpp"
#include "common/util/log.hpp"

int main(int argc, char** argv) {
  using namespace agents::fraud_reviewer;
  return common::agent::run_agent(
      argc, argv, "fraud_reviewer", "scores a case's fraud risk with explainable rules and proposes card actions",
      [](common::agent::AgentContext& ctx) {
        const Rules rules = parse_rules(ctx.agent_settings);  // an empty settings object gives default_rules()
        common::log::get("agent.fraud_reviewer")
            ->info("rules loaded medium={} high={} phrases={} currencies={} repeat_window_s={} repeat_max_customers={}",
                   rules.levels.medium, rules.levels.high, rules.unrecognised_merchant.phrases.size(),
                   rules.amount_threshold.by_currency.size(), rules.repeat_customer.window_s,
                   rules.repeat_customer.max_customers);
        return make_handler(make_rule_reviewer(rules));
      });
}
