// The request signature casebus-edge verifies (docs/api.md#1-signed-requests-the-cloudflare-worker,
// edge/http/src/auth.cpp):
//
//   X-Casebus-Tenant: <tenant>
//   X-Casebus-Signature: t=<unix seconds>,v1=<lower-case hex HMAC-SHA256(secret, "<t>.<METHOD>.<path>.<raw body>")>
//
// METHOD in upper case, path without the query string, the body bytes exactly as sent (empty for
// a GET). The edge refuses a t more than max_skew_s (300 s) from its clock and a POST signature it
// has already accepted: every request, retries included, is signed afresh.

const encoder = new TextEncoder();
const keys = new Map();

async function key(secret) {
  let k = keys.get(secret);
  if (!k) {
    k = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    if (keys.size > 64) keys.clear();
    keys.set(secret, k);
  }
  return k;
}

function hex(buffer) {
  let s = "";
  for (const b of new Uint8Array(buffer)) s += b.toString(16).padStart(2, "0");
  return s;
}

// body: the Uint8Array that will be sent (or an empty one).
export async function signature(secret, t, method, path, body) {
  const head = encoder.encode(`${t}.${method.toUpperCase()}.${path}.`);
  const message = new Uint8Array(head.length + body.length);
  message.set(head, 0);
  message.set(body, head.length);
  return hex(await crypto.subtle.sign("HMAC", await key(secret), message));
}

// The two headers for a request; t defaults to now.
export async function signedHeaders(tenant, secret, method, path, body, t = Math.floor(Date.now() / 1000)) {
  return {
    "X-Casebus-Tenant": tenant,
    "X-Casebus-Signature": `t=${t},v1=${await signature(secret, t, method, path, body)}`,
  };
}
