#include "broker/settings.hpp"

#include <gtest/gtest.h>

namespace broker {
namespace {

TEST(BrokerSettings, DefaultsWorkOnLocalhost) {
  Settings s;
  nlohmann::json::object().get_to(s);
  EXPECT_EQ(s.client_endpoint, "tcp://127.0.0.1:7101");
  EXPECT_EQ(s.agent_endpoint, "tcp://127.0.0.1:7102");
  EXPECT_EQ(s.core.heartbeat_interval.count(), 1000);
}

TEST(BrokerSettings, ReadsValues) {
  Settings s;
  nlohmann::json::parse(R"({"queue_limit": 5, "heartbeat_interval_ms": 200, "log": {"level": "debug"}})").get_to(s);
  EXPECT_EQ(s.core.queue_limit, 5u);
  EXPECT_EQ(s.core.heartbeat_interval.count(), 200);
  EXPECT_EQ(s.log.level, "debug");
}

TEST(BrokerSettings, RejectsUnknownKeysAndBadRanges) {
  Settings s;
  EXPECT_THROW(nlohmann::json::parse(R"({"queue_limt": 5})").get_to(s), nlohmann::json::exception);
  EXPECT_THROW(nlohmann::json::parse(R"({"queue_limit": 0})").get_to(s), std::invalid_argument);
  try {
    nlohmann::json::parse(R"({"heartbeat_interval_ms": "fast"})").get_to(s);
    ADD_FAILURE() << "accepted a string for a duration";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("heartbeat_interval_ms"), std::string::npos) << e.what();
  }
  try {
    nlohmann::json::parse(R"({"client_endpoint": 7101})").get_to(s);
    ADD_FAILURE() << "accepted a number for an endpoint";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("client_endpoint"), std::string::npos) << e.what();
  }
  EXPECT_THROW(nlohmann::json::parse(R"({"client_endpoint": "tcp://x:1", "agent_endpoint": "tcp://x:1"})").get_to(s),
               std::invalid_argument);
  EXPECT_THROW(nlohmann::json::parse(R"({"log": {"level": "loud"}})").get_to(s), std::invalid_argument);
}

}  // namespace
}  // namespace broker
