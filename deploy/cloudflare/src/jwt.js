// JSON Web Tokens, HS256 only (RFC 7519, RFC 7515), with Web Crypto: the signature is checked
// with crypto.subtle.verify, which compares in constant time, before any claim is read.
//
// verifyJwt(token, {secrets, issuer, audience, leewaySeconds, now}) resolves to
//   {ok: true, claims} or {ok: false, code, message}
// where code is one of malformed_token, bad_token (signature, algorithm), expired_token,
// token_not_yet_valid, invalid_claims. Messages never contain the token or a secret.

const encoder = new TextEncoder();
const MAX_TOKEN_BYTES = 4096;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

function base64urlDecode(s) {
  if (!BASE64URL.test(s) || s.length % 4 === 1) return null;
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4);
  try {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; ++i) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

function parseJsonPart(s) {
  const bytes = base64urlDecode(s);
  if (!bytes) return null;
  try {
    const v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

// HMAC keys are imported once per secret and isolate: importKey is not free.
const keyCache = new Map();
async function hmacKey(secret, usage) {
  const id = `${usage}\n${secret}`;
  let key = keyCache.get(id);
  if (!key) {
    key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [usage]);
    if (keyCache.size > 64) keyCache.clear();
    keyCache.set(id, key);
  }
  return key;
}

const fail = (code, message) => ({ ok: false, code, message });
const isNumericDate = (v) => typeof v === "number" && Number.isFinite(v);

export function looksLikeJwt(token) {
  const parts = token.split(".");
  return parts.length === 3 && parts.every((p) => p.length > 0 && BASE64URL.test(p));
}

export async function verifyJwt(token, { secrets, issuer, audience, leewaySeconds = 30, now = Date.now() / 1000 }) {
  if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_BYTES) return fail("malformed_token", "the token is empty or too long");
  const parts = token.split(".");
  if (parts.length !== 3) return fail("malformed_token", "the token is not a JWS compact serialization (three parts)");
  const header = parseJsonPart(parts[0]);
  if (!header) return fail("malformed_token", "the token's header is not base64url JSON");
  // The algorithm is fixed here, never taken from the token ("none", RS256 with an HMAC key, ...).
  if (header.alg !== "HS256") return fail("bad_token", "the token's algorithm must be HS256");
  if (header.crit !== undefined) return fail("bad_token", "the token has critical header parameters this verifier does not know");
  const signature = base64urlDecode(parts[2]);
  if (!signature || signature.length !== 32) return fail("malformed_token", "the token's signature is not 32 bytes of base64url");
  const signed = encoder.encode(`${parts[0]}.${parts[1]}`);
  let verified = false;
  for (const secret of secrets) {
    // Every active secret is tried (rotation), each compare in constant time.
    if (await crypto.subtle.verify("HMAC", await hmacKey(secret, "verify"), signature, signed)) verified = true;
  }
  if (!verified) return fail("bad_token", "the token's signature does not verify");
  const claims = parseJsonPart(parts[1]);
  if (!claims) return fail("malformed_token", "the token's claims are not base64url JSON");

  if (!isNumericDate(claims.exp)) return fail("invalid_claims", "the token has no exp claim");
  if (now > claims.exp + leewaySeconds) return fail("expired_token", "the token has expired");
  if (claims.nbf !== undefined) {
    if (!isNumericDate(claims.nbf)) return fail("invalid_claims", "the token's nbf claim is not a number");
    if (now + leewaySeconds < claims.nbf) return fail("token_not_yet_valid", "the token is not valid yet (nbf)");
  }
  if (claims.iat !== undefined && (!isNumericDate(claims.iat) || now + leewaySeconds < claims.iat)) {
    return fail("invalid_claims", "the token's iat claim is not a number or lies in the future");
  }
  if (claims.iss !== issuer) return fail("invalid_claims", "the token's issuer (iss) is not accepted");
  const aud = claims.aud;
  const audOk = typeof aud === "string" ? aud === audience : Array.isArray(aud) && aud.includes(audience);
  if (!audOk) return fail("invalid_claims", "the token's audience (aud) does not include this service");
  return { ok: true, claims };
}

// For tests and tools: an HS256 token over the claims.
export async function signJwt(claims, secret, header = { alg: "HS256", typ: "JWT" }) {
  const part = (o) => base64urlEncode(encoder.encode(JSON.stringify(o)));
  const input = `${part(header)}.${part(claims)}`;
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret, "sign"), encoder.encode(input));
  return `${input}.${base64urlEncode(new Uint8Array(mac))}`;
}

function base64urlEncode(bytes) {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
