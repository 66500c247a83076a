#pragma once
// The fraud reviewer agent: reads the case payload and the classifier's result from the task,
// reviews the case and answers the fraud_reviewer result (docs/agents/fraud_reviewer.md).
#include "reviewer.hpp"

#include "common/agent/runtime.hpp"

namespace agents::fraud_reviewer {

// The context members the reviewer uses: the classifier's intent, confidence and message amounts.
// Members that are absent or not of the contract's shape are left out (the reviewer then derives
// the intent from the case kind). Throws std::invalid_argument ("context: ...") for text that is
// not a JSON object.
ReviewContext read_context(std::string_view context_json, std::string case_id);

// Answers DONE with to_json(review), or FAIL (not retryable) naming the payload field at fault.
common::agent::Handler make_handler(std::shared_ptr<Reviewer> reviewer);

}  // namespace agents::fraud_reviewer
