// bench/redact_micro: PII redaction of one customer message, as a gateway does it before the
// message enters the bus: a ~300-byte message with a card number and an e-mail address, and one of
// the same size without PII (the common case, and the cost every message pays). Google Benchmark.
#include "common/redact/redact.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string_view>

namespace {

constexpr std::string_view kWithPii =
    "Hello, I was charged twice for the same order yesterday: $89.99 on 2026-11-20 at QuickShop Online. "
    "The card is 4111 1111 1111 1111 and my e-mail is jane.doe+bank@example.com if you need to reach me. "
    "Invoice INV-1042, order 123456. Please refund the duplicate charge as soon as possible, thank you!";

constexpr std::string_view kWithoutPii =
    "Hello, I was charged twice for the same order yesterday: $89.99 on 2026-11-20 at QuickShop Online. "
    "The card ending in 4417 is the one I use for groceries, and the second charge came a minute later. "
    "Invoice INV-1042, order 123456. Please refund the duplicate charge as soon as possible, thank you!";

void Redact(benchmark::State& state, std::string_view text, int want) {
  for (auto _ : state) {
    auto r = common::redact::redact(text);
    if (r.total() != want) state.SkipWithError("unexpected redaction count");
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}

void WithPii(benchmark::State& state) {
  Redact(state, kWithPii, 2);
}
BENCHMARK(WithPii);

void WithoutPii(benchmark::State& state) {
  Redact(state, kWithoutPii, 0);
}
BENCHMARK(WithoutPii);

}  // namespace

BENCHMARK_MAIN();
