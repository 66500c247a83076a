// casebus-echo: the echo agent kind, for tests and benchmarks (docs/agents.md).
#include "echo.hpp"

#include "common/agent/app.hpp"

int main(int argc, char** argv) {
  return common::agent::run_agent(argc, argv, "echo", "echo agent for tests and benchmarks",
                                  [](common::agent::AgentContext& ctx) {
                                    if (!ctx.agent_settings.empty()) throw std::invalid_argument("echo takes no settings");
                                    return agents::echo::make_handler(ctx.io, ctx.settings.worker);
                                  });
}
