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
#include "common/llm/checked.hpp"

#include <filesystem>

namespace agents::classifier {

// mode, prompt, prompt_version, provider (common/llm/checked.hpp), and the cascade's threshold.
struct ModelSettings : common::llm::ModelMode {
  double cascade_threshold = 0.75;
};

// The classifier's "settings": mode, cascade_threshold, prompt_file (relative to config_dir),
// provider (docs/llm.md). Strict; throws std::invalid_argument naming the key.
ModelSettings read_model_settings(const nlohmann::json& j, const std::filesystem::path& config_dir);

struct ModelAnswer {
  common::cases::Intent intent = common::cases::Intent::kGeneralSupport;
  double confidence = 0;
  std::optional<PaymentDecision> payment_decision;  // seed 003; only with the payments intent
};

// {"intent": one of the intents, "confidence": a number in [0, 1]} and, with the payments intent
// only, "payment_decision": {"action": authorize|refund|retry|escalate, "reason": snake_case,
// "amount_minor": integer >= 0, "currency": 3 capital letters} (no amount only with escalate).
// Nothing else. The broker's policy still decides whether any money moves.
common::Result<ModelAnswer> check_answer(const nlohmann::json& answer);

// The JSON schema the model is asked to follow.
nlohmann::json answer_schema();

// The handler for the configured mode.
common::agent::Handler make_configured_handler(common::agent::AgentContext& ctx);

}  // namespace agents::classifier
