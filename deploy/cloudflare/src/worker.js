// The Cloudflare Worker in front of casebus-edge (deploy/cloudflare/README.md).
//
// For each request, in this order (the first failing step answers):
//   1. the route: one of the edge routes it fronts (404, 405 with Allow);
//   2. the caller: Authorization: Bearer <JWT or API key> (401 with WWW-Authenticate);
//   3. a POST body: Content-Type JSON (415), at most MAX_BODY_BYTES, by Content-Length and while
//      reading (413), UTF-8 JSON object (400 malformed), the customer it names is the caller's
//      (403 customer_mismatch) or, for an API key, a valid customer reference (400 invalid_field);
//      PII in its free-text fields redacted, the body serialized once;
//   4. the customer's gate, a Durable Object per (tenant, customer) (rate_limiter.js): the rate
//      limit (429 with Retry-After), and for a POST the signing time t, unique per identical body;
//   5. those exact bytes signed with the tenant's HMAC secret (sign.js) and sent;
//   6. forwarded to ORIGIN_URL within ORIGIN_TIMEOUT_MS: connection failure 502 origin_unreachable,
//      no answer in time 504 origin_timeout, an answer that is not the edge's JSON 502
//      origin_error, the edge refusing the Worker's signature 502 origin_auth_failed; otherwise the
//      edge's status and JSON body are relayed.
// Every answer carries X-Request-Id (also sent to the edge) and Cache-Control: no-store. Logs are
// one JSON line per request, with no token, signature or body.

import { authenticate } from "./auth.js";
import { config, ConfigError } from "./config.js";
import { bindCustomer, findRoute, redactBody } from "./routes.js";
import { signature } from "./sign.js";

export { CustomerRateLimiter } from "./rate_limiter.js";

const encoder = new TextEncoder();
const JSON_TYPE = /^application\/json\s*(;.*)?$/i;
// Headers of the edge's answers that mean something to the caller.
const RELAYED = ["Retry-After", "Location", "X-Casebus-Case-Id", "traceparent", "Allow"];
// Request headers the edge reads besides the credentials (docs/api.md#request-headers).
const FORWARDED = ["Idempotency-Key", "traceparent"];

