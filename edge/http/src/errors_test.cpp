#include "errors.hpp"

#include <gtest/gtest.h>

namespace edge {
namespace {

using common::Errc;
using std::chrono::seconds;

TEST(HttpError, EachCodeHasItsDocumentedStatus) {
  struct Row {
    Errc code;
    unsigned status;
    std::string_view wire;
    seconds retry_after;
  };
  const Row rows[] = {
      {Errc::kMalformed, 400, "malformed", seconds(0)},
      {Errc::kInvalidField, 400, "invalid_field", seconds(0)},
      {Errc::kDeadlineExceeded, 400, "deadline_exceeded", seconds(0)},
      {Errc::kNotFound, 404, "not_found", seconds(0)},
      // The broker's Idempotency-Key check answers like the edge's own.
      {Errc::kDuplicate, 422, "idempotency_key_reused", seconds(0)},
      {Errc::kBusy, 503, "busy", seconds(1)},
      {Errc::kStorageUnavailable, 503, "storage_unavailable", seconds(1)},
      {Errc::kShuttingDown, 503, "broker_unavailable", seconds(1)},
      {Errc::kTimeout, 503, "broker_unavailable", seconds(1)},
      {Errc::kInternal, 503, "broker_unavailable", seconds(1)},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(common::to_string(r.code));
    const auto e = http_error(r.code);
    EXPECT_EQ(e.status, r.status);
    EXPECT_EQ(e.code, r.wire);
    EXPECT_EQ(e.retry_after, r.retry_after);
  }
}

TEST(HttpError, EveryServiceUnavailableSaysWhenToRetry) {
  for (int i = static_cast<int>(Errc::kOk); i <= static_cast<int>(Errc::kInternal); ++i) {
    const auto code = static_cast<Errc>(i);
    SCOPED_TRACE(common::to_string(code));
    const auto e = http_error(code);
    EXPECT_TRUE(e.status == 400 || e.status == 404 || e.status == 422 || e.status == 503) << e.status;
    EXPECT_EQ(e.status == 503, e.retry_after > seconds(0));
    EXPECT_FALSE(e.code.empty());
  }
}

}  // namespace
}  // namespace edge
