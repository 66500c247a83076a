#include "offsets.hpp"

#include <gtest/gtest.h>

namespace ingest {
namespace {

TEST(PartitionOffsets, CommitsOnlyOverAFinishedPrefix) {
  PartitionOffsets p;
  EXPECT_FALSE(p.to_commit()) << "nothing read yet";
  for (std::int64_t o = 10; o < 15; ++o) p.started(o);
  EXPECT_EQ(p.to_commit(), 10) << "the first unfinished event is where a restart must begin";
  p.committed(10);
  EXPECT_FALSE(p.to_commit()) << "did not move";
  p.finished(12);
  p.finished(11);
  EXPECT_FALSE(p.to_commit()) << "10 is still out: 11 and 12 must not be skipped";
  p.finished(10);
  EXPECT_EQ(p.to_commit(), 13);
  p.committed(13);
  p.finished(14);
  p.finished(13);
  EXPECT_EQ(p.to_commit(), 15) << "all finished: the next offset to read";
  EXPECT_EQ(p.in_flight(), 0u);
}

TEST(PartitionOffsets, GapsInOffsetsAreFine) {
  // Compacted topics and transaction markers leave gaps; only what was read counts.
  PartitionOffsets p;
  p.started(100);
  p.started(105);
  p.finished(105);
  EXPECT_EQ(p.to_commit(), 100);
  p.finished(100);
  EXPECT_EQ(p.to_commit(), 106);
}

}  // namespace
}  // namespace ingest
