#include "model.hpp"

#include "common/redact/redact.hpp"
#include "common/util/json.hpp"
#include "common/util/log.hpp"

#include <fstream>
#include <sstream>

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
  ModelSettings s;
  if (!settings.is_object()) return s;
  common::json::get_optional(settings, "mode", s.mode);
  if (s.mode != "embedded" && s.mode != "llm") throw std::invalid_argument("settings.mode must be \"embedded\" or \"llm\"");
  if (s.mode == "embedded") {
    if (settings.contains("prompt_file") || settings.contains("provider")) {
      throw std::invalid_argument("settings.prompt_file and settings.provider apply to mode llm only");
    }
    return s;
  }
  std::string prompt_file;
  common::json::get_optional(settings, "prompt_file", prompt_file);
  if (prompt_file.empty()) throw std::invalid_argument("settings.prompt_file must be set for mode llm");
  std::filesystem::path path(prompt_file);
  if (path.is_relative()) path = config_dir / path;
  std::ifstream f(path);
  if (!f) throw std::invalid_argument("settings.prompt_file: cannot read " + path.string());
  std::stringstream ss;
  ss << f.rdbuf();
  s.prompt = ss.str();
  s.prompt_version = path.filename().string();
  if (!settings.contains("provider")) throw std::invalid_argument("settings.provider must be set for mode llm");
  try {
    settings.at("provider").get_to(s.provider);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("settings.provider: ") + e.what());
  }
  return s;
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

struct Call {
  common::agent::Responder responder;
  DraftInput input;
  Draft reference;
  llm::CompletionRequest request;
  common::MonoTime deadline, started;
  std::string case_id, task_id;
  bool repaired = false;
  int calls = 0;
  std::int64_t input_tokens = 0, output_tokens = 0;
};

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
    Draft reference = drafter_->draft(*input);
    if (reference.violations.empty()) reference.violations = draft_violations(reference, *input);
    if (!reference.violations.empty()) {
      responder.fail("unsafe_reply", "template " + reference.template_name + ": " + reference.violations.front(), false);
      return;
    }
    auto call = std::make_shared<Call>();
    call->responder = std::move(responder);
    call->case_id = task.envelope.case_id;
    call->task_id = task.envelope.id;
    json facts{{"intent", std::string(common::cases::to_string(input->intent))},
               {"risk_level", input->risk_level ? json(std::string(to_string(*input->risk_level))) : json(nullptr)},
               {"next_step", reference.next_step},
               {"reference_reply", reference.reply},
               // Redacted again here: whatever reached this agent, a model only ever sees placeholders.
               {"customer_message", common::redact::redact_text(input->payload.message)}};
    json approved = json::array(), pending = json::array();
    if (input->policy) {
      for (auto a : input->policy->approved) approved.push_back(std::string(to_string(a)));
      for (auto a : input->policy->pending) pending.push_back(std::string(to_string(a)));
    }
    facts["approved_actions"] = approved;
    facts["actions_awaiting_a_person"] = pending;
    call->request.system = settings_.prompt;
    call->request.user = facts.dump(2, ' ', false, json::error_handler_t::replace);
    call->request.schema = {{"type", "object"},
                            {"properties", {{"reply", {{"type", "string"}, {"maxLength", kMaxReplyBytes}}}}},
                            {"required", {"reply"}},
                            {"additionalProperties", false}};
    call->request.max_tokens = 1024;
    call->input = std::move(*input);
    call->reference = std::move(reference);
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
    if (!r) {
      log_->warn("model call failed case_id={} task_id={} agent=response_drafter attempts={} status={} err={}", call->case_id,
                 call->task_id, st.attempts, r.error().http_status, r.error().error.field);
      call->responder.fail("model_unavailable", r.error().error.describe(), r.error().retryable);
      return;
    }
    call->input_tokens += r->usage.input_tokens;
    call->output_tokens += r->usage.output_tokens;
    std::string why;
    Draft d = call->reference;
    auto object = llm::answer_object(*r);
    if (!object) {
      why = object.error().field + ": " + object.error().message;
    } else if (auto reply = check_answer(*object); !reply) {
      why = reply.error().field + ": " + reply.error().message;
    } else {
      d.reply = std::move(*reply);
      d.model = "llm:" + settings_.provider.model + "/" + settings_.prompt_version;
      // The same gate as for the templates: nothing unsafe leaves this process.
      const auto violations = draft_violations(d, call->input);
      for (const auto& v : violations) why += (why.empty() ? "" : "; ") + v;
    }
    if (!why.empty()) {
      if (!call->repaired) {
        call->repaired = true;
        log_->info("model reply refused, asking once more case_id={} task_id={} agent=response_drafter", call->case_id, call->task_id);
        call->request.user += "\n\nYour previous reply was not acceptable (" + why +
                              "). Write it again following every rule, as one JSON object {\"reply\": \"...\"}.";
        ask(call);
        return;
      }
      call->responder.fail("model_invalid_output", "the language model's reply was refused twice: " + why, false);
      return;
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(common::MonoClock::now() - call->started).count();
    call->responder.done(to_json(d), json{{"model", settings_.provider.model},
                                          {"model_calls", call->calls},
                                          {"input_tokens", call->input_tokens},
                                          {"output_tokens", call->output_tokens},
                                          {"model_ms", ms}}
                                         .dump());
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
