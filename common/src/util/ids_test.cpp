#include "common/util/ids.hpp"

#include <gtest/gtest.h>

#include <set>

namespace common {
namespace {

TEST(Ids, CaseIdsAreUniqueAndWellFormed) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto id = new_case_id();
    EXPECT_EQ(id.size(), 34u);
    EXPECT_TRUE(id.starts_with("c-"));
    EXPECT_TRUE(seen.insert(id).second);
  }
}

TEST(Traceparent, GeneratedOnesAreValid) {
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(valid_traceparent(new_traceparent()));
}

TEST(Traceparent, RejectsMalformed) {
  EXPECT_TRUE(valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(valid_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
  EXPECT_FALSE(valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
  EXPECT_FALSE(valid_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(valid_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"));
  EXPECT_FALSE(valid_traceparent(""));
}

}  // namespace
}  // namespace common
