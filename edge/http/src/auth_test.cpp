#include "auth.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace edge {
namespace {

constexpr std::string_view kSecret = "whsec_0123456789abcdef0123456789abcdef";
constexpr std::string_view kNewSecret = "whsec_fedcba9876543210fedcba9876543210";
constexpr std::string_view kBody =
    R"({"kind":"support_message","channel":"web","customer_ref":"cust-10492","message":"I was charged twice on my debit card yesterday."})";
constexpr std::int64_t kNow = 1795250700;

Authenticator make(std::size_t replay_limit = 1000) {
  TenantCredentials acme{"acme", {std::string(kSecret), std::string(kNewSecret)}, {sha256("internal-token-please-rotate-0001")}};
  TenantCredentials other{"other", {"whsec_other_other_other_other_other_0000"}, {}};
  return Authenticator({acme, other}, AuthSettings{std::chrono::seconds(300), replay_limit});
}

std::string header(std::int64_t t, std::initializer_list<std::string> v1s) {
  std::string h = "t=" + std::to_string(t);
  for (const auto& v : v1s) h += ",v1=" + v;
  return h;
}

TEST(Signature, WorkedExampleMatchesAnIndependentImplementation) {
  // The example in docs/api.md, computed with Python's hmac module.
  EXPECT_EQ(sign(kSecret, kNow, "POST", "/v1/cases", kBody), "ec8a164ef8659668e3fa6bf7890001ec728515b642bae3b7682325e37a93b6e7");
  EXPECT_EQ(to_hex(sha256("internal-token-please-rotate-0001")), "ff161a0a2fcb19738889cf8a63e2835c68affb1f866991ef1e1b273aebad0802");
}

TEST(Signature, AcceptsValidSignaturesAndKeyRotation) {
  auto auth = make();
  auto r = auth.verify_signature("acme", header(kNow, {sign(kSecret, kNow, "POST", "/v1/cases", kBody)}), "POST", "/v1/cases", kBody, kNow);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.tenant, "acme");
  // Signed with the new secret, within the skew, with an old signature alongside.
  const std::int64_t t = kNow - 299;
  r = auth.verify_signature("acme", header(t, {std::string(64, '0'), sign(kNewSecret, t, "POST", "/v1/cases", kBody)}), "POST",
                            "/v1/cases", kBody, kNow);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(auth.replay_entries(), 2u);
}

TEST(Signature, RefusesWhatItShould) {
  struct Row {
    const char* name;
    std::string tenant, header, method, path, body;
    std::int64_t now;
    AuthError error;
  };
  const std::string good = sign(kSecret, kNow, "POST", "/v1/cases", kBody);
  const Row rows[] = {
      {"no header", "acme", "", "POST", "/v1/cases", std::string(kBody), kNow, AuthError::kMissing},
      {"no tenant", "", header(kNow, {good}), "POST", "/v1/cases", std::string(kBody), kNow, AuthError::kMissing},
      {"unknown tenant", "globex", header(kNow, {good}), "POST", "/v1/cases", std::string(kBody), kNow, AuthError::kBadSignature},  // not telling which tenants exist
      {"other tenant's secret", "other", header(kNow, {good}), "POST", "/v1/cases", std::string(kBody), kNow, AuthError::kBadSignature},
      {"body changed", "acme", header(kNow, {good}), "POST", "/v1/cases", std::string(kBody) + " ", kNow, AuthError::kBadSignature},
      {"path changed", "acme", header(kNow, {good}), "POST", "/v1/route", std::string(kBody), kNow, AuthError::kBadSignature},
      {"method changed", "acme", header(kNow, {good}), "PUT", "/v1/cases", std::string(kBody), kNow, AuthError::kBadSignature},
      {"timestamp changed", "acme", header(kNow + 1, {good}), "POST", "/v1/cases", std::string(kBody), kNow, AuthError::kBadSignature},
      {"too old", "acme", header(kNow, {good}), "POST", "/v1/cases", std::string(kBody), kNow + 301, AuthError::kStale},
      {"from the future", "acme", header(kNow, {good}), "POST", "/v1/cases", std::string(kBody), kNow - 301, AuthError::kStale},
      {"no t", "acme", "v1=" + good, "POST", "/v1/cases", std::string(kBody), kNow, AuthError::kMalformed},
      {"no v1", "acme", "t=" + std::to_string(kNow), "POST", "/v1/cases", std::string(kBody), kNow, AuthError::kMalformed},
      {"t twice", "acme", header(kNow, {good}) + ",t=1", "POST", "/v1/cases", std::string(kBody), kNow, AuthError::kMalformed},
      {"t not a number", "acme", "t=soon,v1=" + good, "POST", "/v1/cases", std::string(kBody), kNow, AuthError::kMalformed},
      {"short hex", "acme", header(kNow, {good.substr(1)}), "POST", "/v1/cases", std::string(kBody), kNow, AuthError::kMalformed},
      {"not hex", "acme", header(kNow, {std::string(64, 'g')}), "POST", "/v1/cases", std::string(kBody), kNow, AuthError::kMalformed},
      {"no equals", "acme", "garbage", "POST", "/v1/cases", std::string(kBody), kNow, AuthError::kMalformed},
      {"too many parts", "acme", header(kNow, {good, good, good, good, good, good, good, good}), "POST", "/v1/cases", std::string(kBody),
       kNow, AuthError::kMalformed},
  };
  for (const auto& r : rows) {
    auto auth = make();
    const auto res = auth.verify_signature(r.tenant, r.header, r.method, r.path, r.body, r.now);
    ASSERT_FALSE(res.ok()) << r.name;
    EXPECT_EQ(*res.error, r.error) << r.name << ": " << res.message;
    EXPECT_EQ(res.message.find(good), std::string::npos) << "a message must not echo the signature";
    EXPECT_EQ(auth.replay_entries(), 0u) << r.name;
  }
}

