#pragma once
// The escalation agent with a language model (docs/agents/escalation.md, docs/llm.md):
//   mode "embedded" (default): the rules build the review item, the lending pre-screen and the reply;
//   mode "llm": the same, and the model rewrites the review's summary for the reviewer (the lending
//               review of seed 002 for loan applications; agents/escalation/prompts/review.v1.txt).
//               Queue, priority, evidence, actions awaiting approval, the pre-screen and the reply
//               stay the rules'. The summary is checked (1..1000 bytes, no personal numbers), else one
//               repair request, then the hop fails model_invalid_output.
#include "agent.hpp"

#include "common/agent/app.hpp"

namespace agents::escalation {

common::agent::Handler make_configured_handler(common::agent::AgentContext& ctx);

}  // namespace agents::escalation
