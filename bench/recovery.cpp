// recovery: how long a broker takes at start to take back N unfinished cases from its store.
//
// Fills a store (sqlite, in --dir) through the broker's own core: N banking-workflow cases (the
// pipeline's case, a customer each), one in 16 already past the classifier (so its record carries
// a context, a trail and policy state), 64 out with an agent. Then, --reps times: a fresh Store and
// Core on that database, Core::recover(), timed from opening the database to the last case
// queued. Prints RUN lines and a RESULT line with the median.
#include "broker/settings.hpp"
#include "core.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace bus = common::bus;
using nlohmann::json;

namespace {

std::vector<std::string_view> views(const bus::Frames& f) {
  return {f.begin(), f.end()};
}

broker::Settings shipped() {
  std::ifstream f(CASEBUS_SOURCE_DIR "/deploy/config/broker.json");
  broker::Settings s;
  json::parse(f).get_to(s);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  long cases = 100000;
  int reps = 3;
  std::string dir = "/tmp/casebus-recovery";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--cases")) cases = std::stol(argv[i + 1]);
    if (!std::strcmp(argv[i], "--reps")) reps = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
  }
  auto settings = shipped();
  settings.storage.mode = "sqlite";
  settings.storage.state_dir = dir;
  settings.core.max_cases = static_cast<std::size_t>(cases) + 1000;
  settings.core.queue_limit = static_cast<std::size_t>(cases) + 1000;
  settings.core.default_deadline = std::chrono::hours(24);
  std::filesystem::remove_all(dir);
  common::Now now{common::MonoTime{} + std::chrono::hours(1), 1'795'250'700'000};
  {
    auto store = broker::Store::open(settings.storage);
    broker::Core core(settings.core, store.get());
    broker::Outbox out;
    // One classifier that takes 64 tasks and answers one in 16 of the cases it sees.
    core.on_agent("cls", views(bus::encode_ready({"classifier", "bench-classifier", 64})), now, out);
    const json classified{{"intent", "card_dispute"},
                          {"confidence", 0.84},
                          {"entities", {{"amounts", json::array()}, {"merchant", nullptr}, {"dates", json::array()}, {"card_last4", nullptr}, {"invoice_ids", json::array()}}},
                          {"model", "bench"}};
    const std::string answer = classified.dump();
    for (long i = 0; i < cases; ++i) {
      const json env{{"v", 1}, {"type", "case"}, {"tenant", "bench"}, {"to", "banking"},
                     {"payload", {{"kind", "support_message"}, {"channel", "web"}, {"customer_ref", "bench-" + std::to_string(i)},
                                  {"message", "I was charged twice on my debit card yesterday at the grocery store."}}}};
      out.clear();
      core.on_client("client", views(bus::encode_submit("c" + std::to_string(i), env.dump())), now, out);
      for (std::size_t k = 0; k < out.size(); ++k) {
        const auto& m = out[k];
        if (static_cast<bus::Command>(static_cast<unsigned char>(m.frames.at(1).at(0))) != bus::Command::kTask) continue;
        if (i % 16 == 0 && i + 64 < cases) {
          const auto task = json::parse(m.frames.at(2));
          broker::Outbox more;
          core.on_agent("cls", views(bus::encode_done(task.at("id").get<std::string>(), answer)), now, more);
        }
      }
      if (i % 1000 == 999) {
        core.persist(now);
        if (!store->commit(now.wall)) {
          std::fprintf(stderr, "recovery: cannot fill the store: %s\n", store->last_error().c_str());
          return 1;
        }
        core.on_committed();
      }
    }
    core.persist(now);
    if (!store->commit(now.wall)) return 1;
    std::fprintf(stderr, "recovery: store filled with %zu active cases (%ld submitted), %s\n", core.active_cases(), cases,
                 store->describe().c_str());
  }
  std::vector<double> ms;
  std::size_t recovered = 0;
  for (int r = 1; r <= reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    auto store = broker::Store::open(settings.storage);
    broker::Core core(settings.core, store.get());
    broker::Outbox out;
    recovered = core.recover(now, out);
    core.persist(now);
    if (!store->commit(now.wall)) return 1;
    const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ms.push_back(t);
    std::printf("RUN name=recovery cases=%zu rep=%d ms=%.0f\n", recovered, r, t);
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  std::printf("RESULT name=recovery cases=%zu ms=%.0f cases_per_s=%.0f reps=%d\n", recovered, median, recovered / (median / 1000.0),
              reps);
  std::filesystem::remove_all(dir);
  return 0;
}
