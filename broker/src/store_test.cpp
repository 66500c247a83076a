// The case store on its own, and the core over a store across "restarts" (a new Store and Core on
// the same database file), with injected time.
#include "broker/settings.hpp"
#include "core.hpp"
#include "store.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace broker {
namespace {

namespace bus = common::bus;
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

class TempDir final {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "casebus-store-XXXXXX").string();
    if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
    path_ = t;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

StorageSettings durable(const TempDir& d) {
  StorageSettings s;
  s.mode = "sqlite";
  s.state_dir = d.path().string();
  return s;
}

StoredCase row(const std::string& id, const std::string& key = "") {
  StoredCase c;
  c.id = id;
  c.tenant = "acme";
  c.idempotency_key = key;
  c.agent = "echo";
  c.status = "active";
  c.created_at = 1000;
  c.deadline_at = 100000;
  c.updated_at = 1000;
  c.payload = R"({"message":"hi"})";
  c.payload_hash = payload_hash(c.payload);
  c.record = "{}";
  c.client = std::string("\0\1peer", 6);
  c.corr = "corr";
  return c;
}

TEST(Store, WritesReachTheDatabaseOnlyAtCommit) {
  TempDir d;
  auto s = Store::open(durable(d));
  EXPECT_TRUE(s->durable());
  s->insert(row("c-1", "k1"));
  EXPECT_EQ(s->pending(), 1u);
  EXPECT_FALSE(s->get("c-1")) << "a buffered write is not visible before commit";
  ASSERT_TRUE(s->commit(2000));
  EXPECT_EQ(s->pending(), 0u);
  const auto got = s->get("c-1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->client, std::string("\0\1peer", 6)) << "routing ids are bytes";
  EXPECT_EQ(got->payload, R"({"message":"hi"})");
  auto p = *got;
  p.hop = 2;
  p.attempt = 3;
  p.dispatched = true;
  s->progress(p);
  ASSERT_TRUE(s->commit(2001));
  EXPECT_EQ(s->get("c-1")->attempt, 3);
  EXPECT_TRUE(s->get("c-1")->dispatched);
  const auto hit = s->find_key("acme", "k1");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->case_id, "c-1");
  EXPECT_EQ(hit->status, "active");
  EXPECT_FALSE(s->find_key("other-tenant", "k1")) << "keys are per tenant";
}

TEST(Store, SurvivesReopeningAndListsActiveCasesOldestFirst) {
  TempDir d;
  {
    auto s = Store::open(durable(d));
    auto b = row("c-b");
    b.created_at = 2000;
    s->insert(b);
    s->insert(row("c-a"));
    auto done = row("c-done");
    done.status = "done";
    done.outcome = "completed";
    done.finished_at = 3000;
    done.result = R"({"status":"completed"})";
    s->insert(done);
    ASSERT_TRUE(s->commit(3000));
  }
  auto s = Store::open(durable(d));
  std::vector<std::string> ids;
  s->load_active([&](StoredCase&& c) { ids.push_back(c.id); });
  EXPECT_EQ(ids, (std::vector<std::string>{"c-a", "c-b"}));
  EXPECT_EQ(s->get("c-done")->result, R"({"status":"completed"})");
}

TEST(Store, ASecondBrokerCannotOpenTheSameStateDirectory) {
  TempDir d;
  auto first = Store::open(durable(d));
  try {
    Store::open(durable(d));
    FAIL() << "opened twice";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("in use by another broker"), std::string::npos) << e.what();
  }
}

TEST(Store, RefusesADatabaseFromANewerBroker) {
  TempDir d;
  Store::open(durable(d)).reset();
  {
    // Bump the schema version behind the store's back.
    StorageSettings s = durable(d);
    auto st = Store::open(s);
    st.reset();
  }
  const auto db = (d.path() / "broker.db").string();
  ASSERT_EQ(std::system(("sqlite3 " + db + " 'PRAGMA user_version=99' 2>/dev/null || python3 -c \"import sqlite3; c=sqlite3.connect('" + db +
                         "'); c.execute('PRAGMA user_version=99'); c.commit()\"")
                            .c_str()),
            0);
  try {
    Store::open(durable(d));
    FAIL() << "opened a newer schema";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
  }
}

