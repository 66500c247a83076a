// casebus-escalation: turns a case into a review item for people and answers a holding reply
// (docs/agents/escalation.md).
#include "agent.hpp"

#include "common/agent/app.hpp"

int main(int argc, char** argv) {
  return common::agent::run_agent(
      argc, argv, "escalation", "hands a case to people: review queue, priority, evidence, SLA and a holding reply",
      [](common::agent::AgentContext& ctx) {
        auto settings = agents::escalation::parse_settings(ctx.agent_settings, ctx.config_dir);
        return agents::escalation::make_handler(agents::escalation::make_embedded_escalator(std::move(settings)));
      });
}
