#include "auth.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace edge {
namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string hex(const unsigned char* p, std::size_t n) {
  std::string s(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    s[2 * i] = kHex[p[i] >> 4];
    s[2 * i + 1] = kHex[p[i] & 0xf];
  }
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// HMAC-SHA256 over "<t>.<METHOD>.<path>.<body>", fed in parts so the body is never copied.
Digest hmac(std::string_view secret, std::int64_t t, std::string_view method, std::string_view path, std::string_view body) {
  std::unique_ptr<EVP_MAC, decltype(&EVP_MAC_free)> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr), EVP_MAC_free);
  if (!mac) throw std::runtime_error("OpenSSL has no HMAC");
  std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(EVP_MAC_CTX_new(mac.get()), EVP_MAC_CTX_free);
  char digest_name[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0), OSSL_PARAM_construct_end()};
  const std::string ts = std::to_string(t);
  if (!ctx || EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), params) != 1) {
    throw std::runtime_error("HMAC init failed");
  }
  auto update = [&](std::string_view part) {
    if (EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(part.data()), part.size()) != 1) {
      throw std::runtime_error("HMAC update failed");
    }
  };
  update(ts);
  update(".");
  update(method);
  update(".");
  update(path);
  update(".");
  update(body);
  Digest out{};
  std::size_t n = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &n, out.size()) != 1 || n != out.size()) throw std::runtime_error("HMAC final failed");
  return out;
}

AuthResult fail(AuthError e, std::string message) {
  AuthResult r;
  r.error = e;
  r.message = std::move(message);
  return r;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view to_string(AuthError e) noexcept {
  switch (e) {
    case AuthError::kMissing: return "missing_credentials";
    case AuthError::kMalformed: return "malformed_credentials";
    case AuthError::kStale: return "stale_timestamp";
    case AuthError::kBadSignature: return "bad_signature";
    case AuthError::kReplayed: return "replayed_signature";
    case AuthError::kBadToken: return "bad_token";
    case AuthError::kOverloaded: return "overloaded";
  }
  return "unknown";
}

std::size_t Authenticator::DigestHash::operator()(const Digest& d) const noexcept {
  std::size_t h;
  std::memcpy(&h, d.data(), sizeof h);  // a SHA-256 digest is uniformly distributed already
  return h;
}

Digest sha256(std::string_view data) {
  Digest out{};
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr) != 1 || n != out.size()) {
    throw std::runtime_error("SHA-256 failed");
  }
  return out;
}

std::string to_hex(const Digest& d) {
  return hex(d.data(), d.size());
}

