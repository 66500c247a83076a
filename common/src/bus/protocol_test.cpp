#include "common/bus/protocol.hpp"

#include <gtest/gtest.h>

namespace common::bus {
namespace {

std::vector<std::string_view> views(const Frames& f) {
  return {f.begin(), f.end()};
}

TEST(Protocol, ClientMessagesRoundTrip) {
  const auto f = encode_submit("c1", "{}");
  const auto v = views(f);
  auto m = decode_client_message(v);
  ASSERT_TRUE(m);
  auto* s = std::get_if<SubmitMsg>(&*m);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->corr, "c1");
  EXPECT_EQ(s->envelope, "{}");

  const auto st = encode_stats("c2");
  const auto sv = views(st);
  auto sm = decode_client_message(sv);
  ASSERT_TRUE(sm);
  EXPECT_TRUE(std::holds_alternative<StatsMsg>(*sm));
}

TEST(Protocol, BrokerToClientRoundTrip) {
  const auto r = encode_rejected("c1", make_error(Errc::kBusy, "to", "full"));
  const auto v = views(r);
  auto m = decode_broker_to_client(v);
  ASSERT_TRUE(m);
  auto* rej = std::get_if<RejectedMsg>(&*m);
  ASSERT_TRUE(rej);
  EXPECT_EQ(rej->error_json, R"({"code":"busy","message":"full","field":"to"})");
}

TEST(Protocol, AgentMessagesRoundTrip) {
  const auto ready = encode_ready({"echo", "host:1", 32});
  const auto rv = views(ready);
  auto m = decode_agent_message(rv);
  ASSERT_TRUE(m);
  auto* r = std::get_if<ReadyMsg>(&*m);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, "echo");
  EXPECT_EQ(r->capacity, 32);

  const auto fail = encode_fail("c-1.1.1", "upstream_timeout", "model too slow", true);
  const auto fv = views(fail);
  auto fm = decode_agent_message(fv);
  ASSERT_TRUE(fm);
  auto* f = std::get_if<FailMsg>(&*fm);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->code, "upstream_timeout");
  EXPECT_TRUE(f->retryable);

  for (const auto& frames : {encode_heartbeat(), encode_drain(), encode_disconnect(), encode_done("t.1.1", "{}")}) {
    const auto v = views(frames);
    EXPECT_TRUE(decode_agent_message(v)) << frames[1];
  }
  const auto dm = encode_done_meta("t.1.1", R"({"ok":true})", R"({"input_tokens":3})");
  const auto dmv = views(dm);
  auto d = decode_agent_message(dmv);
  ASSERT_TRUE(d);
  const auto& done = std::get<DoneMsg>(*d);
  EXPECT_EQ(done.result_json, R"({"ok":true})");
  EXPECT_EQ(done.meta_json, R"({"input_tokens":3})");
  EXPECT_TRUE(std::get<DoneMsg>(*decode_agent_message(views(encode_done("t.1.1", "{}")))).meta_json.empty());
  auto short_meta = dm;
  short_meta.pop_back();
  const auto sv = views(short_meta);
  EXPECT_FALSE(decode_agent_message(sv)) << "DONE_META takes 5 frames";
}

TEST(Protocol, BrokerToAgentRoundTrip) {
  const auto w = encode_welcome({250, 4});
  const auto wv = views(w);
  auto m = decode_broker_to_agent(wv);
  ASSERT_TRUE(m);
  EXPECT_EQ(std::get<WelcomeMsg>(*m).heartbeat_ms, 250);
  for (const auto& frames : {encode_task("{}"), encode_broker_heartbeat(), encode_broker_disconnect("x"),
                             encode_cancel("t.1.1"), encode_agent_error(make_error(Errc::kMalformed, "", "x"))}) {
    const auto v = views(frames);
    EXPECT_TRUE(decode_broker_to_agent(v)) << frames[1];
  }
}

TEST(Protocol, MalformedFramesNameWhatIsWrong) {
  struct Bad {
    std::vector<std::string_view> frames;
    Errc code;
    const char* field;
  };
  const std::string submit(1, '\x01'), bogus(1, '\x7e');
  const Bad bad[] = {
      {{}, Errc::kMalformed, "frames"},
      {{"CB01"}, Errc::kMalformed, "frames"},
      {{"XXXX", submit}, Errc::kMalformed, "protocol"},
      {{"CB02", submit}, Errc::kUnsupportedVersion, "protocol"},
      {{"CB01", "too long"}, Errc::kMalformed, "command"},
      {{"CB01", bogus, "c"}, Errc::kUnknownCommand, "command"},
      {{"CB01", submit, "c"}, Errc::kMalformed, "frames"},
      {{"CB01", submit, "", "{}"}, Errc::kMalformed, "correlation"},
      {{"CB01", submit, std::string_view("0123456789012345678901234567890123456789012345678901234567890123456789"), "{}"},
       Errc::kMalformed, "correlation"},
  };
  for (const auto& b : bad) {
    auto m = decode_client_message(b.frames);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, b.code) << m.error().describe();
    EXPECT_EQ(m.error().field, b.field) << m.error().describe();
  }
  const std::string ready(1, '\x21'), done(1, '\x22');
  const std::vector<std::string_view> bad_ready{"CB01", ready, R"({"kind":"Echo","worker":"w","capacity":1})"};
  EXPECT_EQ(decode_agent_message(bad_ready).error().field, "kind");
  const std::vector<std::string_view> zero_cap{"CB01", ready, R"({"kind":"echo","worker":"w","capacity":0})"};
  EXPECT_EQ(decode_agent_message(zero_cap).error().field, "capacity");
  const std::vector<std::string_view> extra_key{"CB01", ready, R"({"kind":"echo","worker":"w","capacity":1,"x":1})"};
  EXPECT_FALSE(decode_agent_message(extra_key));
  const std::vector<std::string_view> bad_task_id{"CB01", done, "has space", "{}"};
  EXPECT_EQ(decode_agent_message(bad_task_id).error().field, "task_id");
}

TEST(Protocol, CorrelationOfUndecodableSubmission) {
  const std::string submit(1, '\x01');
  const std::vector<std::string_view> f{"CB01", submit, "abc", "not json", "extra"};
  EXPECT_EQ(correlation_of(f), "abc");
  const std::vector<std::string_view> g{"nope", submit, "abc"};
  EXPECT_EQ(correlation_of(g), "");
}

}  // namespace
}  // namespace common::bus
