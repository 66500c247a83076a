// bench/codec_micro: the envelope codec on the benchmark's 1 KB envelope, against a nlohmann DOM
// parse of the same text (the reason the broker's hot path uses simdjson). Google Benchmark.
#include "common/bus/envelope.hpp"

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

namespace {

std::string envelope() {
  std::ifstream f(CASEBUS_BENCH_ENVELOPE);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  s.replace(s.find("__ID__"), 6, "000000000001");
  return s;
}

void DecodeEnvelopeSimdjson(benchmark::State& state) {
  const auto text = envelope();
  common::bus::EnvelopeCodec codec;
  for (auto _ : state) {
    auto e = codec.decode(text);
    if (!e) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(e);
  }
}
BENCHMARK(DecodeEnvelopeSimdjson);

void EncodeEnvelope(benchmark::State& state) {
  common::bus::EnvelopeCodec codec;
  auto e = codec.decode(envelope()).value();
  for (auto _ : state) benchmark::DoNotOptimize(common::bus::encode(e));
}
BENCHMARK(EncodeEnvelope);

void ParseNlohmannDom(benchmark::State& state) {
  const auto text = envelope();
  for (auto _ : state) benchmark::DoNotOptimize(nlohmann::json::parse(text));
}
BENCHMARK(ParseNlohmannDom);

void DumpNlohmannDom(benchmark::State& state) {
  const auto j = nlohmann::json::parse(envelope());
  for (auto _ : state) benchmark::DoNotOptimize(j.dump());
}
BENCHMARK(DumpNlohmannDom);

}  // namespace

BENCHMARK_MAIN();
