#include "agent.hpp"

#include <nlohmann/json.hpp>

namespace agents::classifier {

common::agent::Handler make_handler(std::shared_ptr<const Classifier> model) {
  return [model](common::agent::Task task, common::agent::Responder responder) {
    std::string message;
    try {
      const auto payload = nlohmann::json::parse(task.envelope.payload);
      const auto it = payload.find("message");
      if (it == payload.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
        responder.fail("invalid_field", "payload.message: a non-empty string is required", false);
        return;
      }
      message = it->get<std::string>();
    } catch (const nlohmann::json::exception& e) {
      responder.fail("malformed", std::string("payload: ") + e.what(), false);
      return;
    }
    responder.done(to_json(model->classify(message)));
  };
}

}  // namespace agents::classifier
