#include "model.hpp"

#include "agent.hpp"

#include "common/redact/redact.hpp"
#include "common/util/json.hpp"
#include "common/util/log.hpp"

#include <fstream>
#include <sstream>

namespace agents::classifier {

using nlohmann::json;
namespace llm = common::llm;
using common::Errc;
using common::make_error;

ModelSettings read_model_settings(const json& j, const std::filesystem::path& config_dir) {
  ModelSettings s;
  common::json::reject_unknown_keys(j, {"mode", "cascade_threshold", "prompt_file", "provider"});
  common::json::get_optional(j, "mode", s.mode);
  if (s.mode != "embedded" && s.mode != "llm" && s.mode != "cascade") {
    throw std::invalid_argument("settings.mode must be \"embedded\", \"llm\" or \"cascade\"");
  }
  if (auto it = j.find("cascade_threshold"); it != j.end()) {
    if (!it->is_number() || it->get<double>() < 0 || it->get<double>() > 1) {
      throw std::invalid_argument("settings.cascade_threshold must be a number between 0 and 1");
    }
    s.cascade_threshold = it->get<double>();
  }
  if (s.mode == "embedded") return s;
  std::string prompt_file;
  common::json::get_optional(j, "prompt_file", prompt_file);
  if (prompt_file.empty()) throw std::invalid_argument("settings.prompt_file must be set for mode " + s.mode);
  std::filesystem::path path(prompt_file);
  if (path.is_relative()) path = config_dir / path;
  std::ifstream f(path);
  if (!f) throw std::invalid_argument("settings.prompt_file: cannot read " + path.string());
  std::stringstream ss;
  ss << f.rdbuf();
  s.prompt = ss.str();
  s.prompt_version = path.filename().string();
  if (!j.contains("provider")) throw std::invalid_argument("settings.provider must be set for mode " + s.mode);
  try {
    j.at("provider").get_to(s.provider);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("settings.provider: ") + e.what());
  }
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

struct Call {
  common::agent::Responder responder;
  Classification embedded;
  llm::CompletionRequest request;
  common::MonoTime deadline;
  std::string case_id, task_id;
  bool repaired = false;
  // What the answer cost, over the repair request too (DONE_META).
  int calls = 0;
  common::MonoTime started;
  std::int64_t input_tokens = 0, output_tokens = 0;
};

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
    auto call = std::make_shared<Call>();
    call->responder = std::move(responder);
    call->embedded = std::move(base);
    call->case_id = task.envelope.case_id;
    call->task_id = task.envelope.id;
    call->request.system = settings_.prompt;
    // Redacted again here: whatever reached this agent, a model only ever sees placeholders.
    call->request.user = common::redact::redact_text(payload->message);
    call->request.schema = answer_schema();
    call->request.max_tokens = 256;
    const auto now = common::Now::current();
    const auto left = std::chrono::milliseconds(task.envelope.deadline - now.wall) - std::chrono::milliseconds(100);
    call->deadline = now.mono + std::max(left, std::chrono::milliseconds(0));
    call->started = now.mono;
    ask(call);
  }

 private:
  void ask(const std::shared_ptr<Call>& call) {
    provider_.complete(call->request, call->deadline, [self = shared_from_this(), call](llm::CallResult<llm::Completion> r, const llm::CallStats& st) {
      self->answered(call, std::move(r), st);
    });
  }

  void answered(const std::shared_ptr<Call>& call, llm::CallResult<llm::Completion> r, const llm::CallStats& st) {
    call->calls += st.attempts;
    if (r) {
      call->input_tokens += r->usage.input_tokens;
      call->output_tokens += r->usage.output_tokens;
    }
    if (!r) {
      const auto& e = r.error();
      log_->warn("model call failed case_id={} task_id={} agent=classifier attempts={} status={} err={}", call->case_id, call->task_id,
                 st.attempts, e.http_status, e.error.field);
      if (settings_.mode == "cascade") {
        // The embedded answer stands (its low confidence sends the case to a person).
        call->responder.done(to_json(call->embedded));
      } else {
        call->responder.fail("model_unavailable", e.error.describe(), e.retryable);
      }
      return;
    }
    auto object = llm::answer_object(*r);
    common::Result<std::pair<common::cases::Intent, double>> checked =
        object ? check_answer(*object) : common::Result<std::pair<common::cases::Intent, double>>(object.error());
    if (!checked) {
      const std::string why = checked.error().field + ": " + checked.error().message;
      if (!call->repaired) {
        // One repair request, naming what was wrong; then the hop fails (into escalation).
        call->repaired = true;
        log_->info("model answer refused, asking once more case_id={} task_id={} agent=classifier err={}", call->case_id,
                   call->task_id, checked.error().field);
        call->request.user += "\n\nYour previous answer was not valid (" + why +
                              "). Answer again with one JSON object that follows the schema, and nothing else.";
        ask(call);
        return;
      }
      call->responder.fail("model_invalid_output", "the language model's answer was refused twice: " + why, false);
      return;
    }
    Classification c = std::move(call->embedded);
    if (c.intent != checked->first) c.payment_decision.reset();  // it was derived for another intent
    c.intent = checked->first;
    c.confidence = checked->second;
    c.model = "llm:" + settings_.provider.model + "/" + settings_.prompt_version;
    log_->debug("model answered case_id={} task_id={} agent=classifier attempts={} ms={} input_tokens={} output_tokens={}",
                call->case_id, call->task_id, st.attempts, st.latency.count(), r->usage.input_tokens, r->usage.output_tokens);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(common::MonoClock::now() - call->started).count();
    call->responder.done(to_json(c), json{{"model", settings_.provider.model},
                                          {"model_calls", call->calls},
                                          {"input_tokens", call->input_tokens},
                                          {"output_tokens", call->output_tokens},
                                          {"model_ms", ms}}
                                         .dump());
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
