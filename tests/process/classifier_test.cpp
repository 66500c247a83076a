// The classifier agent through the real broker.
#include "stack.hpp"

#include <gtest/gtest.h>

namespace testsupport {
namespace {

using nlohmann::json;

std::string classifier_case(const std::string& message) {
  return json{{"v", 1}, {"type", "case"}, {"tenant", "acme"}, {"to", "classifier"},
              {"payload", {{"kind", "support_message"}, {"channel", "web"}, {"customer_ref", "cust-10492"}, {"message", message}}}}
      .dump();
}

TEST(ClassifierAgent, ClassifiesThroughTheBroker) {
  Stack s;
  s.start_broker();
  s.start_agent("classifier-1", {}, Binaries::classifier());
  const auto r = s.submit(classifier_case("I was charged twice on my debit card yesterday."));
  ASSERT_EQ(r.status, common::bus::Outcome::Status::kCompleted) << r.error.describe();
  const auto c = json::parse(r.body);
  EXPECT_EQ(c.at("status"), "completed");
  EXPECT_EQ(c.at("result").at("intent"), "card_dispute");
  EXPECT_GT(c.at("result").at("confidence").get<double>(), 0.7);
  EXPECT_EQ(c.at("result").at("entities").at("dates").at(0), "yesterday");
  EXPECT_EQ(c.at("context").at("classifier").at("intent"), "card_dispute");
}

TEST(ClassifierAgent, InvalidPayloadFailsNamingTheField) {
  Stack s;
  s.start_broker();
  s.start_agent("classifier-1", {}, Binaries::classifier());
  const auto r = s.submit(json{{"v", 1}, {"type", "case"}, {"tenant", "acme"}, {"to", "classifier"}, {"payload", json::object()}}.dump());
  ASSERT_EQ(r.status, common::bus::Outcome::Status::kCompleted);
  const auto c = json::parse(r.body);
  EXPECT_EQ(c.at("status"), "failed");
  EXPECT_NE(c.at("trail").at(0).at("error").at("message").get<std::string>().find("payload.kind"), std::string::npos);
}

}  // namespace
}  // namespace testsupport
