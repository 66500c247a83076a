// bench/agents_micro: each agent's own work per task, without the bus (issue 3 asks for under
// 50 us per task): from the task's payload and context text to the result JSON, as the agent's
// handler does it. Plus the broker's share of a workflow hop: the policy check of a result and the
// choice of the next route. Google Benchmark.
// Every agent's handler header is src/agent.hpp: name them by path.
#include "../agents/classifier/src/classifier.hpp"
#include "../agents/escalation/src/agent.hpp"
#include "../agents/fraud_reviewer/src/agent.hpp"
#include "../agents/response_drafter/src/agent.hpp"
#include "common/bus/envelope.hpp"
#include "common/cases/payload.hpp"
#include "common/policy/policy.hpp"
#include "workflow.hpp"

#include <benchmark/benchmark.h>

#include <fstream>

namespace {

using nlohmann::json;

const char* const kMessages[] = {
    "I was charged twice on my debit card yesterday.",
    "I see a card charge from a merchant I don't recognize.",
    "Customer says their card was declined at checkout.",
    "Refund $42.50 USD for invoice INV-1042 because duplicate charge was detected.",
    "I'm locked out of my account after too many password attempts.",
};

std::string payload_of(const char* message) {
  return json{{"kind", "support_message"}, {"channel", "web"}, {"customer_ref", "cust-10492"}, {"message", message},
              {"transaction", {{"amount_minor", 8999}, {"currency", "USD"}, {"merchant", "QuickShop Online"}, {"card_last4", "4417"},
                               {"card_present", false}}}}
      .dump();
}

// The context a hop sees in the shipped workflow after the classifier and the fraud reviewer.
struct Fixture {
  std::string payload = payload_of(kMessages[1]);
  std::string classifier_result, reviewer_result, context_after_classifier, context_after_reviewer;
  Fixture() {
    const auto p = common::cases::parse_payload(payload).value();
    classifier_result = agents::classifier::to_json(agents::classifier::classify_case(*agents::classifier::make_embedded_classifier(), p));
    const common::policy::Policy policy(common::policy::default_config());
    common::policy::CaseState state;
    policy.apply("classifier", json::parse(classifier_result), p, state);
    context_after_classifier = json{{"classifier", json::parse(classifier_result)}, {"policy", state.context()}}.dump();
    auto reviewer = agents::fraud_reviewer::make_rule_reviewer(agents::fraud_reviewer::default_rules());
    reviewer_result = agents::fraud_reviewer::to_json(
        reviewer->review(p, agents::fraud_reviewer::read_context(context_after_classifier, "c-1"), 1'795'250'700'000));
    policy.apply("fraud_reviewer", json::parse(reviewer_result), p, state);
    context_after_reviewer = json{{"classifier", json::parse(classifier_result)},
                                  {"fraud_reviewer", json::parse(reviewer_result)},
                                  {"policy", state.context()}}
                                 .dump();
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

void Classifier(benchmark::State& state) {
  const auto model = agents::classifier::make_embedded_classifier();
  std::vector<std::string> payloads;
  for (const char* m : kMessages) payloads.push_back(payload_of(m));
  std::size_t i = 0;
  for (auto _ : state) {
    const auto p = common::cases::parse_payload(payloads[i++ % payloads.size()]).value();
    benchmark::DoNotOptimize(agents::classifier::to_json(agents::classifier::classify_case(*model, p)));
  }
}
BENCHMARK(Classifier);

void FraudReviewer(benchmark::State& state) {
  const auto& f = fixture();
  auto reviewer = agents::fraud_reviewer::make_rule_reviewer(agents::fraud_reviewer::default_rules());
  for (auto _ : state) {
    const auto p = common::cases::parse_payload(f.payload).value();
    const auto ctx = agents::fraud_reviewer::read_context(f.context_after_classifier, "c-1");
    benchmark::DoNotOptimize(agents::fraud_reviewer::to_json(reviewer->review(p, ctx, 1'795'250'700'000)));
  }
}
BENCHMARK(FraudReviewer);

void ResponseDrafter(benchmark::State& state) {
  const auto& f = fixture();
  const auto drafter = agents::response_drafter::make_template_drafter(CASEBUS_SOURCE_DIR "/deploy/templates/reply");
  for (auto _ : state) {
    const auto input = agents::response_drafter::read_input(f.payload, f.context_after_reviewer).value();
    const auto draft = drafter->draft(input);
    benchmark::DoNotOptimize(agents::response_drafter::draft_violations(draft, input));
    benchmark::DoNotOptimize(agents::response_drafter::to_json(draft));
  }
}
BENCHMARK(ResponseDrafter);

void Escalation(benchmark::State& state) {
  const auto& f = fixture();
  auto settings = agents::escalation::default_settings();
  settings.templates_dir = CASEBUS_SOURCE_DIR "/deploy/templates/escalation";
  const auto escalator = agents::escalation::make_embedded_escalator(settings);
  common::bus::Envelope task;
  task.type = common::bus::EnvelopeType::kTask;
  task.id = "c-1.3.1";
  task.case_id = "c-1";
  task.tenant = "bench";
  task.to = "escalation";
  task.created_at = 1'795'250'700'000;
  task.deadline = task.created_at + 30'000;
  task.payload = f.payload;
  task.context = f.context_after_reviewer;
  for (auto _ : state) benchmark::DoNotOptimize(agents::escalation::answer_task(*escalator, task));
}
BENCHMARK(Escalation);

// The broker's work on one DONE of a workflow case beyond the bus: parse the result, the policy
// check, the next route.
void BrokerPolicyAndRoute(benchmark::State& state) {
  const auto& f = fixture();
  std::ifstream file(CASEBUS_SOURCE_DIR "/deploy/config/broker.json");
  const auto config = json::parse(file);
  const auto workflows = broker::parse_workflows(config.at("workflows"), 8);
  const auto& routes = workflows.at("banking").nodes.at("fraud_reviewer");
  const common::policy::Policy policy(common::policy::default_config());
  const auto payload_doc = json::parse(f.payload);
  const auto payload = common::cases::parse_payload(payload_doc).value();
  common::policy::CaseState base;
  policy.apply("classifier", json::parse(f.classifier_result), payload, base);
  for (auto _ : state) {
    auto s = base;
    const auto result = json::parse(f.reviewer_result);
    benchmark::DoNotOptimize(policy.apply("fraud_reviewer", result, payload, s));
    std::size_t index = 0;
    benchmark::DoNotOptimize(&broker::choose(routes, payload_doc, result, s.view(), index));
  }
}
BENCHMARK(BrokerPolicyAndRoute);

}  // namespace

BENCHMARK_MAIN();
