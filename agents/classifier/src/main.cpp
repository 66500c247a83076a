// casebus-classifier: intent, confidence and entities of a customer's message (docs/agents.md).
#include "agent.hpp"

#include "common/agent/app.hpp"

int main(int argc, char** argv) {
  return common::agent::run_agent(argc, argv, "classifier", "classifies a customer's message: intent, confidence, entities",
                                  [](common::agent::AgentContext& ctx) {
                                    if (!ctx.agent_settings.empty()) throw std::invalid_argument("classifier takes no settings yet");
                                    return agents::classifier::make_handler(agents::classifier::make_embedded_classifier());
                                  });
}
