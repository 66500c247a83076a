// casebus-response-drafter: a policy-safe customer reply from per-intent templates, or written by
// a language model within the same checks (docs/agents/response_drafter.md, docs/llm.md).
#include "model.hpp"

#include "common/agent/app.hpp"

int main(int argc, char** argv) {
  return common::agent::run_agent(argc, argv, "response_drafter",
                                  "drafts a customer reply from per-intent templates, within the case's policy",
                                  [](common::agent::AgentContext& ctx) { return agents::response_drafter::make_configured_handler(ctx); });
}
