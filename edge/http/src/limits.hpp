#pragma once
// Token buckets per key (tenant, or tenant and customer), with injected time. A bucket holds up to
// `burst` tokens and refills at `rate` per second; a request takes one. The map of buckets is
// bounded: full buckets are the same as no bucket, so they are the ones dropped first.
#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>

namespace edge {

using Clock = std::chrono::steady_clock;

class RateLimiter final {
 public:
  explicit RateLimiter(std::size_t max_keys = 100000) : max_keys_(max_keys) {}

  // Takes a token for key; when none is left returns false and sets retry_after to when one will be.
  bool take(const std::string& key, double rate, double burst, Clock::time_point now, std::chrono::seconds& retry_after);
  std::size_t keys() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point at;
  };
  void prune(Clock::time_point now);

  std::size_t max_keys_;
  std::unordered_map<std::string, Bucket> buckets_;
  // Refill parameters of the last call per key are not kept: a full bucket is recognisable by
  // time since its last use, see prune().
  std::unordered_map<std::string, double> seconds_to_full_;
};

}  // namespace edge
