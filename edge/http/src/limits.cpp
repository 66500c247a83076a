#include "limits.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace edge {

bool RateLimiter::take(const std::string& key, double rate, double burst, Clock::time_point now, std::chrono::seconds& retry_after) {
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) prune(now);
    it = buckets_.emplace(key, Bucket{burst, now}).first;
  }
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.at).count();
  b.tokens = std::min(burst, b.tokens + std::max(0.0, elapsed) * rate);
  b.at = now;
  seconds_to_full_[key] = burst / rate;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  retry_after = std::chrono::seconds(static_cast<long>(std::ceil((1 - b.tokens) / rate)));
  if (retry_after < std::chrono::seconds(1)) retry_after = std::chrono::seconds(1);
  return false;
}

void RateLimiter::prune(Clock::time_point now) {
  // Buckets that have refilled completely carry no state: drop them first.
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const double idle = std::chrono::duration<double>(now - it->second.at).count();
    if (idle >= seconds_to_full_[it->first]) {
      seconds_to_full_.erase(it->first);
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
  // Still full of busy keys: drop the least recently used half (they lose their debt, which
  // errs towards letting requests through rather than growing without bound).
  if (buckets_.size() >= max_keys_) {
    std::vector<std::pair<Clock::time_point, std::string>> by_age;
    by_age.reserve(buckets_.size());
    for (const auto& [k, b] : buckets_) by_age.emplace_back(b.at, k);
    std::sort(by_age.begin(), by_age.end());
    // At least one, so that a bound of 1 holds too.
    const std::size_t drop = std::max<std::size_t>(1, by_age.size() / 2);
    for (std::size_t i = 0; i < drop; ++i) {
      buckets_.erase(by_age[i].second);
      seconds_to_full_.erase(by_age[i].second);
    }
  }
}

}  // namespace edge
