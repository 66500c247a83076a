#include "model.hpp"

#include "agent.hpp"

#include "common/llm/checked.hpp"
#include "common/redact/redact.hpp"
#include "common/util/json.hpp"
#include "common/util/log.hpp"


namespace agents::classifier {

using nlohmann::json;
namespace llm = common::llm;
using common::Errc;
using common::make_error;

ModelSettings read_model_settings(const json& j, const std::filesystem::path& config_dir) {
  ModelSettings s;
  if (j.is_object()) common::json::reject_unknown_keys(j, {"mode", "cascade_threshold", "prompt_file", "provider"});
  if (auto it = j.is_object() ? j.find("cascade_threshold") : j.end(); j.is_object() && it != j.end()) {
    if (!it->is_number() || it->get<double>() < 0 || it->get<double>() > 1) {
      throw std::invalid_argument("settings.cascade_threshold must be a number between 0 and 1");
    }
    s.cascade_threshold = it->get<double>();
  }
  auto m = llm::read_model_mode(j, config_dir, {"embedded", "llm", "cascade"});
  s.mode = std::move(m.mode);
  s.prompt = std::move(m.prompt);
  s.prompt_version = std::move(m.prompt_version);
  s.provider = std::move(m.provider);
  return s;
}

json answer_schema() {
  json intents = json::array();
  for (const auto name : common::cases::kIntentNames) intents.push_back(std::string(name));
  return json{{"type", "object"},
              {"properties", {{"intent", {{"type", "string"}, {"enum", intents}}}, {"confidence", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}}}},
              {"required", {"intent", "confidence"}},
              {"additionalProperties", false}};
}

common::Result<std::pair<common::cases::Intent, double>> check_answer(const json& a) {
  if (!a.is_object()) return make_error(Errc::kInvalidResult, "result", "must be a JSON object");
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (it.key() != "intent" && it.key() != "confidence") return make_error(Errc::kInvalidResult, "result", "unknown field");
  }
  const auto intent = a.find("intent");
  if (intent == a.end() || !intent->is_string()) return make_error(Errc::kInvalidResult, "result.intent", "missing, or not a string");
  const auto parsed = common::cases::parse_intent(intent->get_ref<const std::string&>());
  if (!parsed) return make_error(Errc::kInvalidResult, "result.intent", "not one of the intents");
  const auto confidence = a.find("confidence");
  if (confidence == a.end() || !confidence->is_number()) return make_error(Errc::kInvalidResult, "result.confidence", "missing, or not a number");
  const double c = confidence->get<double>();
  if (!(c >= 0 && c <= 1)) return make_error(Errc::kInvalidResult, "result.confidence", "must be between 0 and 1");
  return std::pair{*parsed, c};
}

namespace {

class ModelHandler final : public std::enable_shared_from_this<ModelHandler> {
 public:
  ModelHandler(boost::asio::io_context& io, std::shared_ptr<const Classifier> embedded, ModelSettings s)
      : embedded_(std::move(embedded)), settings_(std::move(s)), provider_(io, settings_.provider), log_(common::log::get("agent.classifier")) {}

  void handle(common::agent::Task task, common::agent::Responder responder) {
    auto payload = common::cases::parse_payload(task.envelope.payload);
    if (!payload) {
      responder.fail(std::string(common::to_string(payload.error().code)), payload.error().field + ": " + payload.error().message, false);
      return;
    }
    Classification base = classify_case(*embedded_, *payload);
    const bool support = payload->kind == common::cases::Kind::kSupportMessage && !payload->message.empty();
    if (!support || (settings_.mode == "cascade" && base.confidence >= settings_.cascade_threshold)) {
      responder.done(to_json(base));
      return;
    }
    llm::CompletionRequest request;
    request.system = settings_.prompt;
    // Redacted again here: whatever reached this agent, a model only ever sees placeholders.
    request.user = common::redact::redact_text(payload->message);
    request.schema = answer_schema();
    request.max_tokens = 256;
    const auto now = common::Now::current();
    const auto left = std::chrono::milliseconds(task.envelope.deadline - now.wall) - std::chrono::milliseconds(100);
    auto shared_responder = std::make_shared<common::agent::Responder>(std::move(responder));
    const auto check = [](const llm::Completion& c) {
      auto object = llm::answer_object(c);
      if (!object) return object.error().field + ": " + object.error().message;
      auto checked = check_answer(*object);
      return checked ? std::string() : checked.error().field + ": " + checked.error().message;
    };
    llm::ask_checked(provider_, std::move(request), now.mono + std::max(left, std::chrono::milliseconds(0)), check,
                     [self = shared_from_this(), base = std::move(base), shared_responder, case_id = task.envelope.case_id,
                      task_id = task.envelope.id](llm::Checked r) mutable {
                       self->answered(std::move(base), *shared_responder, r, case_id, task_id);
                     });
  }

 private:
  void answered(Classification c, common::agent::Responder& responder, const llm::Checked& r, const std::string& case_id,
                const std::string& task_id) {
    if (r.unavailable) {
      log_->warn("model call failed case_id={} task_id={} agent=classifier calls={} status={} err={}", case_id, task_id, r.calls,
                 r.unavailable->http_status, r.unavailable->error.field);
      if (settings_.mode == "cascade") {
        responder.done(to_json(c));  // the embedded answer stands (its low confidence sends the case to a person)
      } else {
        responder.fail("model_unavailable", r.unavailable->error.describe(), r.unavailable->retryable);
      }
      return;
    }
    if (!r.completion) {
      responder.fail("model_invalid_output", "the language model's answer was refused twice: " + r.refused, false);
      return;
    }
    const auto checked = check_answer(*llm::answer_object(*r.completion));
    if (c.intent != checked->first) c.payment_decision.reset();  // it was derived for another intent
    c.intent = checked->first;
    c.confidence = checked->second;
    c.model = "llm:" + settings_.provider.model + "/" + settings_.prompt_version;
    log_->debug("model answered case_id={} task_id={} agent=classifier calls={} ms={}", case_id, task_id, r.calls, r.ms.count());
    responder.done(to_json(c), r.meta_json(settings_.provider.model));
  }

  std::shared_ptr<const Classifier> embedded_;
  ModelSettings settings_;
  llm::Provider provider_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace

common::agent::Handler make_configured_handler(common::agent::AgentContext& ctx) {
  auto settings = read_model_settings(ctx.agent_settings.is_null() ? json::object() : ctx.agent_settings, ctx.config_dir);
  std::shared_ptr<const Classifier> embedded = make_embedded_classifier();
  if (settings.mode == "embedded") return make_handler(embedded);
  common::log::get("agent.classifier")
      ->info("language model mode={} provider={} model={} prompt={} cascade_threshold={}", settings.mode, settings.provider.provider,
             settings.provider.model, settings.prompt_version, settings.cascade_threshold);
  auto handler = std::make_shared<ModelHandler>(ctx.io, std::move(embedded), std::move(settings));
  return [handler](common::agent::Task task, common::agent::Responder responder) { handler->handle(std::move(task), std::move(responder)); };
}

}  // namespace agents::classifier