TEST(Signature, ARepeatIsAReplayUntilItWouldBeStale) {
  auto auth = make();
  const std::string h = header(kNow, {sign(kSecret, kNow, "POST", "/v1/cases", kBody)});
  ASSERT_TRUE(auth.verify_signature("acme", h, "POST", "/v1/cases", kBody, kNow).ok());
  auto again = auth.verify_signature("acme", h, "POST", "/v1/cases", kBody, kNow + 10);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(*again.error, AuthError::kReplayed);
  // The same signature with garbage next to it is still the same signature.
  again = auth.verify_signature("acme", h + ",v1=" + std::string(64, 'a'), "POST", "/v1/cases", kBody, kNow + 20);
  EXPECT_EQ(*again.error, AuthError::kReplayed);
  // Past the window it is stale, and the cache has let it go.
  again = auth.verify_signature("acme", h, "POST", "/v1/cases", kBody, kNow + 301);
  EXPECT_EQ(*again.error, AuthError::kStale);
  const std::int64_t later = kNow + 400;
  ASSERT_TRUE(auth.verify_signature("acme", header(later, {sign(kSecret, later, "POST", "/v1/cases", kBody)}), "POST", "/v1/cases",
                                    kBody, later)
                  .ok());
  EXPECT_EQ(auth.replay_entries(), 1u);
}

TEST(Signature, ReadsMayRepeat) {
  auto auth = make();
  const std::string h = header(kNow, {sign(kSecret, kNow, "GET", "/v1/cases/c-1", "")});
  EXPECT_TRUE(auth.verify_signature("acme", h, "GET", "/v1/cases/c-1", "", kNow).ok());
  EXPECT_TRUE(auth.verify_signature("acme", h, "GET", "/v1/cases/c-1", "", kNow).ok());
  EXPECT_EQ(auth.replay_entries(), 0u);
}

TEST(Signature, AFullReplayCacheRefusesInsteadOfForgetting) {
  auto auth = make(2);
  for (int i = 0; i < 2; ++i) {
    const std::string body = "{\"n\":" + std::to_string(i) + "}";
    ASSERT_TRUE(auth.verify_signature("acme", header(kNow, {sign(kSecret, kNow, "POST", "/v1/cases", body)}), "POST", "/v1/cases",
                                      body, kNow)
                    .ok());
  }
  const auto r = auth.verify_signature("acme", header(kNow, {sign(kSecret, kNow, "POST", "/v1/cases", "{}")}), "POST", "/v1/cases",
                                       "{}", kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(*r.error, AuthError::kOverloaded);
}

TEST(Bearer, TokensAreComparedByHash) {
  const auto auth = make();
  auto r = auth.verify_bearer("Bearer internal-token-please-rotate-0001");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.tenant, "acme");
  EXPECT_EQ(*auth.verify_bearer("Bearer internal-token-please-rotate-0002").error, AuthError::kBadToken);
  EXPECT_EQ(*auth.verify_bearer("Basic dXNlcjpwYXNz").error, AuthError::kMalformed);
  EXPECT_EQ(*auth.verify_bearer("Bearer ").error, AuthError::kMalformed);
  EXPECT_EQ(*auth.verify_bearer("").error, AuthError::kMissing);
}

TEST(Credentials, BadConfigurationIsRefused) {
  const std::string ok(32, 's');
  EXPECT_THROW(Authenticator({{"a", {}, {}}}, {}), std::invalid_argument);
  EXPECT_THROW(Authenticator({{"a", {ok, ok, ok}, {}}}, {}), std::invalid_argument);
  EXPECT_THROW(Authenticator({{"a", {"short"}, {}}}, {}), std::invalid_argument);
  EXPECT_THROW(Authenticator({{"a", {ok}, {}}, {"a", {ok}, {}}}, {}), std::invalid_argument);
  EXPECT_NO_THROW(Authenticator({{"a", {ok}, {}}}, {}));
  EXPECT_EQ(digest_from_hex("zz"), std::nullopt);
}

}  // namespace
}  // namespace edge
