// node --test: the Worker's HS256 verifier and its authentication of a request.
import "./webcrypto.mjs";
import assert from "node:assert/strict";
import { test } from "node:test";

const { signJwt, verifyJwt } = await import("../src/jwt.js");
const { authenticate } = await import("../src/auth.js");
const { parseConfig } = await import("../src/config.js");

const SECRET = "test-jwt-secret-0123456789abcdef0123";
const opts = { secrets: [SECRET], issuer: "https://issuer.test/", audience: "casebus-edge", leewaySeconds: 30, now: 1_800_000_000 };
const claims = (patch = {}) => ({ iss: opts.issuer, aud: opts.audience, tenant: "acme", customer_ref: "cust-1", exp: opts.now + 60, ...patch });

test("a valid token verifies; its claims come back", async () => {
  const r = await verifyJwt(await signJwt(claims(), SECRET), opts);
  assert.equal(r.ok, true);
  assert.equal(r.claims.customer_ref, "cust-1");
  // An audience list that includes ours, and a previous secret while rotating.
  assert.equal((await verifyJwt(await signJwt(claims({ aud: ["x", "casebus-edge"] }), SECRET), opts)).ok, true);
  assert.equal((await verifyJwt(await signJwt(claims(), SECRET), { ...opts, secrets: ["another-secret-0123456789abcdef0123", SECRET] })).ok, true);
});

test("refusals name the reason", async () => {
  const cases = [
    [await signJwt(claims(), "wrong-secret-0123456789abcdef012345"), "bad_token"],
    [await signJwt(claims(), SECRET, { alg: "none" }), "bad_token"],
    [await signJwt(claims(), SECRET, { alg: "HS512" }), "bad_token"],
    [await signJwt(claims({ exp: opts.now - 31 }), SECRET), "expired_token"],
    [await signJwt(claims({ nbf: opts.now + 31 }), SECRET), "token_not_yet_valid"],
    [await signJwt(claims({ exp: undefined }), SECRET), "invalid_claims"],
    [await signJwt(claims({ exp: "soon" }), SECRET), "invalid_claims"],
    [await signJwt(claims({ iss: "https://evil.test/" }), SECRET), "invalid_claims"],
    [await signJwt(claims({ aud: "other" }), SECRET), "invalid_claims"],
    ["a.b", "malformed_token"],
    ["x".repeat(5000), "malformed_token"],
  ];
  for (const [token, code] of cases) {
    const r = await verifyJwt(token, opts);
    assert.equal(r.ok, false, code);
    assert.equal(r.code, code);
    assert.ok(!r.message.includes(token.slice(0, 20)), "the message never echoes the token");
  }
  // Within the leeway an expired token still passes.
  assert.equal((await verifyJwt(await signJwt(claims({ exp: opts.now - 29 }), SECRET), opts)).ok, true);
  // A changed claim breaks the signature.
  const [h, , s] = (await signJwt(claims(), SECRET)).split(".");
  const forged = `${h}.${Buffer.from(JSON.stringify(claims({ tenant: "globex" }))).toString("base64url")}.${s}`;
  assert.equal((await verifyJwt(forged, opts)).code, "bad_token");
});

test("authenticate: a JWT names tenant and customer; an API key only the tenant", async () => {
  const apiKey = "server-side-key-0123456789";
  const digest = Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(apiKey))).toString("hex");
  const cfg = parseConfig({
    ORIGIN_URL: "https://edge.example.com",
    TENANT_SECRETS: JSON.stringify({ acme: "acme-secret-0123456789abcdef0123456789" }),
    JWT_SECRET: SECRET,
    JWT_ISSUER: opts.issuer,
    JWT_AUDIENCE: opts.audience,
    API_KEYS: JSON.stringify({ [digest]: "acme" }),
  });
  const req = (auth) => new Request("https://w.example/v1/cases", { headers: auth ? { Authorization: auth } : {} });
  const now = opts.now;
  let r = await authenticate(req(`Bearer ${await signJwt(claims(), SECRET)}`), cfg, now);
  assert.deepEqual(r.identity, { kind: "jwt", tenant: "acme", customer: "cust-1" });
  r = await authenticate(req(`Bearer ${apiKey}`), cfg, now);
  assert.equal(r.identity.kind, "api_key");
  assert.equal(r.identity.tenant, "acme");
  assert.equal((await authenticate(req(null), cfg, now)).code, "missing_credentials");
  assert.equal((await authenticate(req("Basic abc"), cfg, now)).code, "malformed_credentials");
  assert.equal((await authenticate(req("Bearer nope"), cfg, now)).code, "bad_token");
  assert.equal((await authenticate(req(`Bearer ${await signJwt(claims({ tenant: "initech" }), SECRET)}`), cfg, now)).code, "invalid_claims");
  assert.equal((await authenticate(req(`Bearer ${await signJwt(claims({ customer_ref: "4111111111111111" }), SECRET)}`), cfg, now)).code, "invalid_claims");
});
