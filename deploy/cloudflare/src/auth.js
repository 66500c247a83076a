// Who is calling: `Authorization: Bearer <token>`, where the token is either
//   - a JWT (HS256, JWT_SECRET) issued to one customer: the claims name the tenant (`tenant`) and
//     the customer (`customer_ref`, else `sub`); or
//   - an API key (API_KEYS holds its SHA-256) of a server-side caller, acting for one tenant and
//     naming the customer in each request body.
// authenticate() resolves to {ok: true, identity} or {ok: false, code, message, rfc6750Error}.

import { looksLikeJwt, verifyJwt } from "./jwt.js";
import { redact } from "./redact.js";

// The edge's rule for customer_ref: a pseudonymous id of 1-64 of A-Z a-z 0-9 . _ : -
export const CUSTOMER_REF = /^[A-Za-z0-9._:-]{1,64}$/;

const encoder = new TextEncoder();

async function sha256Hex(s) {
  const d = await crypto.subtle.digest("SHA-256", encoder.encode(s));
  let h = "";
  for (const b of new Uint8Array(d)) h += b.toString(16).padStart(2, "0");
  return h;
}

const fail = (code, message, rfc6750Error = "invalid_token") => ({ ok: false, code, message, rfc6750Error });

export async function authenticate(request, cfg, nowSeconds = Date.now() / 1000) {
  const header = request.headers.get("Authorization");
  if (header === null || header.trim() === "") return fail("missing_credentials", "send Authorization: Bearer <token>", null);
  const m = /^Bearer +(\S+) *$/i.exec(header);
  if (!m) return fail("malformed_credentials", "Authorization: expected \"Bearer <token>\"", "invalid_request");
  const token = m[1];

  if (looksLikeJwt(token)) {
    if (!cfg.jwt) return fail("bad_token", "the bearer token is not valid");
    const r = await verifyJwt(token, { ...cfg.jwt, now: nowSeconds });
    if (!r.ok) return fail(r.code, r.message);
    const { tenant } = r.claims;
    const customer = r.claims.customer_ref ?? r.claims.sub;
    if (typeof tenant !== "string" || !cfg.tenants.has(tenant)) return fail("invalid_claims", "the token's tenant claim names no tenant of this Worker");
    // A customer id that is really a card or account number would travel unredacted.
    if (typeof customer !== "string" || !CUSTOMER_REF.test(customer) || redact(customer).total > 0) {
      return fail("invalid_claims", "the token's customer_ref (or sub) claim is not a pseudonymous customer reference");
    }
    return { ok: true, identity: { kind: "jwt", tenant, customer } };
  }

  if (cfg.apiKeys.size > 0) {
    // A lookup by SHA-256: the stored value is not the key, and the hash of a guess says nothing
    // about how close the guess was.
    const hash = await sha256Hex(token);
    const tenant = cfg.apiKeys.get(hash);
    if (tenant !== undefined) return { ok: true, identity: { kind: "api_key", tenant, customer: null, keyId: hash.slice(0, 16) } };
  }
  return fail("bad_token", "the bearer token is not valid");
}
