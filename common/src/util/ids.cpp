#include "common/util/ids.hpp"

#include <sys/random.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace common {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void fill_random(unsigned char* buf, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t r = ::getrandom(buf + done, n - done, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed");
    }
    done += static_cast<std::size_t>(r);
  }
}

void append_hex(std::string& out, const unsigned char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 0xf]);
  }
}

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

// Random bytes from a per-thread buffer refilled by getrandom(2) 4 KiB at a time: one syscall per
// 256 identifiers instead of one each (it showed in the broker's profile).
void take_random(unsigned char* out, std::size_t n) {
  thread_local std::array<unsigned char, 4096> pool{};
  thread_local std::size_t used = pool.size();
  if (used + n > pool.size()) {
    fill_random(pool.data(), pool.size());
    used = 0;
  }
  std::memcpy(out, pool.data() + used, n);
  used += n;
}

std::string random_hex128() {
  std::array<unsigned char, 16> b{};
  take_random(b.data(), b.size());
  std::string s;
  s.reserve(32);
  append_hex(s, b.data(), b.size());
  return s;
}

// "c-" + 32 hex digits: 12 of the wall clock in milliseconds, then 20 random (80 bits). Ids made
// later sort later, so the broker's store appends them at the end of its index instead of touching
// a random page per new case (write volume per commit; docs/storage.md). Still unguessable.
std::string new_case_id() {
  const auto ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  std::array<unsigned char, 16> b{};
  for (int i = 0; i < 6; ++i) b[static_cast<std::size_t>(i)] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  take_random(b.data() + 6, 10);
  std::string s = "c-";
  s.reserve(34);
  append_hex(s, b.data(), b.size());
  return s;
}

std::string new_traceparent() {
  std::array<unsigned char, 24> b{};
  take_random(b.data(), b.size());
  b[0] |= 1;   // never an all-zero trace id
  b[16] |= 1;  // never an all-zero parent id
  std::string s = "00-";
  append_hex(s, b.data(), 16);
  s += '-';
  append_hex(s, b.data() + 16, 8);
  s += "-01";
  return s;
}

bool valid_traceparent(std::string_view s) {
  // version "-" trace-id(32) "-" parent-id(16) "-" flags(2)
  if (s.size() != 55 || s[2] != '-' || s[35] != '-' || s[52] != '-') return false;
  const auto version = s.substr(0, 2), trace = s.substr(3, 32), parent = s.substr(36, 16),
             flags = s.substr(53, 2);
  if (!is_lower_hex(version) || !is_lower_hex(trace) || !is_lower_hex(parent) ||
      !is_lower_hex(flags) || version == "ff") {
    return false;
  }
  return trace.find_first_not_of('0') != std::string_view::npos &&
         parent.find_first_not_of('0') != std::string_view::npos;
}

}  // namespace common