class Answer {
  constructor(status, body, headers = {}) {
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

function error(status, code, message, { field, headers } = {}) {
  const e = { code, message };
  if (field !== undefined) e.field = field;
  return new Answer(status, JSON.stringify({ error: e }), headers ?? {});
}

function respond(answer, requestId) {
  const headers = new Headers(answer.headers);
  headers.set("Content-Type", "application/json");
  headers.set("Cache-Control", "no-store");
  headers.set("X-Request-Id", requestId);
  return new Response(answer.body, { status: answer.status, headers });
}

// RFC 6750: no error attribute when no credentials were sent.
function unauthorized(r) {
  let challenge = 'Bearer realm="casebus"';
  if (r.rfc6750Error) challenge += `, error="${r.rfc6750Error}", error_description="${r.message.replace(/["\\]/g, "'")}"`;
  return error(401, r.code, r.message, { headers: { "WWW-Authenticate": challenge } });
}

// One request through the customer's gate (rate_limiter.js): the rate limit and, for a POST body
// (its digest), the signing time t. Returns {t} or an Answer (429, or 503 without the gate).
async function admit(env, cfg, tenant, who, digest) {
  try {
    const ns = env.RATE_LIMITER;
    const r = await ns.get(ns.idFromName(`${tenant}\n${who}`)).admit(cfg.ratePerS, cfg.rateBurst, digest);
    if (r.ok) return { t: r.t };
    const message = r.reason === "duplicates"
      ? "too many identical requests from this customer at once"
      : "this customer's request rate is over its limit";
    return error(429, "rate_limited", message, { headers: { "Retry-After": String(r.retryAfterS) } });
  } catch (e) {
    // Closed, not open: without the gate there is no limit.
    console.error(JSON.stringify({ event: "rate limiter failed", err: String(e?.message ?? e) }));
    return error(503, "rate_limiter_unavailable", "the rate limiter did not answer; retry later", { headers: { "Retry-After": "1" } });
  }
}

async function digestHex(method, path, body) {
  const head = encoder.encode(`${method}\n${path}\n`);
  const all = new Uint8Array(head.length + body.length);
  all.set(head, 0);
  all.set(body, head.length);
  let h = "";
  for (const b of new Uint8Array(await crypto.subtle.digest("SHA-256", all))) h += b.toString(16).padStart(2, "0");
  return h;
}

// The body, at most limit bytes: by Content-Length before reading, and while reading (a chunked
// body has none). Returns Uint8Array or an Answer.
async function readBody(request, limit) {
  const declared = request.headers.get("Content-Length");
  if (declared !== null && Number(declared) > limit) return error(413, "too_large", `the body is over ${limit} bytes`);
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return error(413, "too_large", `the body is over ${limit} bytes`);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return body;
}

function parseJsonObject(bytes) {
  let value;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return error(400, "malformed", "the body is not valid UTF-8 JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return error(400, "malformed", "the body must be a JSON object");
  return value;
}

// Signs and sends; returns the origin's Response and body text, or an Answer (502/504).
async function forward(cfg, log, { method, path, tenant, body, t, request, requestId }) {
  // One v1= per active secret of the tenant (two while a key rotates).
  const v1 = await Promise.all(cfg.tenants.get(tenant).map((s) => signature(s, t, method, path, body)));
  const headers = new Headers({
    "X-Casebus-Tenant": tenant,
    "X-Casebus-Signature": `t=${t},${v1.map((s) => `v1=${s}`).join(",")}`,
    "X-Request-Id": requestId,
    Accept: "application/json",
  });
  if (method === "POST") headers.set("Content-Type", "application/json");
  for (const name of FORWARDED) {
    const v = request.headers.get(name);
    if (v !== null) headers.set(name, v);
  }
  const prefer = /(?:^|[;,\s])wait=(\d+)/.exec(request.headers.get("Prefer") ?? "");
  if (prefer) headers.set("Prefer", `wait=${Math.min(Number(prefer[1]), cfg.maxWaitS)}`);

  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, cfg.originTimeoutMs);
  try {
    const res = await fetch(cfg.origin + path, {
      method,
      headers,
      body: method === "POST" ? body : undefined,
      signal: controller.signal,
      redirect: "manual",
    });
    const text = await res.text();  // under the same deadline
    return { res, text };
  } catch (e) {
    if (timedOut) {
      log.code = "origin_timeout";
      return error(504, "origin_timeout", `the origin did not answer within ${cfg.originTimeoutMs} ms`);
    }
    log.code = "origin_unreachable";
    console.error(JSON.stringify({ event: "origin unreachable", request_id: requestId, err: String(e?.message ?? e) }));
    return error(502, "origin_unreachable", "the origin could not be reached");
  } finally {
    clearTimeout(timer);
  }
}

// The edge's answer as the caller's, or a 502 when it is not one the caller should see.
function relay(res, text, identity, route, log) {
  const isJson = JSON_TYPE.test(res.headers.get("Content-Type") ?? "");
  let parsed;
  if (isJson) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (res.status === 401) {
    // The caller was authenticated here; the edge refusing the Worker is the Worker's problem
    // (a wrong or rotated secret, a clock off by minutes), not the caller's.
    const code = parsed?.error?.code;
    console.error(JSON.stringify({ event: "origin refused the signature", status: 401, code: typeof code === "string" ? code : null }));
    log.code = "origin_auth_failed";
    return error(502, "origin_auth_failed", "the origin refused the Worker's credentials");
  }
  if (parsed === undefined || (res.status >= 300 && res.status < 400)) {
    console.error(JSON.stringify({ event: "origin answer unusable", status: res.status, json: isJson }));
    log.code = "origin_error";
    return error(502, "origin_error", `the origin answered ${res.status} without a usable JSON body`);
  }
  // A customer's token reads only that customer's cases: the edge separates tenants, not the
  // customers of a tenant. The final case carries its payload, whose customer_ref tells.
  if (route.route === "get_case" && identity.kind === "jwt") {
    const owner = parsed?.payload?.customer_ref;
    if (owner !== undefined && owner !== identity.customer) return error(404, "not_found", "no such case");
  }
  const headers = {};
  for (const name of RELAYED) {
    const v = res.headers.get(name);
    if (v !== null) headers[name] = v;
  }
  if (res.status >= 400) log.code = parsed?.error?.code ?? null;
  return new Answer(res.status, text, headers);
}

async function handle(request, env, requestId, log) {
  let cfg;
  try {
    cfg = config(env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(JSON.stringify({ event: "misconfigured", err: e.message }));
    return error(500, "misconfigured", "the Worker is misconfigured");
  }
  const url = new URL(request.url);
  const route = findRoute(request.method, url.pathname);
  if (route.status) {
    return error(route.status, route.code, route.message, route.allow ? { headers: { Allow: route.allow } } : {});
  }
  log.route = route.route === "get_case" ? "/v1/cases/{id}" : route.path;

  const auth = await authenticate(request, cfg);
  if (!auth.ok) {
    log.code = auth.code;
    return unauthorized(auth);
  }
  const identity = auth.identity;
  log.tenant = identity.tenant;
  log.auth = identity.kind;

  let body = new Uint8Array(0);
  let digest = null;
  // Whose gate: the customer's; an API key's GETs name no customer and have a gate of their own
  // (a space never occurs in a customer reference).
  let who = identity.kind === "jwt" ? identity.customer : `api key ${identity.keyId}`;
  if (route.route === "post") {
    if (!JSON_TYPE.test(request.headers.get("Content-Type") ?? "")) {
      return error(415, "unsupported_media_type", "send the body as Content-Type: application/json");
    }
    const raw = await readBody(request, cfg.maxBodyBytes);
    if (raw instanceof Answer) return raw;
    const payload = parseJsonObject(raw);
    if (payload instanceof Answer) return payload;
    const bound = bindCustomer(route.shape, payload, identity);
    if (!bound.ok) return error(bound.status, bound.code, bound.message, { field: bound.field });
    who = bound.customer;
    const redacted = redactBody(bound.shape, payload);
    if (!redacted.ok) return error(redacted.status, redacted.code, redacted.message, { field: redacted.field });
    log.redactions = redacted.redactions;
    // Serialized once: these exact bytes are signed and sent.
    body = encoder.encode(JSON.stringify(payload));
    digest = await digestHex(request.method, route.path, body);
  }
  const admitted = await admit(env, cfg, identity.tenant, who, digest);
  if (admitted instanceof Answer) return admitted;

  const sent = await forward(cfg, log, { method: request.method, path: route.path, tenant: identity.tenant, body, t: admitted.t, request, requestId });
  if (sent instanceof Answer) return sent;
  return relay(sent.res, sent.text, identity, route, log);
}

export default {
  async fetch(request, env) {
    const requestId = crypto.randomUUID();
    const started = Date.now();
    const log = { event: "request", request_id: requestId, method: request.method };
    let answer;
    try {
      answer = await handle(request, env, requestId, log);
    } catch (e) {
      console.error(JSON.stringify({ event: "request failed", request_id: requestId, err: String(e?.message ?? e) }));
      answer = error(500, "internal", "the Worker failed on this request");
    }
    log.status = answer.status;
    log.ms = Date.now() - started;
    console.log(JSON.stringify(log));
    return respond(answer, requestId);
  },
};
