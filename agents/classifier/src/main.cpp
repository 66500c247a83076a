// casebus-classifier: intent, confidence and entities of a customer's message (docs/agents.md):
// the embedded model by default, or a language model (settings.mode llm / cascade, docs/llm.md).
#include "model.hpp"

#include "common/agent/app.hpp"

int main(int argc, char** argv) {
  return common::agent::run_agent(argc, argv, "classifier", "classifies a customer's message: intent, confidence, entities",
                                  [](common::agent::AgentContext& ctx) { return agents::classifier::make_configured_handler(ctx); });
}
