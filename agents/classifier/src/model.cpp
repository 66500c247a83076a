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
  static_cast<llm::ModelMode&>(s) = llm::read_model_mode(j, config_dir, {"embedded", "llm", "cascade"});
  return s;
}

json answer_schema() {
  json intents = json::array();
  for (const auto name : common::cases::kIntentNames) intents.push_back(std::string(name));
  return json{{"type", "object"},
              {"properties",
               {{"intent", {{"type", "string"}, {"enum", intents}}},
                {"confidence", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}},
                {"payment_decision",
                 {{"type", "object"},
                  {"properties",
                   {{"action", {{"type", "string"}, {"enum", {"authorize", "refund", "retry", "escalate"}}}},
                    {"reason", {{"type", "string"}, {"pattern", "^[a-z_]{1,64}$"}}},
                    {"amount_minor", {{"type", "integer"}, {"minimum", 0}}},
                    {"currency", {{"type", "string"}, {"pattern", "^[A-Z]{3}$"}}}}},
                  {"required", {"action", "reason"}},
                  {"additionalProperties", false}}}}},
              {"required", {"intent", "confidence"}},
              {"additionalProperties", false}};
}

common::Result<ModelAnswer> check_answer(const json& a) {
  if (!a.is_object()) return make_error(Errc::kInvalidResult, "result", "must be a JSON object");
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (it.key() != "intent" && it.key() != "confidence" && it.key() != "payment_decision") {
      return make_error(Errc::kInvalidResult, "result", "unknown field");
    }
  }
  ModelAnswer m;
  const auto intent = a.find("intent");
  if (intent == a.end() || !intent->is_string()) return make_error(Errc::kInvalidResult, "result.intent", "missing, or not a string");
  const auto parsed = common::cases::parse_intent(intent->get_ref<const std::string&>());
  if (!parsed) return make_error(Errc::kInvalidResult, "result.intent", "not one of the intents");
  m.intent = *parsed;
  const auto confidence = a.find("confidence");
  if (confidence == a.end() || !confidence->is_number()) return make_error(Errc::kInvalidResult, "result.confidence", "missing, or not a number");
  m.confidence = confidence->get<double>();
  if (!(m.confidence >= 0 && m.confidence <= 1)) return make_error(Errc::kInvalidResult, "result.confidence", "must be between 0 and 1");
  const auto pd = a.find("payment_decision");
  if (pd == a.end()) return m;
  const std::string f = "result.payment_decision";
  if (m.intent != common::cases::Intent::kPayments) return make_error(Errc::kInvalidResult, f, "only with the payments intent");
  if (!pd->is_object()) return make_error(Errc::kInvalidResult, f, "must be an object");
  for (auto it = pd->begin(); it != pd->end(); ++it) {
    if (it.key() != "action" && it.key() != "reason" && it.key() != "amount_minor" && it.key() != "currency") {
      return make_error(Errc::kInvalidResult, f, "unknown field");
    }
  }
  PaymentDecision d;
  const auto action = pd->find("action");
  if (action == pd->end() || !action->is_string()) return make_error(Errc::kInvalidResult, f + ".action", "missing, or not a string");
  const std::string act = action->get<std::string>();
  if (act == "authorize") {
    d.action = PaymentDecision::Action::kAuthorize;
  } else if (act == "refund") {
    d.action = PaymentDecision::Action::kRefund;
  } else if (act == "retry") {
    d.action = PaymentDecision::Action::kRetry;
  } else if (act == "escalate") {
    d.action = PaymentDecision::Action::kEscalate;
  } else {
    return make_error(Errc::kInvalidResult, f + ".action", "must be authorize, refund, retry or escalate");
  }
  const auto reason = pd->find("reason");
  if (reason == pd->end() || !reason->is_string() || reason->get_ref<const std::string&>().empty() ||
      reason->get_ref<const std::string&>().size() > 64 ||
      reason->get_ref<const std::string&>().find_first_not_of("abcdefghijklmnopqrstuvwxyz_") != std::string::npos) {
    return make_error(Errc::kInvalidResult, f + ".reason", "must be a snake_case reason code");
  }
  d.reason = reason->get<std::string>();
  const auto amount = pd->find("amount_minor");
  const auto currency = pd->find("currency");
  if (amount != pd->end() || currency != pd->end()) {
    if (amount == pd->end() || !amount->is_number_integer() || amount->get<std::int64_t>() < 0 || amount->get<std::int64_t>() > 1'000'000'000'000'000LL) {
      return make_error(Errc::kInvalidResult, f + ".amount_minor", "must be a non-negative integer");
    }
    if (currency == pd->end() || !currency->is_string() || currency->get_ref<const std::string&>().size() != 3 ||
        currency->get_ref<const std::string&>().find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos) {
      return make_error(Errc::kInvalidResult, f + ".currency", "must be an ISO 4217 code");
    }
    d.amount = Amount{amount->get<std::int64_t>(), currency->get<std::string>()};
  } else if (d.action != PaymentDecision::Action::kEscalate) {
    return make_error(Errc::kInvalidResult, f + ".amount_minor", "required unless the action is escalate");
  }
  m.payment_decision = std::move(d);
  return m;
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
    auto shared_responder = std::make_shared<common::agent::Responder>(std::move(responder));
    const auto check = [](const llm::Completion& c) {
      auto object = llm::answer_object(c);
      if (!object) return object.error().field + ": " + object.error().message;
      auto checked = check_answer(*object);
      return checked ? std::string() : checked.error().field + ": " + checked.error().message;
    };
    llm::ask_checked(provider_, std::move(request), llm::call_deadline(task.envelope.deadline), check,
                     [self = shared_from_this(), base = std::move(base), shared_responder, case_id = task.envelope.case_id,
                      task_id = task.envelope.id](llm::Checked r) mutable {
                       self->answered(std::move(base), *shared_responder, r, case_id, task_id);
                     });
  }

 private:
  void answered(Classification c, common::agent::Responder& responder, const llm::Checked& r, const std::string& case_id,
                const std::string& task_id) {
    if (r.unavailable && settings_.mode == "cascade") {
      log_->warn("model call failed, the embedded answer stands case_id={} agent=classifier calls={} err={}", case_id, r.calls,
                 r.unavailable->error.field);
      responder.done(to_json(c));  // its low confidence sends the case to a person
      return;
    }
    if (llm::fail_without_answer(r, responder, *log_, "classifier", case_id)) return;
    const auto checked = check_answer(*llm::answer_object(*r.completion));
    if (c.intent != checked->intent) c.payment_decision.reset();  // it was derived for another intent
    c.intent = checked->intent;
    c.confidence = checked->confidence;
    if (checked->payment_decision) c.payment_decision = checked->payment_decision;  // a proposal: the policy decides
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