// A database written by a schema-1 broker (no outbox) opens, gains the outbox, keeps its cases.
TEST(Store, MigratesASchema1Database) {
  TempDir d;
  {
    auto st = Store::open(durable(d));
    st->insert(row("c-1"));
    ASSERT_TRUE(st->commit(2000));
  }
  const auto db = (d.path() / "broker.db").string();
  ASSERT_EQ(std::system(("python3 -c \"import sqlite3; c=sqlite3.connect('" + db +
                         "'); c.execute('DROP TABLE outbox'); c.execute('PRAGMA user_version=1'); c.commit()\"")
                            .c_str()),
            0);
  auto st = Store::open(durable(d));
  EXPECT_TRUE(st->get("c-1"));
  st->outbox_add({0, "c-1", "acme", "outcome", R"({"status":"completed"})", 2000});
  ASSERT_TRUE(st->commit(3000));
  EXPECT_EQ(st->outbox_count(), 1u);
}

// Claims lease entries to one publisher; another gets them only when the lease runs out; only the
// holder's ack removes them; entries of a dropped (refused) case never reach the table.
TEST(Store, OutboxEntriesAreLeasedAckedAndReclaimedAfterTheLease) {
  TempDir d;
  auto st = Store::open(durable(d));
  for (int i = 1; i <= 3; ++i) {
    st->insert(row("c-" + std::to_string(i)));
    st->outbox_add({0, "c-" + std::to_string(i), "acme", "outcome", R"({"n":)" + std::to_string(i) + "}", 2000});
  }
  st->drop({"c-3"});
  ASSERT_TRUE(st->commit(2000));
  EXPECT_EQ(st->outbox_count(), 2u);
  auto a = st->outbox_claim("pub-a", 10, 1 << 20, 5000, 30000);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_LT(a[0].seq, a[1].seq);
  EXPECT_EQ(a[0].case_id, "c-1");
  EXPECT_EQ(a[0].body, R"({"n":1})");
  EXPECT_TRUE(st->outbox_claim("pub-b", 10, 1 << 20, 6000, 30000).empty()) << "leased to pub-a";
  EXPECT_EQ(st->outbox_ack("pub-a", {a[0].seq}), 1u);
  // pub-a stalls; after its lease pub-b takes the rest, and pub-a's late ack removes nothing.
  auto b = st->outbox_claim("pub-b", 10, 1 << 20, 5000 + 30001, 30000);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].seq, a[1].seq);
  EXPECT_EQ(st->outbox_ack("pub-a", {a[1].seq}), 0u);
  EXPECT_EQ(st->outbox_ack("pub-b", {b[0].seq}), 1u);
  EXPECT_EQ(st->outbox_count(), 0u);
  // The byte budget bounds a claim, but one entry always goes.
  for (int i = 4; i <= 6; ++i) st->outbox_add({0, "c-" + std::to_string(i), "acme", "outcome", std::string(500, 'x'), 2000});
  ASSERT_TRUE(st->commit(2000));
  EXPECT_EQ(st->outbox_claim("pub-a", 10, 10, 100000, 1000).size(), 1u);
  EXPECT_EQ(st->outbox_claim("pub-a", 10, 1200, 100000, 1000).size(), 2u);
}

TEST(Store, DeadLettersAreListedRetriedAndDiscarded) {
  auto s = Store::open(StorageSettings{"memory", "", 3600s, 7200s, 0});
  auto dead = row("c-dead");
  dead.status = "dead";
  dead.outcome = "failed";
  dead.finished_at = 5000;
  dead.error = R"({"code":"max_attempts","message":"gave up"})";
  s->insert(dead);
  ASSERT_TRUE(s->commit(5000));
  ASSERT_EQ(s->dead_letter_count(), 1u);
  const auto list = s->dead_letters(10);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].case_id, "c-dead");
  EXPECT_EQ(list[0].error, dead.error);
  s->discard("c-dead", 6000);
  ASSERT_TRUE(s->commit(6000));
  EXPECT_EQ(s->dead_letter_count(), 0u);
  EXPECT_EQ(s->get("c-dead")->status, "discarded");
}

