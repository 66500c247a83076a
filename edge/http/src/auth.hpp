#pragma once
// Who may call the edge (docs/api.md#authentication): requests from the Cloudflare Worker carry a
// signature in the style of Stripe's webhook signatures, internal callers a bearer token.
//
//   X-Casebus-Tenant: acme
//   X-Casebus-Signature: t=1795250700,v1=<hex HMAC-SHA256(secret, "<t>.<METHOD>.<path>.<raw body>")>
//
// Several v1= may appear while a key rotates; each tenant has up to two active secrets. The
// signature is checked before the body is parsed, with a constant-time compare; a timestamp more
// than max_skew away from now is stale; a signature already seen within the window is a replay
// (for requests that act: a GET or HEAD may repeat).
// Bearer tokens are configured as SHA-256 hashes, so the config never holds a usable token.
//
// Not thread-safe (the replay cache): one Authenticator per io_context thread.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace edge {

using Digest = std::array<unsigned char, 32>;

struct TenantCredentials {
  std::string tenant;
  std::vector<std::string> secrets;  // HMAC keys, at most two active at once
  std::vector<Digest> bearer_sha256;  // SHA-256 of each bearer token that may act for the tenant
};

struct AuthSettings {
  std::chrono::seconds max_skew{300};
  std::size_t replay_cache_limit = 1'000'000;  // signatures remembered at once
};

enum class AuthError {
  kMissing,        // no credentials at all
  kMalformed,      // a header that does not parse
  kStale,          // timestamp outside the window
  kBadSignature,
  kReplayed,
  kBadToken,
  kOverloaded,     // the replay cache is full of live entries: refuse rather than forget
};
std::string_view to_string(AuthError e) noexcept;

struct AuthResult {
  std::string tenant;  // set when authenticated
  std::optional<AuthError> error;
  std::string message;  // for the client; never contains a secret, token or signature
  bool ok() const { return !error; }
};

class Authenticator final {
 public:
  // Throws std::invalid_argument for a tenant without credentials, more than two secrets, an
  // empty or short (< 32 bytes) secret, or a tenant listed twice.
  Authenticator(std::vector<TenantCredentials> tenants, AuthSettings settings);

  AuthResult verify_signature(std::string_view tenant, std::string_view signature_header, std::string_view method,
                              std::string_view path, std::string_view body, std::int64_t now_unix);
  // authorization: the whole header value, "Bearer <token>".
  AuthResult verify_bearer(std::string_view authorization) const;

  std::size_t replay_entries() const { return seen_.size(); }

 private:
  struct Tenant {
    std::vector<std::string> secrets;
    std::vector<Digest> bearer_sha256;
  };
  void expire(std::int64_t now_unix);

  std::unordered_map<std::string, Tenant> tenants_;
  AuthSettings settings_;
  // Replay cache: a digest of (tenant, t, signature) until t + max_skew, when it would be stale.
  struct DigestHash {
    std::size_t operator()(const Digest& d) const noexcept;
  };
  std::unordered_set<Digest, DigestHash> seen_;
  // Earliest expiry on top.
  std::priority_queue<std::pair<std::int64_t, Digest>, std::vector<std::pair<std::int64_t, Digest>>, std::greater<>> expiries_;
};

// The v1 signature a caller sends (lower-case hex): for clients, tests and the docs' example.
std::string sign(std::string_view secret, std::int64_t t, std::string_view method, std::string_view path,
                 std::string_view body);
// SHA-256 of a token, for the config (bearer_sha256 entries), and hex helpers.
Digest sha256(std::string_view data);
std::string to_hex(const Digest& d);
std::optional<Digest> digest_from_hex(std::string_view hex);

}  // namespace edge
