// The chaos suite (ctest label "chaos"): the real broker and agents under load while processes are
// killed, stopped and starved of disk. The claim under test: no acknowledged case is lost, and no
// case has two outcomes. Each test prints what it counted (accepted / completed / duplicates /
// lost) so a run can be read, not just passed.
#include "stack.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <deque>
#include <random>
#include <set>

namespace testsupport {
namespace {

namespace bus = common::bus;
using bus::Outcome;
using nlohmann::json;

// A client that behaves as a careful producer should: every case has its own idempotency key, and
// whatever goes wrong (timeout, broker gone, busy, storage refused) it submits again with the same
// key until it holds the final case. It records every case id the broker named for each key.
class Producer final {
 public:
  struct Tally {
    std::set<std::string> ids;  // every case id seen for this key (ACCEPTED and final)
    bool acknowledged = false;
    bool done = false;
    int finals = 0;
    std::string status;
  };

  Producer(const std::string& endpoint, int total, int concurrency, json echo = json::object(),
           std::chrono::milliseconds timeout = 3s)
      : ctx_(1), client_(std::make_unique<bus::BusClient>(io_, ctx_, endpoint)), tally_(total), concurrency_(concurrency),
        echo_(std::move(echo)), timeout_(timeout), run_(std::to_string(std::random_device{}())) {
    for (int i = 0; i < total; ++i) todo_.push_back(i);
  }
  ~Producer() {
    client_.reset();
  }

  // Submits what is waiting (up to the concurrency) and runs the client for a slice.
  void step(std::chrono::milliseconds slice = 10ms) {
    while (in_flight_ < concurrency_ && !todo_.empty()) {
      const int i = todo_.front();
      todo_.pop_front();
      submit(i);
    }
    io_.run_for(slice);
  }
  bool finished() const { return completed_ == static_cast<int>(tally_.size()); }
  int completed() const { return completed_; }
  int acknowledged() const { return acknowledged_; }
  int resubmitted() const { return resubmitted_; }
  int refused(const std::string& code) const {
    auto it = refusals_.find(code);
    return it == refusals_.end() ? 0 : it->second;
  }
  const std::vector<Tally>& tally() const { return tally_; }
  int duplicates() const {
    int n = 0;
    for (const auto& t : tally_) n += t.ids.size() > 1 ? 1 : 0;
    return n;
  }
  int lost() const {
    int n = 0;
    for (const auto& t : tally_) n += t.acknowledged && !t.done ? 1 : 0;
    return n;
  }
  std::string key(int i) const { return "chaos-" + run_ + "-" + std::to_string(i); }

 private:
  void submit(int i) {
    json payload{{"message", "case " + std::to_string(i)}};
    if (!echo_.empty()) payload["echo"] = echo_;
    const json env{{"v", 1}, {"type", "case"}, {"tenant", "acme"}, {"to", "echo"}, {"idempotency_key", key(i)}, {"payload", payload}};
    ++in_flight_;
    client_->submit(
        env.dump(), timeout_,
        [this, i](Outcome o) {
          --in_flight_;
          auto& t = tally_[i];
          if (o.status == Outcome::Status::kCompleted) {
            const auto c = json::parse(o.body);
            t.ids.insert(c.at("case_id").get<std::string>());
            ++t.finals;
            if (!t.done) {
              t.done = true;
              t.status = c.at("status").get<std::string>();
              ++completed_;
            }
            return;
          }
          if (o.status == Outcome::Status::kRejected) ++refusals_[std::string(common::to_string(o.error.code))];
          if (t.done) return;
          ++resubmitted_;
          todo_.push_back(i);
        },
        [this, i](const std::string& case_id) {
          auto& t = tally_[i];
          t.ids.insert(case_id);
          if (!t.acknowledged) {
            t.acknowledged = true;
            ++acknowledged_;
          }
        });
  }