TEST(Store, PrunesEndedCasesPastTheirRetentionAndBeyondTheCap) {
  auto s = Store::open(StorageSettings{"memory", "", 10s, 20s, 3});
  const common::WallMs t0 = 1'000'000;
  for (int i = 0; i < 6; ++i) {
    auto c = row("c-" + std::to_string(i));
    c.status = "done";
    c.finished_at = t0 + i;
    s->insert(c);
  }
  auto dead = row("c-dead");
  dead.status = "dead";
  dead.finished_at = t0;
  s->insert(dead);
  s->insert(row("c-active"));
  ASSERT_TRUE(s->commit(t0 + 100));  // prunes: the cap keeps the newest 3 ended cases
  EXPECT_FALSE(s->get("c-0"));
  EXPECT_FALSE(s->get("c-2"));
  EXPECT_TRUE(s->get("c-3"));
  EXPECT_TRUE(s->get("c-5"));
  s->insert(row("c-later"));
  ASSERT_TRUE(s->commit(t0 + 15'000));  // retention (10 s) is over for the ended ones
  EXPECT_FALSE(s->get("c-5"));
  EXPECT_TRUE(s->get("c-dead")) << "dead letters have their own retention";
  EXPECT_TRUE(s->get("c-active")) << "active cases are never pruned";
  s->insert(row("c-later2"));
  ASSERT_TRUE(s->commit(t0 + 30'000));
  EXPECT_FALSE(s->get("c-dead"));
  EXPECT_TRUE(s->get("c-active"));
}

TEST(Store, AFullDatabaseFailsTheCommitKeepsTheWritesAndRecovers) {
  TempDir d;
  auto s = Store::open(durable(d));
  ASSERT_TRUE(s->commit(1));
  s->limit_pages(8);
  for (int i = 0; i < 50; ++i) {
    auto c = row("c-" + std::to_string(i));
    c.payload = std::string(2000, 'x');
    s->insert(c);
  }
  const auto r = s->commit(2);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, common::Errc::kStorageUnavailable);
  EXPECT_FALSE(s->healthy());
  EXPECT_EQ(s->pending(), 50u) << "nothing is dropped";
  EXPECT_FALSE(s->get("c-0"));
  s->limit_pages(0);
  ASSERT_TRUE(s->commit(3));
  EXPECT_TRUE(s->healthy());
  EXPECT_TRUE(s->get("c-49"));
}

// ---------------------------------------------------------------------------------------------
// The core over a durable store, across restarts.

class Durable : public ::testing::Test {
 protected:
  void SetUp() override { start(); }

  void start(CoreSettings settings = {}) {
    core_.reset();
    store_.reset();
    store_ = Store::open(durable(dir_));
    if (!settings.workflows) settings = settings_;
    core_ = std::make_unique<Core>(settings, store_.get());
  }
  // What a loop turn does at its end.
  void commit() {
    core_->persist(now_);
    ASSERT_TRUE(store_->commit(now_.wall));
    core_->on_committed();
  }
  Outbox restart() {
    commit();
    start(settings_);
    Outbox out;
    core_->recover(now_, out);
    return out;
  }
  Outbox client(const bus::Frames& f, const std::string& peer = "client") {
    std::vector<std::string_view> v(f.begin(), f.end());
    Outbox out;
    core_->on_client(peer, v, now_, out);
    return out;
  }
  Outbox agent(const std::string& peer, const bus::Frames& f) {
    std::vector<std::string_view> v(f.begin(), f.end());
    Outbox out;
    core_->on_agent(peer, v, now_, out);
    return out;
  }
  Outbox submit(const std::string& corr, const std::string& payload = R"({"message":"hi"})", const std::string& extra = "",
                const std::string& to = "echo") {
    return client(bus::encode_submit(corr, R"({"v":1,"type":"case","tenant":"acme","to":")" + to + R"(","payload":)" + payload +
                                               extra + "}"));
  }
  json control(const json& request, bus::Command expect = bus::Command::kControlReply) {
    auto out = client(bus::encode_control("ctl", request.dump()));
    for (const auto& m : out) {
      if (cmd(m) == expect) return json::parse(m.frames.at(3));
    }
    ADD_FAILURE() << "no " << bus::command_name(expect) << " for " << request.dump();
    return nullptr;
  }
  static bus::Command cmd(const OutMessage& m) { return static_cast<bus::Command>(static_cast<unsigned char>(m.frames.at(1).at(0))); }
  static std::vector<const OutMessage*> find(const Outbox& out, bus::Command c) {
    std::vector<const OutMessage*> r;
    for (const auto& m : out) {
      if (cmd(m) == c) r.push_back(&m);
    }
    return r;
  }
  static json task(const OutMessage& m) { return json::parse(m.frames.at(2)); }

  TempDir dir_;
  CoreSettings settings_ = [] {
    CoreSettings s;
    s.workflows = std::make_shared<const Workflows>();
    return s;
  }();
  std::unique_ptr<Store> store_;
  std::unique_ptr<Core> core_;
  common::Now now_{common::MonoTime{} + 1h, 1'795'250'700'000};
};

TEST_F(Durable, AcceptedAndFinalAnswersWaitForTheCommit) {
  agent("a1", bus::encode_ready({"echo", "w1", 1}));
  auto out = submit("r1");
  const auto accepted = find(out, bus::Command::kAccepted);
  ASSERT_EQ(accepted.size(), 1u);
  EXPECT_TRUE(accepted[0]->after_commit);
  const std::string id = accepted[0]->frames.at(3);
  EXPECT_FALSE(find(out, bus::Command::kTask)[0]->after_commit) << "tasks go out at once";
  const auto t = task(*find(out, bus::Command::kTask)[0]);
  out = agent("a1", bus::encode_done(t.at("id").get<std::string>(), R"({"ok":true})"));
  ASSERT_EQ(find(out, bus::Command::kResult).size(), 1u);
  EXPECT_TRUE(find(out, bus::Command::kResult)[0]->after_commit);
  EXPECT_EQ(find(out, bus::Command::kResult)[0]->case_id, id);
}

TEST_F(Durable, ActiveCasesResumeAfterARestartAndTasksThatWereOutGoAgain) {
  agent("a1", bus::encode_ready({"echo", "w1", 1}));
  auto out = submit("r1");
  const auto first = task(*find(out, bus::Command::kTask).at(0));
  const std::string id1 = first.at("case_id").get<std::string>();
  submit("r2");
  submit("r3");
  EXPECT_EQ(core_->active_cases(), 3u);

  restart();
  EXPECT_EQ(core_->active_cases(), 3u);
  EXPECT_EQ(core_->counters().recovered, 3u);
  out = agent("a2", bus::encode_ready({"echo", "w2", 1}));
  const auto tasks = find(out, bus::Command::kTask);
  ASSERT_EQ(tasks.size(), 1u);
  const auto again = task(*tasks[0]);
  EXPECT_EQ(again.at("case_id"), id1) << "the task that was out goes first";
  EXPECT_EQ(again.at("attempt"), 2);
  EXPECT_EQ(again.at("idempotency_key"), first.at("idempotency_key")) << "agents can deduplicate side effects";
  EXPECT_NE(again.at("id"), first.at("id"));

  // The old task's answer, from before the restart, is ignored.
  out = agent("a2", bus::encode_done(first.at("id").get<std::string>(), R"({"late":true})"));
  EXPECT_TRUE(find(out, bus::Command::kResult).empty());
  EXPECT_EQ(core_->counters().late_answers, 1u);

  out = agent("a2", bus::encode_done(again.at("id").get<std::string>(), R"({"ok":true})"));
  const auto results = find(out, bus::Command::kResult);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]->peer, "client") << "the final case goes to the submitter's routing id";
  EXPECT_EQ(results[0]->frames.at(2), "r1") << "with its correlation";
  const auto c = json::parse(results[0]->frames.at(3));
  EXPECT_EQ(c.at("status"), "completed");
  ASSERT_EQ(c.at("trail").size(), 2u);
  EXPECT_EQ(c.at("trail")[0].at("outcome"), "requeued");
  EXPECT_EQ(c.at("trail")[0].at("error").at("field"), "broker");
  EXPECT_EQ(c.at("trail")[1].at("attempt"), 2);
}

TEST_F(Durable, ACaseThatKeepsCrashingTheBrokerEndsAsADeadLetter) {
  settings_.max_attempts = 2;
  start(settings_);
  agent("a1", bus::encode_ready({"echo", "w1", 1}));
  submit("r1");
  restart();  // attempt 2
  agent("a1", bus::encode_ready({"echo", "w1", 1}));
  auto out = restart();  // would be attempt 3: over max_attempts
  EXPECT_EQ(core_->active_cases(), 0u);
  commit();
  EXPECT_EQ(store_->dead_letter_count(), 1u);
  const auto list = control({{"op", "dlq.list"}});
  EXPECT_EQ(list.at("dead_letters")[0].at("error").at("code"), "max_attempts");
}

TEST_F(Durable, TheDeadlineKeepsRunningWhileTheBrokerIsDown) {
  // No worker: the cases wait. The broker is down past their deadline.
  submit("r1");
  submit("r2");
  restart();
  now_ = now_.plus(std::chrono::hours(48));
  Outbox out;
  core_->on_tick(now_, out);
  EXPECT_EQ(core_->active_cases(), 0u);
  ASSERT_EQ(find(out, bus::Command::kResult).size(), 2u);
  EXPECT_EQ(json::parse(find(out, bus::Command::kResult)[0]->frames.at(3)).at("error").at("code"), "deadline_exceeded");
}

TEST_F(Durable, AnIdempotencyKeyNamesOneCaseAcrossRestarts) {
  const std::string key = R"(,"idempotency_key":"pay-42")";
  auto out = submit("r1", R"({"message":"hi"})", key);
  const std::string id = find(out, bus::Command::kAccepted).at(0)->frames.at(3);
  out = submit("r2", R"({"message":"hi"})", key);
  ASSERT_EQ(find(out, bus::Command::kAccepted).size(), 1u);
  EXPECT_EQ(find(out, bus::Command::kAccepted)[0]->frames.at(3), id);
  EXPECT_EQ(core_->active_cases(), 1u);
  EXPECT_EQ(core_->counters().duplicates, 1u);
  out = submit("r3", R"({"message":"something else"})", key);
  ASSERT_EQ(find(out, bus::Command::kRejected).size(), 1u);
  EXPECT_NE(find(out, bus::Command::kRejected)[0]->frames.at(3).find("idempotency_key"), std::string::npos);

  restart();
  out = submit("r4", R"({"message":"hi"})", key);
  EXPECT_EQ(find(out, bus::Command::kAccepted).at(0)->frames.at(3), id) << "still the same case after a restart";
  EXPECT_EQ(core_->active_cases(), 1u);

  // The case ends; the key keeps answering with it, now with its final case.
  out = agent("a1", bus::encode_ready({"echo", "w1", 1}));
  const auto t = task(*find(out, bus::Command::kTask).at(0));
  out = agent("a1", bus::encode_done(t.at("id").get<std::string>(), R"({"ok":true})"));
  EXPECT_EQ(find(out, bus::Command::kResult).at(0)->peer, "client") << "the newest submitter gets the final case";
  restart();
  out = submit("r5", R"({"message":"hi"})", key);
  ASSERT_EQ(find(out, bus::Command::kAccepted).size(), 1u);
  EXPECT_EQ(find(out, bus::Command::kAccepted)[0]->frames.at(3), id);
  ASSERT_EQ(find(out, bus::Command::kResult).size(), 1u);
  EXPECT_EQ(json::parse(find(out, bus::Command::kResult)[0]->frames.at(3)).at("case_id"), id);
  EXPECT_EQ(core_->active_cases(), 0u);
}

TEST_F(Durable, AFailedCommitRefusesTheTurnsSubmissionsAndNewOnesUntilTheStoreRecovers) {
  agent("a1", bus::encode_ready({"echo", "w1", 1}));
  commit();
  store_->limit_pages(store_->pending() + 1);  // no room to grow
  Outbox first;
  for (int i = 0; i < 40; ++i) {
    auto o = submit("r" + std::to_string(i), R"({"message":")" + std::string(3000, 'x') + "\"}");
    if (i == 0) first = std::move(o);
  }
  ASSERT_EQ(find(first, bus::Command::kTask).size(), 1u) << "the first case went out to the agent";
  core_->persist(now_);
  auto r = store_->commit(now_.wall);
  ASSERT_FALSE(r);
  Outbox out;
  const auto gone = core_->on_commit_failed(r.error(), now_, out);
  EXPECT_EQ(gone.size(), 40u);
  const auto rejected = find(out, bus::Command::kRejected);
  ASSERT_EQ(rejected.size(), 40u);
  EXPECT_NE(rejected[0]->frames.at(3).find("storage_unavailable"), std::string::npos);
  EXPECT_FALSE(rejected[0]->after_commit);
  EXPECT_EQ(core_->active_cases(), 0u) << "refused cases are forgotten";
  EXPECT_EQ(store_->pending(), 0u);
  EXPECT_EQ(find(out, bus::Command::kCancel).size(), 1u) << "the agent is told to drop the task it got";

  out = submit("later");
  ASSERT_EQ(find(out, bus::Command::kRejected).size(), 1u) << "refused while the store is unhealthy";
  EXPECT_NE(find(out, bus::Command::kRejected)[0]->frames.at(3).find("storage_unavailable"), std::string::npos);
  EXPECT_EQ(core_->counters().storage_refused, 41u);

  store_->limit_pages(0);
  ASSERT_TRUE(store_->commit(now_.wall));
  out = submit("again");
  EXPECT_EQ(find(out, bus::Command::kAccepted).size(), 1u);
}

