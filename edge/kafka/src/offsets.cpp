#include "offsets.hpp"

namespace ingest {

void PartitionOffsets::started(std::int64_t offset) {
  pending_.insert(offset);
  if (offset + 1 > next_) next_ = offset + 1;
}

void PartitionOffsets::finished(std::int64_t offset) {
  pending_.erase(offset);
}

std::optional<std::int64_t> PartitionOffsets::to_commit() const {
  if (next_ < 0) return std::nullopt;
  const std::int64_t safe = pending_.empty() ? next_ : *pending_.begin();
  if (safe <= last_committed_) return std::nullopt;
  return safe;
}

}  // namespace ingest