  boost::asio::io_context io_;
  zmq::context_t ctx_;
  std::unique_ptr<bus::BusClient> client_;
  std::vector<Tally> tally_;
  std::deque<int> todo_;
  int concurrency_;
  json echo_;
  std::chrono::milliseconds timeout_;
  std::string run_;
  int in_flight_ = 0, completed_ = 0, acknowledged_ = 0, resubmitted_ = 0;
  std::map<std::string, int> refusals_;
};

// Runs the producer until it has every final case or the time bound passes; `between` runs after
// every slice (the chaos).
void drive(Producer& p, std::chrono::seconds bound, const std::function<void()>& between = {}) {
  const auto end = std::chrono::steady_clock::now() + bound;
  while (!p.finished() && std::chrono::steady_clock::now() < end) {
    p.step();
    if (between) between();
  }
}

json worker_named(Stack& s, const std::string& name) {
  const auto st = s.stats();
  for (const auto& w : st.at("workers")) {
    if (w.at("worker") == name) return w;
  }
  std::fprintf(stderr, "no worker %s in %s\n", name.c_str(), st.at("workers").dump().c_str());
  return nullptr;
}

// Rows of the store, read with SQLite itself after the broker has stopped.
struct StoreCounts {
  long long cases = 0, distinct_keys = 0, done = 0;
};
StoreCounts count_store(const std::filesystem::path& db_path) {
  sqlite3* db = nullptr;
  StoreCounts c;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << db_path << ": " << sqlite3_errmsg(db);
    sqlite3_close(db);
    return c;
  }
  sqlite3_stmt* q = nullptr;
  sqlite3_prepare_v2(db, "SELECT count(*), count(DISTINCT idem_key), sum(status = 'done') FROM cases", -1, &q, nullptr);
  if (sqlite3_step(q) == SQLITE_ROW) {
    c.cases = sqlite3_column_int64(q, 0);
    c.distinct_keys = sqlite3_column_int64(q, 1);
    c.done = sqlite3_column_int64(q, 2);
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  return c;
}

// 1. The broker is SIGKILLed three times at random moments under load and restarted from its store.
TEST(Chaos, BrokerKilledThreeTimesUnderLoadLosesAndDuplicatesNothing) {
  constexpr int kCases = 5000;
  Stack s;
  s.start_broker();
  s.start_agent("echo-1", {"--capacity", "16"});
  s.start_agent("echo-2", {"--capacity", "16"});
  ASSERT_TRUE(s.wait_workers("echo", 2));
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  // Kill points: by cases acknowledged so far, one in each third of the run.
  std::vector<int> kill_at;
  for (int k = 0; k < 3; ++k) kill_at.push_back(std::uniform_int_distribution<int>(k * kCases / 3 + 100, (k + 1) * kCases / 3 - 100)(rng));
  Producer p(s.client_endpoint(), kCases, 64);
  std::size_t kills = 0;
  drive(p, 150s, [&] {
    if (kills < kill_at.size() && p.acknowledged() >= kill_at[kills]) {
      // A random moment within the turn: let the broker work a little further first.
      p.step(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 20)(rng)));
      s.broker().signal(SIGKILL);
      ASSERT_TRUE(s.broker().wait_exit(5s));
      s.restart_broker();
      ++kills;
    }
  });
  std::printf("chaos broker-kill: seed=%u kills=%zu accepted=%d completed=%d duplicates=%d lost=%d resubmitted=%d\n", seed, kills,
              p.acknowledged(), p.completed(), p.duplicates(), p.lost(), p.resubmitted());
  EXPECT_EQ(kills, 3u);
  EXPECT_TRUE(p.finished()) << p.completed() << " of " << kCases << " final cases";
  EXPECT_EQ(p.lost(), 0);
  EXPECT_EQ(p.duplicates(), 0);
  for (const auto& t : p.tally()) {
    if (t.done) {
      EXPECT_EQ(t.status, "completed");
    }
  }
  // The store holds exactly one case per key, each ended once.
  EXPECT_EQ(s.broker().stop(), 0);
  const auto c = count_store(s.dir().path() / "state" / "broker.db");
  std::printf("chaos broker-kill: store cases=%lld distinct_keys=%lld done=%lld\n", c.cases, c.distinct_keys, c.done);
  EXPECT_EQ(c.cases, kCases);
  EXPECT_EQ(c.distinct_keys, kCases);
  EXPECT_EQ(c.done, kCases);
}

