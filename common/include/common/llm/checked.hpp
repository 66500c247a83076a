#pragma once
// What every agent with a language model does the same way: its model settings (mode,
// prompt_file, provider), and one *checked* answer: ask, check the answer with the agent's own
// rules, ask once more naming what was wrong, then give up. The agent decides what a refused or
// unavailable answer means for its task. What the answer cost comes back for DONE_META.
#include "common/agent/runtime.hpp"
#include "common/llm/client.hpp"

#include <spdlog/logger.h>

#include <filesystem>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

namespace common::llm {

struct ModelMode {
  std::string mode;            // the first of the allowed modes unless set
  std::string prompt;          // prompt_file's text (modes other than the first)
  std::string prompt_version;  // prompt_file's name, e.g. "classify.v1.txt"
  ProviderSettings provider;
};

// Reads settings.mode (one of `modes`; the first, "embedded", needs nothing else), and for the
// other modes settings.prompt_file (relative to config_dir) and settings.provider. Other keys are
// the caller's. Throws std::invalid_argument naming the key.
ModelMode read_model_mode(const nlohmann::json& settings, const std::filesystem::path& config_dir,
                          std::initializer_list<std::string_view> modes);

struct Checked {
  std::optional<Completion> completion;  // the accepted answer
  std::optional<CallError> unavailable;  // the provider gave no answer (after its retries)
  std::string refused;                   // why the last answer was refused (twice)
  int calls = 0;                         // HTTP attempts, the repair request's included
  Usage usage;                           // summed over the answers
  std::chrono::milliseconds ms{0};
  // {"model","model_calls","input_tokens","output_tokens","model_ms"} for DONE_META.
  std::string meta_json(const std::string& model) const;
};

// check: "" when the answer is acceptable, else why not (one line, no customer text).
using AnswerCheck = std::function<std::string(const Completion&)>;

// For text a model writes for people (summaries): "" when it is 1..max_bytes with no personal
// number in it (common/redact finds none), no run of 6 or more digits (spaces and dashes between
// them ignored) and no control character but a newline; else why not, naming `field`.
std::string free_text_problem(std::string_view text, std::size_t max_bytes, std::string_view field);

void ask_checked(Provider& provider, CompletionRequest request, MonoTime deadline, AnswerCheck check,
                 std::function<void(Checked)> done);

// When a model call for a task must end: the task's deadline (wall ms) less 100 ms to answer it.
MonoTime call_deadline(WallMs task_deadline);

// Every agent ends a checked answer that did not come the same way: the provider failed (logged at
// warn; "model_unavailable", retryable when the provider's error was) or the answer was refused
// twice ("model_invalid_output", not retryable: the workflow sends the case to escalation).
// Returns true when it failed the task; false, answering nothing, when there is an accepted answer.
bool fail_without_answer(const Checked& r, agent::Responder& responder, spdlog::logger& log, std::string_view agent,
                         std::string_view case_id);

}  // namespace common::llm
