#include "cases.hpp"

namespace edge {

void CaseTable::accepted(const std::string& case_id, const std::string& tenant, Clock::time_point now) {
  expire(now);
  // At the bound, forget the oldest finished cases first; unfinished ones are never dropped here
  // (the tenant's in-flight cap bounds them).
  while (cases_.size() >= max_cases_ && !finished_order_.empty()) {
    cases_.erase(finished_order_.front().second);
    finished_order_.pop_front();
  }
  Entry e;
  e.tenant = tenant;
  cases_.emplace(case_id, std::move(e));
  ++in_flight_[tenant];
}

void CaseTable::finished(const std::string& case_id, std::string final_json, Clock::time_point now) {
  auto it = cases_.find(case_id);
  if (it == cases_.end() || it->second.finished) return;
  Entry& e = it->second;
  e.finished = true;
  e.final_json = std::move(final_json);
  e.finished_at = now;
  if (auto f = in_flight_.find(e.tenant); f != in_flight_.end() && f->second > 0 && --f->second == 0) in_flight_.erase(f);
  finished_order_.emplace_back(now, case_id);
  auto waiters = std::move(e.waiters);
  e.waiters.clear();
  for (auto& [id, w] : waiters) w();
}

const CaseTable::Entry* CaseTable::find(const std::string& case_id, const std::string& tenant) const {
  auto it = cases_.find(case_id);
  if (it == cases_.end() || it->second.tenant != tenant) return nullptr;
  return &it->second;
}

std::uint64_t CaseTable::wait(const std::string& case_id, Waiter w) {
  auto it = cases_.find(case_id);
  if (it == cases_.end() || it->second.finished) return 0;
  const auto id = it->second.next_waiter++;
  it->second.waiters.emplace(id, std::move(w));
  return id;
}

void CaseTable::cancel_wait(const std::string& case_id, std::uint64_t id) {
  if (auto it = cases_.find(case_id); it != cases_.end()) it->second.waiters.erase(id);
}

std::size_t CaseTable::in_flight(const std::string& tenant) const {
  auto it = in_flight_.find(tenant);
  return it == in_flight_.end() ? 0 : it->second;
}

void CaseTable::expire(Clock::time_point now) {
  while (!finished_order_.empty() && now - finished_order_.front().first > retention_) {
    cases_.erase(finished_order_.front().second);
    finished_order_.pop_front();
  }
  while (!key_order_.empty() && key_order_.front().first <= now) {
    auto it = keys_.find(key_order_.front().second);
    if (it != keys_.end() && it->second.expires <= now) keys_.erase(it);
    key_order_.pop_front();
  }
}

CaseTable::Claim CaseTable::claim(const std::string& tenant, const std::string& key, const std::string& body_digest,
                                  Clock::time_point now, std::string& case_id) {
  expire(now);
  const std::string k = tenant + '\n' + key;
  auto it = keys_.find(k);
  if (it == keys_.end()) {
    // Bounded in number as well as time: past max_cases keys, the oldest settled one is
    // forgotten; one still in progress never is (a retry must not become a second case).
    while (keys_.size() >= max_cases_ && !key_order_.empty()) {
      auto oldest = keys_.find(key_order_.front().second);
      if (oldest != keys_.end() && oldest->second.expires == key_order_.front().first) {
        if (oldest->second.case_id.empty()) return Claim::kFull;
        keys_.erase(oldest);
      }
      key_order_.pop_front();  // or a stale entry of a released or re-claimed key
    }
    if (keys_.size() >= max_cases_) return Claim::kFull;
    const auto expires = now + idempotency_retention_;
    keys_.emplace(k, Key{"", body_digest, expires});
    key_order_.emplace_back(expires, k);
    return Claim::kNew;
  }
  if (it->second.body_digest != body_digest) return Claim::kConflict;
  if (it->second.case_id.empty()) return Claim::kInProgress;
  case_id = it->second.case_id;
  return Claim::kExisting;
}

void CaseTable::bind(const std::string& tenant, const std::string& key, const std::string& case_id) {
  if (auto it = keys_.find(tenant + '\n' + key); it != keys_.end()) it->second.case_id = case_id;
}

void CaseTable::release(const std::string& tenant, const std::string& key) {
  keys_.erase(tenant + '\n' + key);
}

}  // namespace edge
