#include "model.hpp"

#include "common/llm/checked.hpp"
#include "common/util/log.hpp"

namespace agents::escalation {

using nlohmann::json;
namespace llm = common::llm;

namespace {

class ModelHandler final : public std::enable_shared_from_this<ModelHandler> {
 public:
  ModelHandler(boost::asio::io_context& io, std::shared_ptr<const Escalator> escalator, llm::ModelMode m)
      : escalator_(std::move(escalator)), mode_(std::move(m)), provider_(io, mode_.provider), log_(common::log::get("agent.escalation")) {}

  void handle(common::agent::Task task, common::agent::Responder responder) {
    Answer answer = answer_task(*escalator_, task.envelope);
    if (!answer.ok()) {
      responder.fail(std::move(answer.code), std::move(answer.message), false);
      return;
    }
    auto result = std::make_shared<json>(json::parse(answer.result));
    const auto& review = result->at("review");
    json facts{{"queue", review.at("queue")},
               {"priority", review.at("priority")},
               {"current_summary", review.at("summary")},
               {"evidence", review.at("evidence")},
               {"actions_awaiting_approval", review.at("actions_awaiting_approval")}};
    if (review.contains("underwriting")) facts["lending_prescreen"] = review.at("underwriting");
    llm::CompletionRequest request;
    request.system = mode_.prompt;
    request.user = facts.dump(2, ' ', false, json::error_handler_t::replace);
    request.schema = {{"type", "object"},
                      {"properties", {{"summary", {{"type", "string"}, {"maxLength", 1000}}}}},
                      {"required", {"summary"}},
                      {"additionalProperties", false}};
    request.max_tokens = 600;
    const auto check = [](const llm::Completion& c) -> std::string {
      auto object = llm::answer_object(c);
      if (!object) return object.error().field + ": " + object.error().message;
      if (object->size() != 1 || !object->contains("summary") || !object->at("summary").is_string()) {
        return "result: must be exactly {\"summary\": a string}";
      }
      return llm::free_text_problem(object->at("summary").get_ref<const std::string&>(), 1000, "result.summary");
    };
    auto shared_responder = std::make_shared<common::agent::Responder>(std::move(responder));
    llm::ask_checked(provider_, std::move(request), llm::call_deadline(task.envelope.deadline), check,
                     [self = shared_from_this(), result, shared_responder, case_id = task.envelope.case_id](llm::Checked r) {
                       self->answered(*result, *shared_responder, r, case_id);
                     });
  }

 private:
  void answered(json result, common::agent::Responder& responder, const llm::Checked& r, const std::string& case_id) {
    if (llm::fail_without_answer(r, responder, *log_, "escalation", case_id)) return;
    result["review"]["summary"] = llm::answer_object(*r.completion)->at("summary");
    result["model"] = result.at("model").get<std::string>() + "+llm:" + mode_.provider.model + "/" + mode_.prompt_version;
    responder.done(result.dump(-1, ' ', false, json::error_handler_t::replace), r.meta_json(mode_.provider.model));
  }

  std::shared_ptr<const Escalator> escalator_;
  llm::ModelMode mode_;
  llm::Provider provider_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace

common::agent::Handler make_configured_handler(common::agent::AgentContext& ctx) {
  json own = ctx.agent_settings;
  if (own.is_object()) {
    for (const char* k : {"mode", "prompt_file", "provider"}) own.erase(k);
  }
  auto settings = parse_settings(own, ctx.config_dir);
  auto mode = llm::read_model_mode(ctx.agent_settings, ctx.config_dir, {"embedded", "llm"});
  std::shared_ptr<const Escalator> escalator = make_embedded_escalator(std::move(settings));
  if (mode.mode == "embedded") return make_handler(escalator);
  common::log::get("agent.escalation")
      ->info("language model mode=llm provider={} model={} prompt={}", mode.provider.provider, mode.provider.model, mode.prompt_version);
  auto handler = std::make_shared<ModelHandler>(ctx.io, std::move(escalator), std::move(mode));
  return [handler](common::agent::Task task, common::agent::Responder responder) { handler->handle(std::move(task), std::move(responder)); };
}

}  // namespace agents::escalation