TEST_F(Durable, DeadLettersCanBeShownRetriedAndDiscarded) {
  agent("a1", bus::encode_ready({"echo", "w1", 1}));
  auto out = submit("r1");
  auto t = task(*find(out, bus::Command::kTask).at(0));
  const std::string id = t.at("case_id").get<std::string>();
  agent("a1", bus::encode_fail(t.at("id").get<std::string>(), "bad_input", "cannot", false));
  commit();
  auto shown = control({{"op", "dlq.show"}, {"case_id", id}});
  EXPECT_EQ(shown.at("state"), "dead_letter");
  EXPECT_EQ(shown.at("error").at("field"), "bad_input");
  EXPECT_EQ(shown.at("case").at("trail")[0].at("outcome"), "failed");
  EXPECT_EQ(control({{"op", "case.show"}, {"case_id", id}}).at("state"), "dead_letter");
  EXPECT_EQ(control({{"op", "case.show"}, {"case_id", id}, {"tenant", "other"}}, bus::Command::kRejected).at("code"), "not_found");

  // Retried: again from the failed hop, fresh attempts.
  out = client(bus::encode_control("ctl", json{{"op", "dlq.retry"}, {"case_id", id}}.dump()));
  ASSERT_EQ(find(out, bus::Command::kControlReply).size(), 1u);
  EXPECT_EQ(json::parse(find(out, bus::Command::kControlReply)[0]->frames.at(3)).at("state"), "active");
  ASSERT_EQ(find(out, bus::Command::kTask).size(), 1u) << "the idle agent gets it at once";
  t = task(*find(out, bus::Command::kTask)[0]);
  EXPECT_EQ(t.at("attempt"), 1);
  EXPECT_EQ(control({{"op", "case.show"}, {"case_id", id}}).at("state"), "active");
  agent("a1", bus::encode_fail(t.at("id").get<std::string>(), "bad_input", "still cannot", false));
  commit();
  EXPECT_EQ(control({{"op", "dlq.list"}}).at("total"), 1);

  EXPECT_EQ(control({{"op", "dlq.discard"}, {"case_id", id}}).at("state"), "discarded");
  commit();
  EXPECT_EQ(control({{"op", "dlq.list"}}).at("total"), 0);
  EXPECT_EQ(control({{"op", "dlq.show"}, {"case_id", id}}, bus::Command::kRejected).at("code"), "not_found");
  EXPECT_EQ(control({{"op", "case.show"}, {"case_id", id}}).at("state"), "discarded");
  EXPECT_EQ(control({{"op", "dlq.retry"}, {"case_id", id}}, bus::Command::kRejected).at("code"), "not_found");
}

