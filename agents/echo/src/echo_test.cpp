#include "echo.hpp"

#include <gtest/gtest.h>

namespace agents::echo {
namespace {

TEST(EchoPlan, CountsMessageCharacters) {
  auto p = plan(R"({"message":"hello"})", 1);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->chars, 5u);
  EXPECT_EQ(p->failure, Plan::Failure::kNone);
}

TEST(EchoPlan, ReadsDirectives) {
  auto p = plan(R"({"echo":{"delay_ms":250,"next":"echo"}})", 1);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->delay_ms, 250);
  EXPECT_EQ(p->next, "echo");
  EXPECT_EQ(plan(R"({"echo":{"fail":"fatal"}})", 1)->failure, Plan::Failure::kFatal);
  EXPECT_EQ(plan(R"({"echo":{"fail_attempts":2}})", 2)->failure, Plan::Failure::kRetryable);
  EXPECT_EQ(plan(R"({"echo":{"fail_attempts":2}})", 3)->failure, Plan::Failure::kNone);
}

TEST(EchoPlan, BadDirectivesNameTheField) {
  struct Bad {
    const char* payload;
    const char* field;
  } bad[] = {{R"({"echo":{"delay_ms":-1}})", "payload.echo.delay_ms"},
             {R"({"echo":{"delay_ms":"slow"}})", "payload.echo.delay_ms"},
             {R"({"echo":{"fail":"sometimes"}})", "payload.echo.fail"},
             {R"({"echo":{"next":"No-Such"}})", "payload.echo.next"},
             {R"({"echo":{"bogus":1}})", "payload.echo.bogus"},
             {R"({"echo":[]})", "payload.echo"}};
  for (const auto& b : bad) {
    auto p = plan(b.payload, 1);
    ASSERT_FALSE(p) << b.payload;
    EXPECT_EQ(p.error().field, b.field);
  }
}

}  // namespace
}  // namespace agents::echo
