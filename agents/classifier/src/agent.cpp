#include "agent.hpp"

#include <nlohmann/json.hpp>

namespace agents::classifier {

common::agent::Handler make_handler(std::shared_ptr<const Classifier> model) {
  return [model](common::agent::Task task, common::agent::Responder responder) {
    auto payload = common::cases::parse_payload(task.envelope.payload);
    if (!payload) {
      responder.fail(std::string(common::to_string(payload.error().code)), payload.error().field + ": " + payload.error().message,
                     false);
      return;
    }
    responder.done(to_json(classify_case(*model, *payload)));
  };
}

}  // namespace agents::classifier
