#pragma once
// The response drafter agent: reads the case payload and the context of earlier hops (classifier,
// fraud_reviewer, the broker's policy), drafts the customer reply and answers it, or fails the
// task (not retryable) with "invalid_field" for bad input and "unsafe_reply" for a reply that
// breaks the safety rules.
#include "drafter.hpp"

#include "common/agent/runtime.hpp"
#include "common/util/error.hpp"

#include <filesystem>
#include <memory>
#include <string_view>

namespace agents::response_drafter {

struct DrafterSettings {
  std::filesystem::path templates_dir;  // absolute, or relative to the working directory
};

// The config's "settings" object: {"templates_dir": path}, required; a relative path resolves
// against config_dir (common::agent::AgentContext::config_dir). Throws std::invalid_argument with
// one line on a missing or bad templates_dir or an unknown key.
DrafterSettings read_settings(const nlohmann::json& settings, const std::filesystem::path& config_dir);

// A task's payload and context as the drafter's input. Absent context members are fine; malformed
// ones are kInvalidField errors naming the field ("payload.kind", "context.classifier.intent").
// The intent is context.policy.intent, else context.classifier.intent, else the case kind's; the
// risk level is context.policy.risk_level, else context.fraud_reviewer.risk_level.
common::Result<DraftInput> read_input(std::string_view payload, std::string_view context);

common::agent::Handler make_handler(std::shared_ptr<const Drafter> drafter);

}  // namespace agents::response_drafter
