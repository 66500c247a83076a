// casebus-response-drafter: a policy-safe customer reply from per-intent templates
// (docs/agents/response_drafter.md).
#include "agent.hpp"

#include "common/agent/app.hpp"

int main(int argc, char** argv) {
  namespace rd = agents::response_drafter;
  return common::agent::run_agent(argc, argv, "response_drafter",
                                  "drafts a customer reply from per-intent templates, within the case's policy",
                                  [](common::agent::AgentContext& ctx) {
                                    const auto settings = rd::read_settings(ctx.agent_settings, ctx.config_dir);
                                    return rd::make_handler(rd::make_template_drafter(settings.templates_dir));
                                  });
}
