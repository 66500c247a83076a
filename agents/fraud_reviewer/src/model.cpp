#include "model.hpp"

#include "common/llm/checked.hpp"
#include "common/redact/redact.hpp"
#include "common/util/log.hpp"

namespace agents::fraud_reviewer {

using nlohmann::json;
namespace llm = common::llm;

std::string summary_problem(const json& a) {
  if (!a.is_object()) return "result: must be a JSON object";
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (it.key() != "summary") return "result: unknown field";
  }
  const auto s = a.find("summary");
  if (s == a.end() || !s->is_string()) return "result.summary: missing, or not a string";
  return llm::free_text_problem(s->get_ref<const std::string&>(), 300, "result.summary");
}

namespace {

class ModelHandler final : public std::enable_shared_from_this<ModelHandler> {
 public:
  ModelHandler(boost::asio::io_context& io, std::shared_ptr<Reviewer> reviewer, llm::ModelMode m)
      : reviewer_(std::move(reviewer)), mode_(std::move(m)), provider_(io, mode_.provider), log_(common::log::get("agent.fraud_reviewer")) {}

  void handle(common::agent::Task task, common::agent::Responder responder) {
    auto payload = common::cases::parse_payload(task.envelope.payload);
    if (!payload) {
      responder.fail(std::string(common::to_string(payload.error().code)), payload.error().field + ": " + payload.error().message, false);
      return;
    }
    ReviewContext ctx;
    try {
      ctx = read_context(task.envelope.context, task.envelope.case_id);
    } catch (const std::invalid_argument& e) {
      responder.fail("malformed", e.what(), false);
      return;
    }
    auto review = std::make_shared<Review>(reviewer_->review(*payload, ctx, task.envelope.created_at));
    json reasons = json::array(), actions = json::array();
    for (const auto& r : review->reasons) reasons.push_back({{"rule", r.rule}, {"contribution", r.contribution}, {"detail", r.detail}});
    for (const auto& a : review->actions) actions.push_back(std::string(to_string(a.type)));
    const json facts{{"risk_score", review->risk_score},
                     {"risk_level", std::string(to_string(review->risk_level))},
                     {"rules_fired", std::move(reasons)},
                     {"actions_proposed", std::move(actions)},
                     // Redacted again here: whatever reached this agent, a model only ever sees placeholders.
                     {"customer_message", common::redact::redact_text(payload->message)}};
    llm::CompletionRequest request;
    request.system = mode_.prompt;
    request.user = facts.dump(2, ' ', false, json::error_handler_t::replace);
    request.schema = {{"type", "object"},
                      {"properties", {{"summary", {{"type", "string"}, {"maxLength", 300}}}}},
                      {"required", {"summary"}},
                      {"additionalProperties", false}};
    request.max_tokens = 300;
    const auto check = [](const llm::Completion& c) -> std::string {
      auto object = llm::answer_object(c);
      return object ? summary_problem(*object) : object.error().field + ": " + object.error().message;
    };
    auto shared_responder = std::make_shared<common::agent::Responder>(std::move(responder));
    llm::ask_checked(provider_, std::move(request), llm::call_deadline(task.envelope.deadline), check,
                     [self = shared_from_this(), review, shared_responder, case_id = task.envelope.case_id](llm::Checked r) {
                       self->answered(*review, *shared_responder, r, case_id);
                     });
  }

 private:
  void answered(Review review, common::agent::Responder& responder, const llm::Checked& r, const std::string& case_id) {
    if (llm::fail_without_answer(r, responder, *log_, "fraud_reviewer", case_id)) return;
    // Contribution 0: the summary explains, it never moves the risk.
    review.reasons.push_back({"model_summary", 0, llm::answer_object(*r.completion)->at("summary").get<std::string>()});
    review.model += "+llm:" + mode_.provider.model + "/" + mode_.prompt_version;
    responder.done(to_json(review), r.meta_json(mode_.provider.model));
  }

  std::shared_ptr<Reviewer> reviewer_;
  llm::ModelMode mode_;
  llm::Provider provider_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace

common::agent::Handler make_configured_handler(common::agent::AgentContext& ctx) {
  json rules_settings = ctx.agent_settings;
  if (rules_settings.is_object()) {
    for (const char* k : {"mode", "prompt_file", "provider"}) rules_settings.erase(k);
  }
  const Rules rules = parse_rules(rules_settings);  // an empty settings object gives default_rules()
  auto mode = llm::read_model_mode(ctx.agent_settings, ctx.config_dir, {"embedded", "llm"});
  auto log = common::log::get("agent.fraud_reviewer");
  log->info("rules loaded medium={} high={} phrases={} currencies={} repeat_window_s={} repeat_max_customers={}", rules.levels.medium,
            rules.levels.high, rules.unrecognised_merchant.phrases.size(), rules.amount_threshold.by_currency.size(),
            rules.repeat_customer.window_s, rules.repeat_customer.max_customers);
  std::shared_ptr<Reviewer> reviewer = make_rule_reviewer(rules);
  if (mode.mode == "embedded") return make_handler(reviewer);
  log->info("language model mode=llm provider={} model={} prompt={}", mode.provider.provider, mode.provider.model, mode.prompt_version);
  auto handler = std::make_shared<ModelHandler>(ctx.io, std::move(reviewer), std::move(mode));
  return [handler](common::agent::Task task, common::agent::Responder responder) { handler->handle(std::move(task), std::move(responder)); };
}

}  // namespace agents::fraud_reviewer
