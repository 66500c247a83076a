#pragma once
// The escalation agent: parses the task's payload and context, asks the Escalator for the review
// item and the holding reply, checks the reply, answers the result (docs/agents/escalation.md).
#include "escalation.hpp"

#include "common/agent/runtime.hpp"
#include "common/bus/envelope.hpp"
#include "common/util/error.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace agents::escalation {

// Reads the task context (docs/workflow.md): members other agents or later issues add are ignored
// and absent ones tolerated (null counts as absent); a member of the wrong type or with an unknown
// enum value is a kInvalidField error naming it, as "context.policy.pending_actions[0].type".
// Text that is not a JSON object is an error with field "context".
common::Result<Context> parse_context(std::string_view text);

// One task's answer. A failure is never retryable: the same task gets the same answer.
struct Answer {
  std::string result;         // the DONE JSON, when code is empty
  std::string code, message;  // the FAIL: invalid_field or unsafe_reply
  bool ok() const { return code.empty(); }
};

// Pure and synchronous (the Handler below is a thin wrapper); safe to call from any thread as
// long as the Escalator is.
Answer answer_task(const Escalator& model, const common::bus::Envelope& task);

common::agent::Handler make_handler(std::shared_ptr<const Escalator> model);

}  // namespace agents::escalation
