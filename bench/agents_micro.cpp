// bench/agents_micro: each agent's own logic per task, without the bus (issue 3 asks for under
// 50 us per task). Google Benchmark.
#include "classifier.hpp"

#include <benchmark/benchmark.h>

namespace {

const char* const kMessages[] = {
    "I was charged twice on my debit card yesterday.",
    "I see a card charge from a merchant I don't recognize.",
    "Customer says their card was declined at checkout.",
    "Refund $42.50 USD for invoice INV-1042 because duplicate charge was detected.",
    "I'm locked out of my account after too many password attempts.",
};

void ClassifierEmbedded(benchmark::State& state) {
  const auto model = agents::classifier::make_embedded_classifier();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(agents::classifier::to_json(model->classify(kMessages[i++ % std::size(kMessages)])));
  }
}
BENCHMARK(ClassifierEmbedded);

}  // namespace

BENCHMARK_MAIN();