TEST_F(Durable, ControlRequestsNameWhatIsWrong) {
  EXPECT_EQ(control({{"op", "dlq.purge"}}, bus::Command::kRejected).at("field"), "op");
  EXPECT_EQ(control({{"op", "case.show"}}, bus::Command::kRejected).at("field"), "case_id");
  EXPECT_EQ(control({{"op", "dlq.list"}, {"limit", 0}}, bus::Command::kRejected).at("field"), "limit");
  EXPECT_EQ(control({{"op", "dlq.list"}, {"color", "red"}}, bus::Command::kRejected).at("code"), "invalid_field");
  EXPECT_EQ(control({{"op", "case.show"}, {"case_id", "c-nope"}}, bus::Command::kRejected).at("code"), "not_found");
  EXPECT_EQ(control({{"op", "action.approve"}, {"case_id", "c-nope"}, {"action", "refund"}}, bus::Command::kRejected).at("field"), "by");
  EXPECT_EQ(control({{"op", "action.approve"}, {"case_id", "c-nope"}, {"by", "ops-1"}}, bus::Command::kRejected).at("field"), "action");
  EXPECT_EQ(control({{"op", "action.reject"}, {"case_id", "c-nope"}, {"action", "refund"}, {"by", "ops-1"}}, bus::Command::kRejected)
                .at("code"),
            "not_found");
}

