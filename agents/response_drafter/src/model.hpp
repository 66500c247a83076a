#pragma once
// The response drafter with a language model behind it (docs/llm.md, docs/agents/response_drafter.md):
//   mode "embedded" (default): the templates alone, offline;
//   mode "llm": the template drafter works out the template, the next step and a policy-safe
//               reference reply; the model writes the reply from those facts and the customer's
//               (redacted) message. The model's reply passes draft_violations() (no promises, no
//               personal numbers, the next step word for word, ...) or gets one repair request
//               naming what was wrong; a second failure fails the hop (model_invalid_output),
//               and the workflow sends the case to escalation.
#include "agent.hpp"

#include "common/agent/app.hpp"
#include "common/llm/checked.hpp"

namespace agents::response_drafter {

using ModelSettings = common::llm::ModelMode;

// The drafter's settings: templates_dir (read_settings) plus mode, prompt_file, provider.
ModelSettings read_model_settings(const nlohmann::json& settings, const std::filesystem::path& config_dir);

// {"reply": a string}, nothing else; the reply itself is checked by draft_violations().
common::Result<std::string> check_answer(const nlohmann::json& answer);

common::agent::Handler make_configured_handler(common::agent::AgentContext& ctx);

}  // namespace agents::response_drafter
