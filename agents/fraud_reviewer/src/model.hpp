#pragma once
// The fraud reviewer with a language model (docs/agents/fraud_reviewer.md, docs/llm.md):
//   mode "embedded" (default): the explainable rules alone;
//   mode "llm": the rules still decide the score, the level and the actions; the model writes an
//               evidence summary for the analyst (agents/fraud_reviewer/prompts/evidence.v1.txt),
//               added as the reason "model_summary" with contribution 0, so it can never move the
//               risk. The summary must be 1..300 bytes with no personal number in it (checked with
//               common/redact and a digit-run rule), else one repair request, then the hop fails
//               model_invalid_output (the workflow sends the case to escalation).
#include "agent.hpp"

#include "common/agent/app.hpp"

namespace agents::fraud_reviewer {

// "" when the summary is acceptable, else why not.
std::string summary_problem(const nlohmann::json& answer);

common::agent::Handler make_configured_handler(common::agent::AgentContext& ctx);

}  // namespace agents::fraud_reviewer