// With the outbox on, an ended case's outcome is written with its end and handed out by
// outbox.claim; outbox.ack removes it. With it off, both ops say so.
TEST_F(Durable, EndedCasesReachTheOutbox) {
  EXPECT_EQ(control({{"op", "outbox.claim"}, {"owner", "p"}}, bus::Command::kRejected).at("code"), "not_found");
  settings_.outbox = true;
  start(settings_);
  agent("a1", bus::encode_ready({"echo", "w1", 1}));
  auto out = submit("r1", R"({"message":"hi"})", R"(,"idempotency_key":"orders/0/42")");
  auto t = task(*find(out, bus::Command::kTask).at(0));
  const std::string id = t.at("case_id").get<std::string>();
  EXPECT_TRUE(control({{"op", "outbox.claim"}, {"owner", "p"}}).at("items").empty()) << "nothing before the case ends";
  agent("a1", bus::encode_done(t.at("id").get<std::string>(), R"({"echo":"hi"})"));
  EXPECT_TRUE(control({{"op", "outbox.claim"}, {"owner", "p"}}).at("items").empty()) << "nothing before the commit";
  commit();
  const auto claimed = control({{"op", "outbox.claim"}, {"owner", "p"}, {"limit", 10}, {"lease_ms", 5000}});
  ASSERT_EQ(claimed.at("items").size(), 1u);
  const auto& item = claimed.at("items")[0];
  EXPECT_EQ(item.at("kind"), "outcome");
  EXPECT_EQ(item.at("case_id"), id);
  EXPECT_EQ(item.at("body").at("type"), "case_outcome");
  EXPECT_EQ(item.at("body").at("status"), "completed");
  EXPECT_EQ(item.at("body").at("idempotency_key"), "orders/0/42");
  EXPECT_EQ(item.at("body").dump().find("hi"), std::string::npos) << "no customer text in the outbox";
  EXPECT_EQ(json::parse(core_->stats_json()).at("outbox").at("pending"), 1);
  EXPECT_EQ(control({{"op", "outbox.ack"}, {"owner", "p"}, {"seqs", {item.at("seq")}}}).at("acked"), 1);
  EXPECT_EQ(json::parse(core_->stats_json()).at("outbox").at("pending"), 0);
  EXPECT_EQ(control({{"op", "outbox.ack"}, {"owner", "p"}}, bus::Command::kRejected).at("field"), "seqs");
  EXPECT_EQ(control({{"op", "outbox.claim"}}, bus::Command::kRejected).at("field"), "owner");
  EXPECT_EQ(control({{"op", "outbox.claim"}, {"owner", "p"}, {"lease_ms", 5}}, bus::Command::kRejected).at("field"), "lease_ms");
}

