#include "common/util/json.hpp"

#include <gtest/gtest.h>

namespace common::json {
namespace {

TEST(AppendString, EscapesWhatJsonRequires) {
  const std::string inputs[] = {"plain", "quote\"back\\slash", "line\nfeed\ttab\r", std::string("nul\0x", 5),
                                "\x01\x1f", "unicode é ✓"};
  for (const auto& in : inputs) {
    std::string out;
    append_string(out, in);
    EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), in) << out;
  }
}

TEST(RejectUnknownKeys, NamesTheKey) {
  const auto j = nlohmann::json::parse(R"({"a":1,"typo":2})");
  try {
    reject_unknown_keys(j, {"a", "b"});
    FAIL() << "expected an exception";
  } catch (const nlohmann::json::exception& e) {
    EXPECT_NE(std::string(e.what()).find("typo"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(reject_unknown_keys(j, {"a", "typo"}));
}

TEST(OptionalSerializer, NullMeansEmpty) {
  std::optional<int> v = 3;
  nlohmann::json::parse("null").get_to(v);
  EXPECT_FALSE(v);
  nlohmann::json::parse("7").get_to(v);
  EXPECT_EQ(v, 7);
  EXPECT_EQ(nlohmann::json(std::optional<int>{}).dump(), "null");
}

}  // namespace
}  // namespace common::json
