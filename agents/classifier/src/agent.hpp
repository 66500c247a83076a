#pragma once
// The classifier agent: reads payload.message, classifies it, answers the classification.
#include "classifier.hpp"

#include "common/agent/runtime.hpp"

namespace agents::classifier {

common::agent::Handler make_handler(std::shared_ptr<const Classifier> model);

}  // namespace agents::classifier