std::optional<Digest> digest_from_hex(std::string_view h) {
  if (h.size() != 64) return std::nullopt;
  Digest d{};
  for (std::size_t i = 0; i < d.size(); ++i) {
    const int hi = hex_value(h[2 * i]), lo = hex_value(h[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    d[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return d;
}

std::string sign(std::string_view secret, std::int64_t t, std::string_view method, std::string_view path, std::string_view body) {
  return to_hex(hmac(secret, t, method, path, body));
}

Authenticator::Authenticator(std::vector<TenantCredentials> tenants, AuthSettings settings) : settings_(settings) {
  for (auto& t : tenants) {
    if (t.secrets.empty() && t.bearer_sha256.empty()) throw std::invalid_argument("tenant " + t.tenant + ": no secrets and no bearer tokens");
    if (t.secrets.size() > 2) throw std::invalid_argument("tenant " + t.tenant + ": at most two active secrets (one old, one new)");
    for (const auto& s : t.secrets) {
      if (s.size() < 32) throw std::invalid_argument("tenant " + t.tenant + ": a secret must be at least 32 bytes");
    }
    for (const auto& d : t.bearer_sha256) {
      for (const auto& [other, o] : tenants_) {
        if (std::find(o.bearer_sha256.begin(), o.bearer_sha256.end(), d) != o.bearer_sha256.end()) {
          throw std::invalid_argument("tenant " + t.tenant + ": a bearer token is also configured for tenant " + other);
        }
      }
    }
    if (!tenants_.emplace(t.tenant, Tenant{std::move(t.secrets), std::move(t.bearer_sha256)}).second) {
      throw std::invalid_argument("tenant " + t.tenant + " is listed twice");
    }
  }
}

void Authenticator::expire(std::int64_t now_unix) {
  while (!expiries_.empty() && expiries_.top().first < now_unix) {
    seen_.erase(expiries_.top().second);
    expiries_.pop();
  }
}

AuthResult Authenticator::verify_signature(std::string_view tenant, std::string_view header, std::string_view method,
                                           std::string_view path, std::string_view body, std::int64_t now_unix) {
  if (tenant.empty() || header.empty()) return fail(AuthError::kMissing, "X-Casebus-Tenant and X-Casebus-Signature are required");
  const auto it = tenants_.find(std::string(tenant));
  // An unknown tenant is answered like a bad signature: tenant names are customer names, and the
  // answer must not tell which exist.
  if (it == tenants_.end() || it->second.secrets.empty()) return fail(AuthError::kBadSignature, "the signature does not match");
  // "t=<unix seconds>,v1=<64 hex>[,v1=<64 hex>...]"; other schemes are ignored, as in Stripe's.
  std::optional<std::int64_t> t;
  std::vector<Digest> candidates;
  std::size_t parts = 0;
  while (!header.empty()) {
    const auto comma = header.find(',');
    const std::string_view item = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    if (++parts > 8) return fail(AuthError::kMalformed, "X-Casebus-Signature has more than 8 parts");
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) return fail(AuthError::kMalformed, "X-Casebus-Signature: expected t=...,v1=...");
    const auto key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "t") {
      if (t || value.empty() || value.size() > 12 || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return fail(AuthError::kMalformed, "X-Casebus-Signature: t must be one unix time in seconds");
      }
      t = std::stoll(std::string(value));
    } else if (key == "v1") {
      auto d = digest_from_hex(value);
      if (!d) return fail(AuthError::kMalformed, "X-Casebus-Signature: v1 must be 64 hex digits");
      candidates.push_back(*d);
    }
  }
  if (!t || candidates.empty()) return fail(AuthError::kMalformed, "X-Casebus-Signature needs t= and at least one v1=");
  const std::int64_t skew = settings_.max_skew.count();
  if (*t < now_unix - skew || *t > now_unix + skew) {
    return fail(AuthError::kStale, "the signature's timestamp is more than " + std::to_string(skew) + " s from the edge's clock");
  }
  // Every secret against every candidate, each compare in constant time: the time taken does
  // not tell which part matched.
  const Digest* matched = nullptr;
  for (const auto& secret : it->second.secrets) {
    const Digest expected = hmac(secret, *t, method, path, body);
    for (const auto& c : candidates) {
      if (CRYPTO_memcmp(expected.data(), c.data(), c.size()) == 0) matched = &c;
    }
  }
  if (!matched) return fail(AuthError::kBadSignature, "the signature does not match");
  if (method == "GET" || method == "HEAD") {
    // Reads change nothing, and a client polling a case may send the same request twice in one
    // second: replay protection is for requests that act.
    AuthResult r;
    r.tenant = std::string(tenant);
    return r;
  }
  expire(now_unix);
  // Remember (tenant, t, signature) until it would be stale anyway.
  std::string key(tenant);
  key += '\n';
  key += std::to_string(*t);
  key += '\n';
  key.append(reinterpret_cast<const char*>(matched->data()), matched->size());
  const Digest id = sha256(key);
  if (seen_.count(id)) return fail(AuthError::kReplayed, "this signature was already used");
  if (seen_.size() >= settings_.replay_cache_limit) {
    return fail(AuthError::kOverloaded, "too many signed requests in the replay window; retry later");
  }
  seen_.insert(id);
  expiries_.emplace(*t + skew, id);
  AuthResult r;
  r.tenant = std::string(tenant);
  return r;
}

AuthResult Authenticator::verify_bearer(std::string_view authorization) const {
  if (authorization.empty()) return fail(AuthError::kMissing, "credentials are required");
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size() || authorization.substr(0, kScheme.size()) != kScheme) {
    return fail(AuthError::kMalformed, "Authorization: expected \"Bearer <token>\"");
  }
  const Digest presented = sha256(trim(authorization.substr(kScheme.size())));
  // Compare against every token of every tenant, all in constant time.
  const std::string* tenant = nullptr;
  for (const auto& [name, t] : tenants_) {
    for (const auto& d : t.bearer_sha256) {
      if (CRYPTO_memcmp(presented.data(), d.data(), d.size()) == 0) tenant = &name;
    }
  }
  if (!tenant) return fail(AuthError::kBadToken, "the bearer token is not valid");
  AuthResult r;
  r.tenant = *tenant;
  return r;
}

}  // namespace edge