// 2. Agents are SIGKILLed at random while they hold tasks; replacements join.
TEST(Chaos, AgentsKilledUnderLoadEveryCaseCompletes) {
  constexpr int kCases = 2000;
  Stack s;
  s.start_broker();
  int next = 1;
  std::vector<Process*> agents;
  for (; next <= 3; ++next) agents.push_back(&s.start_agent("echo-" + std::to_string(next), {"--capacity", "4"}));
  ASSERT_TRUE(s.wait_workers("echo", 3));
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  Producer p(s.client_endpoint(), kCases, 32, json{{"delay_ms", 10}}, 20s);
  int kills = 0;
  drive(p, 120s, [&] {
    if (kills < 3 && p.completed() >= (kills + 1) * kCases / 4) {
      const std::size_t victim = std::uniform_int_distribution<std::size_t>(0, agents.size() - 1)(rng);
      // Killed while it holds work, so that something must be requeued.
      const std::string name = agents[victim]->name();
      ASSERT_TRUE(eventually([&] {
        p.step(1ms);
        const auto w = worker_named(s, name);
        return !w.is_null() && w.at("in_flight").get<int>() > 0;
      }, 15s)) << name << " never held a task";
      agents[victim]->signal(SIGKILL);
      agents[victim]->wait_exit(5s);
      agents[victim] = &s.start_agent("echo-" + std::to_string(next++), {"--capacity", "4"});
      ++kills;
    }
  });
  const auto stats = s.stats();
  const auto requeued = stats.at("counters").at("requeued").get<int>();
  std::printf("chaos agent-kill: seed=%u kills=%d accepted=%d completed=%d duplicates=%d lost=%d requeued=%d\n", seed, kills,
              p.acknowledged(), p.completed(), p.duplicates(), p.lost(), requeued);
  EXPECT_EQ(kills, 3);
  EXPECT_TRUE(p.finished()) << p.completed() << " of " << kCases;
  EXPECT_EQ(p.lost(), 0);
  EXPECT_EQ(p.duplicates(), 0);
  EXPECT_GE(requeued, 3) << "every kill took tasks with it";
  EXPECT_EQ(p.resubmitted(), 0) << "the broker stayed up: no submission needed repeating";
  for (const auto& t : p.tally()) {
    if (t.done) {
      EXPECT_EQ(t.status, "completed");
    }
    EXPECT_EQ(t.finals, 1);
  }
}

// 3. An agent stops (SIGSTOP) while holding tasks but keeps its connection: after liveness its
// tasks go to the other worker; when it wakes, its answers are late and ignored.
TEST(Chaos, AStoppedAgentsTasksMoveAndItsLateAnswersAreIgnored) {
  constexpr int kCases = 400;
  Stack s;
  s.start_broker();
  auto& sleeper = s.start_agent("echo-sleeper", {"--capacity", "4"});
  s.start_agent("echo-awake", {"--capacity", "4"});
  ASSERT_TRUE(s.wait_workers("echo", 2));
  Producer p(s.client_endpoint(), kCases, 16, json{{"delay_ms", 20}}, 30s);
  bool stopped = false, woken = false;
  drive(p, 90s, [&] {
    if (!stopped && p.completed() >= 50) {
      ASSERT_TRUE(eventually([&] {
        p.step(1ms);
        const auto w = worker_named(s, "echo-sleeper");
        return !w.is_null() && w.at("in_flight").get<int>() > 0;
      }, 15s));
      sleeper.signal(SIGSTOP);
      stopped = true;
    }
    if (stopped && !woken && s.stats().at("counters").at("workers_expired").get<int>() >= 1 && p.completed() >= 200) {
      sleeper.signal(SIGCONT);
      woken = true;
    }
  });
  ASSERT_TRUE(woken) << "the stopped agent never expired";
  // Its answers to the tasks it held arrive after it wakes and are ignored by the broker; or, when
  // the agent first hears that it is no longer registered, it drops them itself.
  EXPECT_TRUE(eventually([&] {
    return s.stats().at("counters").at("late_answers").get<int>() >= 1 ||
           sleeper.stderr_text().find("not connected, message dropped") != std::string::npos;
  }, 10s));
  const auto stats = s.stats();
  std::printf("chaos sigstop: accepted=%d completed=%d duplicates=%d lost=%d requeued=%d late_answers=%d\n", p.acknowledged(),
              p.completed(), p.duplicates(), p.lost(), stats.at("counters").at("requeued").get<int>(),
              stats.at("counters").at("late_answers").get<int>());
  EXPECT_TRUE(p.finished());
  EXPECT_EQ(p.lost(), 0);
  EXPECT_EQ(p.duplicates(), 0);
  EXPECT_GE(stats.at("counters").at("requeued").get<int>(), 1);
  for (const auto& t : p.tally()) EXPECT_EQ(t.finals, 1);
  EXPECT_TRUE(s.wait_workers("echo", 2)) << "it registers again after waking";
}

