#include "model.hpp"

#include "common/llm/checked.hpp"
#include "common/redact/redact.hpp"
#include "common/util/json.hpp"
#include "common/util/log.hpp"


namespace agents::response_drafter {

using nlohmann::json;
namespace llm = common::llm;
using common::Errc;
using common::make_error;

namespace {

json without(const json& j, std::initializer_list<const char*> keys) {
  json out = j;
  for (const char* k : keys) out.erase(k);
  return out;
}

}  // namespace

ModelSettings read_model_settings(const json& settings, const std::filesystem::path& config_dir) {
  return llm::read_model_mode(settings, config_dir, {"embedded", "llm"});
}

common::Result<std::string> check_answer(const json& a) {
  if (!a.is_object()) return make_error(Errc::kInvalidResult, "result", "must be a JSON object");
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (it.key() != "reply") return make_error(Errc::kInvalidResult, "result", "unknown field");
  }
  const auto reply = a.find("reply");
  if (reply == a.end() || !reply->is_string()) return make_error(Errc::kInvalidResult, "result.reply", "missing, or not a string");
  return reply->get<std::string>();
}

namespace {

class ModelHandler final : public std::enable_shared_from_this<ModelHandler> {
 public:
  ModelHandler(boost::asio::io_context& io, std::shared_ptr<const Drafter> drafter, ModelSettings s)
      : drafter_(std::move(drafter)), settings_(std::move(s)), provider_(io, settings_.provider),
        log_(common::log::get("agent.response_drafter")) {}

  void handle(common::agent::Task task, common::agent::Responder responder) {
    auto input = read_input(task.envelope.payload, task.envelope.context);
    if (!input) {
      responder.fail("invalid_field", input.error().field + ": " + input.error().message, false);
      return;
    }
    auto reference = std::make_shared<Draft>(drafter_->draft(*input));
    if (reference->violations.empty()) reference->violations = draft_violations(*reference, *input);
    if (!reference->violations.empty()) {
      responder.fail("unsafe_reply", "template " + reference->template_name + ": " + reference->violations.front(), false);
      return;
    }
    json facts{{"intent", std::string(common::cases::to_string(input->intent))},
               {"risk_level", input->risk_level ? json(std::string(to_string(*input->risk_level))) : json(nullptr)},
               {"next_step", reference->next_step},
               {"reference_reply", reference->reply},
               // Redacted again here: whatever reached this agent, a model only ever sees placeholders.
               {"customer_message", common::redact::redact_text(input->payload.message)}};
    json approved = json::array(), pending = json::array();
    if (input->policy) {
      for (auto a : input->policy->approved) approved.push_back(std::string(to_string(a)));
      for (auto a : input->policy->pending) pending.push_back(std::string(to_string(a)));
    }
    facts["approved_actions"] = approved;
    facts["actions_awaiting_a_person"] = pending;
    llm::CompletionRequest request;
    request.system = settings_.prompt;
    request.user = facts.dump(2, ' ', false, json::error_handler_t::replace);
    request.schema = {{"type", "object"},
                      {"properties", {{"reply", {{"type", "string"}, {"maxLength", kMaxReplyBytes}}}}},
                      {"required", {"reply"}},
                      {"additionalProperties", false}};
    request.max_tokens = 1024;
    auto checked_input = std::make_shared<DraftInput>(std::move(*input));
    // The model's reply goes through the same gate as a template's.
    const auto check = [reference, checked_input](const llm::Completion& c) -> std::string {
      auto object = llm::answer_object(c);
      if (!object) return object.error().field + ": " + object.error().message;
      auto reply = check_answer(*object);
      if (!reply) return reply.error().field + ": " + reply.error().message;
      Draft d = *reference;
      d.reply = std::move(*reply);
      std::string why;
      for (const auto& v : draft_violations(d, *checked_input)) why += (why.empty() ? "" : "; ") + v;
      return why;
    };
    auto shared_responder = std::make_shared<common::agent::Responder>(std::move(responder));
    llm::ask_checked(provider_, std::move(request), llm::call_deadline(task.envelope.deadline), check,
                     [self = shared_from_this(), reference, shared_responder, case_id = task.envelope.case_id](llm::Checked r) {
                       self->answered(*reference, *shared_responder, r, case_id);
                     });
  }

 private:
  void answered(Draft d, common::agent::Responder& responder, const llm::Checked& r, const std::string& case_id) {
    if (llm::fail_without_answer(r, responder, *log_, "response_drafter", case_id)) return;
    d.reply = *check_answer(*llm::answer_object(*r.completion));
    d.model = "llm:" + settings_.provider.model + "/" + settings_.prompt_version;
    responder.done(to_json(d), r.meta_json(settings_.provider.model));
  }

  std::shared_ptr<const Drafter> drafter_;
  ModelSettings settings_;
  llm::Provider provider_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace

common::agent::Handler make_configured_handler(common::agent::AgentContext& ctx) {
  const json& all = ctx.agent_settings;
  const auto settings = read_settings(all.is_object() ? without(all, {"mode", "prompt_file", "provider"}) : all, ctx.config_dir);
  auto model = read_model_settings(all, ctx.config_dir);
  std::shared_ptr<const Drafter> drafter = make_template_drafter(settings.templates_dir);
  if (model.mode == "embedded") return make_handler(drafter);
  common::log::get("agent.response_drafter")
      ->info("language model mode=llm provider={} model={} prompt={}", model.provider.provider, model.provider.model, model.prompt_version);
  auto handler = std::make_shared<ModelHandler>(ctx.io, std::move(drafter), std::move(model));
  return [handler](common::agent::Task task, common::agent::Responder responder) { handler->handle(std::move(task), std::move(responder)); };
}

}  // namespace agents::response_drafter
