#pragma once
// What the edge remembers about the cases it submitted: their owner, whether they finished, the
// final case, who is waiting for it, and the Idempotency-Keys that point at them. Bounded in
// number and in time, with injected time; one io_context thread, not thread-safe.
//
// A cache in front of the broker's store: GET /v1/cases/{id} answers from here for the cases
// submitted through this edge process within case_retention, and asks the broker for the others.
#include "limits.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace edge {

class CaseTable final {
 public:
  using Waiter = std::function<void()>;

  CaseTable(std::size_t max_cases, std::chrono::seconds retention, std::chrono::seconds idempotency_retention)
      : max_cases_(max_cases), retention_(retention), idempotency_retention_(idempotency_retention) {}

  struct Entry {
    std::string tenant;
    bool finished = false;
    std::string final_json;  // set when finished
    Clock::time_point finished_at{};
    std::uint64_t next_waiter = 1;
    std::unordered_map<std::uint64_t, Waiter> waiters;
  };

  // A case the broker accepted for tenant.
  void accepted(const std::string& case_id, const std::string& tenant, Clock::time_point now);
  // Its final case arrived (or the edge gave up on it: final_json is then an error document).
  // Wakes every waiter.
  void finished(const std::string& case_id, std::string final_json, Clock::time_point now);
  // The case, only for its own tenant: another tenant gets nothing, as for an unknown id.
  const Entry* find(const std::string& case_id, const std::string& tenant) const;
  // Calls w once when the case finishes; returns an id to cancel with, or 0 when the case is
  // unknown or already finished (w is not called then).
  std::uint64_t wait(const std::string& case_id, Waiter w);
  void cancel_wait(const std::string& case_id, std::uint64_t id);

  // Idempotency-Key: the first request with a key claims it; later ones with the same key and
  // body get its case id (or "in progress" while the first is being submitted).
  // kFull: max_cases keys are held and the oldest is still in progress (never forgotten).
  enum class Claim { kNew, kInProgress, kExisting, kConflict, kFull };
  Claim claim(const std::string& tenant, const std::string& key, const std::string& body_digest, Clock::time_point now,
              std::string& case_id);
  // The claimed key now points at case_id; or, after a refused submission, release it.
  void bind(const std::string& tenant, const std::string& key, const std::string& case_id);
  void release(const std::string& tenant, const std::string& key);

  std::size_t size() const { return cases_.size(); }
  std::size_t in_flight(const std::string& tenant) const;
  void expire(Clock::time_point now);

 private:
  struct Key {
    std::string case_id;  // empty while in progress
    std::string body_digest;
    Clock::time_point expires;
  };
  std::size_t max_cases_;
  std::chrono::seconds retention_, idempotency_retention_;
  std::unordered_map<std::string, Entry> cases_;
  std::deque<std::pair<Clock::time_point, std::string>> finished_order_;  // for retention
  std::deque<std::string> accepted_order_;                                // for the bound
  std::unordered_map<std::string, std::size_t> in_flight_;                // by tenant
  std::unordered_map<std::string, Key> keys_;                             // tenant \n key
  std::deque<std::pair<Clock::time_point, std::string>> key_order_;
};

}  // namespace edge
