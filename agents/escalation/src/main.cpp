// casebus-escalation: turns a case into a review item for people and answers a holding reply;
// optionally a language model writes the reviewer's summary (docs/agents/escalation.md, docs/llm.md).
#include "model.hpp"

#include "common/agent/app.hpp"

int main(int argc, char** argv) {
  return common::agent::run_agent(argc, argv, "escalation", "hands a case to people: review queue, priority, evidence, SLA and a holding reply",
                                  [](common::agent::AgentContext& ctx) { return agents::escalation::make_configured_handler(ctx); });
}