TEST_F(Durable, StoppingHoldsQueuedWorkForTheNextStart) {
  submit("r1");
  core_->stop_accepting();
  auto out = agent("a1", bus::encode_ready({"echo", "w1", 1}));
  EXPECT_TRUE(find(out, bus::Command::kTask).empty()) << "a stopping durable broker starts nothing new";
  EXPECT_EQ(core_->tasks_in_flight(), 0u);
  restart();
  out = agent("a1", bus::encode_ready({"echo", "w1", 1}));
  ASSERT_EQ(find(out, bus::Command::kTask).size(), 1u);
  EXPECT_EQ(task(*find(out, bus::Command::kTask)[0]).at("attempt"), 1) << "it never went out";
}

// A workflow case stopped between two agents resumes with its context and policy state.
TEST_F(Durable, AWorkflowCaseResumesBetweenAgents) {
  Settings s;
  std::ifstream f(CASEBUS_SOURCE_DIR "/deploy/config/broker.json");
  json::parse(f).get_to(s);
  settings_ = s.core;
  start(settings_);
  for (const char* kind : {"classifier", "fraud_reviewer", "response_drafter", "escalation"}) {
    agent(kind, bus::encode_ready({kind, std::string("w-") + kind, 10}));
  }
  const json payload{{"kind", "support_message"}, {"channel", "web"}, {"customer_ref", "cust-1"},
                     {"message", "I was charged twice on my debit card yesterday."}};
  auto out = submit("r1", payload.dump(), "", "banking");
  auto t = task(*find(out, bus::Command::kTask).at(0));
  EXPECT_EQ(t.at("to"), "classifier");
  const json classified{{"intent", "card_dispute"},
                        {"confidence", 0.84},
                        {"entities", {{"amounts", json::array()}, {"merchant", nullptr}, {"dates", json::array()}, {"card_last4", nullptr}, {"invoice_ids", json::array()}}},
                        {"model", "test"}};
  out = agent("classifier", bus::encode_done(t.at("id").get<std::string>(), classified.dump()));
  t = task(*find(out, bus::Command::kTask).at(0));
  ASSERT_EQ(t.at("to"), "fraud_reviewer");

  restart();
  out = agent("fr2", bus::encode_ready({"fraud_reviewer", "w2", 1}));
  ASSERT_EQ(find(out, bus::Command::kTask).size(), 1u);
  const auto ft = task(*find(out, bus::Command::kTask)[0]);
  EXPECT_EQ(ft.at("attempt"), 2) << "it was out when the broker stopped";
  EXPECT_EQ(ft.at("context").at("classifier").at("intent"), "card_dispute") << "the context survived";
  EXPECT_EQ(ft.at("context").at("policy").at("intent"), "card_dispute") << "the policy state survived";
  out = agent("fr2", bus::encode_done(ft.at("id").get<std::string>(),
                                      json{{"risk_score", 0.1}, {"risk_level", "low"}, {"reasons", json::array()}, {"actions", json::array()},
                                           {"model", "test"}}.dump()));
  const auto shown = control({{"op", "case.show"}, {"case_id", t.at("case_id")}});
  EXPECT_EQ(shown.at("state"), "active");
  EXPECT_EQ(shown.at("agent"), "response_drafter");
  EXPECT_EQ(shown.at("case").at("trail").size(), 3u)
      << "classifier, the requeued fraud_reviewer attempt, and its answer";
}

}  // namespace
}  // namespace broker