// 4. The broker's files may not grow (RLIMIT_FSIZE lowered on the running broker, as a full disk
// would do): new cases are refused with storage_unavailable, cases acknowledged before are not
// lost, and the broker accepts again once the files may grow.
TEST(Chaos, AFullDiskRefusesNewCasesLosesNothingAndRecovers) {
  Stack s;
  s.start_broker();
  s.start_agent("echo-1", {"--capacity", "64"});
  ASSERT_TRUE(s.wait_workers("echo", 1));
  // Acknowledged and held by the agent while the disk is full.
  Producer before(s.client_endpoint(), 40, 40, json{{"delay_ms", 1500}}, 30s);
  ASSERT_TRUE(eventually([&] {
    before.step(5ms);
    return before.acknowledged() == 40;
  }, 10s));
  rlimit full{0, RLIM_INFINITY};
  ASSERT_EQ(::prlimit(s.broker().pid(), RLIMIT_FSIZE, &full, nullptr), 0) << std::strerror(errno);

  // New submissions: refused, naming the reason.
  bus::SyncBusClient client(s.client_endpoint());
  int refused = 0;
  for (int i = 0; i < 5; ++i) {
    const auto o = client.submit(echo_case({{"message", "during the outage " + std::to_string(i)}}), 5s);
    ASSERT_EQ(o.status, Outcome::Status::kRejected) << "acknowledged while the store cannot be written";
    EXPECT_EQ(o.error.code, common::Errc::kStorageUnavailable) << o.error.describe();
    refused += o.error.code == common::Errc::kStorageUnavailable ? 1 : 0;
  }
  EXPECT_FALSE(s.stats().at("storage").at("healthy").get<bool>());
  // The held cases finish at the agent meanwhile; their final cases wait for the store.
  ASSERT_TRUE(eventually([&] {
    before.step(5ms);
    return s.stats().at("in_flight").get<int>() == 0;
  }, 10s));
  for (int i = 0; i < 20; ++i) before.step(5ms);
  EXPECT_EQ(before.completed(), 0) << "a final case was sent before it was stored";
  EXPECT_EQ(s.stats().at("cases_active").get<int>(), 0) << "the cases have ended, in memory";

  rlimit open{RLIM_INFINITY, RLIM_INFINITY};
  ASSERT_EQ(::prlimit(s.broker().pid(), RLIMIT_FSIZE, &open, nullptr), 0);
  drive(before, 20s);
  std::printf("chaos disk-full: accepted=%d completed=%d duplicates=%d lost=%d refused_during_outage=%d\n", before.acknowledged(),
              before.completed(), before.duplicates(), before.lost(), refused);
  EXPECT_TRUE(before.finished());
  EXPECT_EQ(before.lost(), 0);
  EXPECT_EQ(before.duplicates(), 0);
  EXPECT_TRUE(eventually([&] { return s.stats().at("storage").at("healthy").get<bool>(); }, 5s));
  const auto after = client.submit(echo_case({{"message", "after the outage"}}), 10s);
  ASSERT_EQ(after.status, Outcome::Status::kCompleted) << after.error.describe();
  EXPECT_EQ(s.broker().stop(), 0);
}

}  // namespace
}  // namespace testsupport
