// casebus-fraud-reviewer: a case's fraud risk from explainable rules, optionally with a language
// model's evidence summary (docs/agents/fraud_reviewer.md, docs/llm.md).
#include "model.hpp"

#include "common/agent/app.hpp"

int main(int argc, char** argv) {
  return common::agent::run_agent(argc, argv, "fraud_reviewer", "scores a case's fraud risk with explainable rules and proposes card actions",
                                  [](common::agent::AgentContext& ctx) { return agents::fraud_reviewer::make_configured_handler(ctx); });
}
