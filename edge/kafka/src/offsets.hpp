#pragma once
// Which offset of a partition may be committed: the first one not yet finished (a case durably
// accepted by the broker, or an event durably on the dead-letter topic). Events finish out of
// order (submissions are pipelined); the committed offset only moves over a finished prefix, so a
// crash or rebalance redelivers what was not finished, never skips it.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace ingest {

class PartitionOffsets final {
 public:
  // An event taken from the partition (offsets increase).
  void started(std::int64_t offset);
  void finished(std::int64_t offset);
  // The offset to commit (the next one to read after a restart), when it moved since the last
  // call to committed(); nullopt otherwise.
  std::optional<std::int64_t> to_commit() const;
  void committed(std::int64_t offset) { last_committed_ = offset; }
  std::size_t in_flight() const { return pending_.size(); }

 private:
  std::set<std::int64_t> pending_;
  std::int64_t next_ = -1;  // one past the highest offset started
  std::int64_t last_committed_ = -1;
};

}  // namespace ingest
