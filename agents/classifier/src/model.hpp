#pragma once
// The classifier with a language model behind it (docs/llm.md, docs/agents/classifier.md):
//   mode "embedded" (default): the embedded model alone, offline;
//   mode "llm":     the language model classifies every support message;
//   mode "cascade": the embedded model first, the language model only when its confidence is
//                   under cascade_threshold.
// The model proposes an intent and a confidence; check_answer() accepts exactly that and nothing
// else, after at most one repair request; the entities and payment decision stay the embedded
// extractor's, and the broker's policy checks the result like any other. Only redacted text is
// sent. "model" in the result says which answered.
#include "classifier.hpp"

#include "common/agent/app.hpp"
#include "common/llm/client.hpp"

#include <filesystem>

namespace agents::classifier {

struct ModelSettings {
  std::string mode = "embedded";
  double cascade_threshold = 0.75;
  std::string prompt;          // the system prompt (prompt_file's text)
  std::string prompt_version;  // prompt_file's name, e.g. "classify.v1.txt"
  common::llm::ProviderSettings provider;
};

// The classifier's "settings": mode, cascade_threshold, prompt_file (relative to config_dir),
// provider (docs/llm.md). Strict; throws std::invalid_argument naming the key.
ModelSettings read_model_settings(const nlohmann::json& j, const std::filesystem::path& config_dir);

// {"intent": one of the intents, "confidence": a number in [0, 1]}, nothing else.
common::Result<std::pair<common::cases::Intent, double>> check_answer(const nlohmann::json& answer);

// The JSON schema the model is asked to follow.
nlohmann::json answer_schema();

// The handler for the configured mode.
common::agent::Handler make_configured_handler(common::agent::AgentContext& ctx);

}  // namespace agents::classifier
