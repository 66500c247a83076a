// node --test: the request signature is the one casebus-edge verifies (docs/api.md's worked example).
import "./webcrypto.mjs";
import assert from "node:assert/strict";
import { test } from "node:test";

const { signature, signedHeaders } = await import("../src/sign.js");
const { parseConfig, ConfigError } = await import("../src/config.js");
const { bindCustomer, findRoute, redactBody } = await import("../src/routes.js");

test("the worked example of docs/api.md", async () => {
  const body = new TextEncoder().encode(
    '{"kind":"support_message","channel":"web","customer_ref":"cust-10492","message":"I was charged twice on my debit card yesterday."}');
  assert.equal(await signature("whsec_0123456789abcdef0123456789abcdef", 1795250700, "POST", "/v1/cases", body),
               "ec8a164ef8659668e3fa6bf7890001ec728515b642bae3b7682325e37a93b6e7");
  const h = await signedHeaders("acme", "whsec_0123456789abcdef0123456789abcdef", "POST", "/v1/cases", body, 1795250700);
  assert.equal(h["X-Casebus-Signature"], "t=1795250700,v1=ec8a164ef8659668e3fa6bf7890001ec728515b642bae3b7682325e37a93b6e7");
  assert.equal(h["X-Casebus-Tenant"], "acme");
});

test("settings are checked and name what is wrong", () => {
  const good = {
    ORIGIN_URL: "https://edge.example.com",
    TENANT_SECRETS: JSON.stringify({ acme: "acme-secret-0123456789abcdef0123456789" }),
    JWT_SECRET: "test-jwt-secret-0123456789abcdef0123",
    JWT_ISSUER: "i",
    JWT_AUDIENCE: "a",
  };
  const cfg = parseConfig(good);
  assert.equal(cfg.origin, "https://edge.example.com");
  assert.equal(cfg.maxBodyBytes, 32768);
  assert.equal(cfg.maxWaitS, 30);
  for (const [patch, words] of [
    [{ ORIGIN_URL: undefined }, "ORIGIN_URL"],
    [{ ORIGIN_URL: "https://edge.example.com/base" }, "ORIGIN_URL"],
    [{ TENANT_SECRETS: '{"acme":"short"}' }, "at least 32 bytes"],
    [{ TENANT_SECRETS: "{" }, "TENANT_SECRETS"],
    [{ JWT_SECRET: undefined }, "neither JWT_SECRET nor API_KEYS"],
    [{ JWT_ISSUER: undefined }, "JWT_ISSUER"],
    [{ RATE_PER_S: "fast" }, "RATE_PER_S"],
  ]) {
    assert.throws(() => parseConfig({ ...good, ...patch }), (e) => e instanceof ConfigError && e.message.includes(words), words);
  }
  // The secret's value never appears in the error.
  assert.throws(() => parseConfig({ ...good, TENANT_SECRETS: '{"acme":"short-secret-value"}' }), (e) => !e.message.includes("short-secret-value"));
});

test("routes, the customer binding and redaction of the free-text fields", () => {
  assert.equal(findRoute("POST", "/v1/cases").route, "post");
  assert.equal(findRoute("GET", "/v1/cases").status, 405);
  assert.equal(findRoute("POST", "/v1/cases/c-0123456789abcdef0123456789abcdef").allow, "GET");
  assert.equal(findRoute("GET", "/v1/cases/c-0123456789abcdef0123456789abcdef").id, "c-0123456789abcdef0123456789abcdef");
  assert.equal(findRoute("GET", "/v1/cases/../admin").status, 404);
  assert.equal(findRoute("POST", "/admin").status, 404);

  const jwt = { kind: "jwt", tenant: "acme", customer: "cust-1" };
  const body = { kind: "payment_request", payment: { reason: "card 4111111111111111" }, message: "mail a@example.com" };
  const bound = bindCustomer(findRoute("POST", "/v1/cases").shape, body, jwt);
  assert.equal(bound.ok, true);
  assert.equal(body.customer_ref, "cust-1");
  assert.equal(redactBody(bound.shape, body).redactions, 2);
  assert.equal(body.payment.reason, "card [card ending 1111]");
  assert.equal(body.message, "mail [email]");
  const mismatch = bindCustomer(findRoute("POST", "/agent").shape, { customer_id: "cust-2" }, jwt);
  assert.deepEqual([mismatch.status, mismatch.code, mismatch.field], [403, "customer_mismatch", "customer_id"]);
  const key = { kind: "api_key", tenant: "acme", customer: null };
  assert.equal(bindCustomer(findRoute("POST", "/lending-review").shape, {}, key).field, "applicant_id");
  assert.equal(bindCustomer(findRoute("POST", "/v1/cases").shape, { customer_ref: "a b" }, key).field, "payload.customer_ref");
  assert.equal(redactBody(findRoute("POST", "/api/payments").shape, { decision: { reason: 5 } }).field, "decision.reason");
});
