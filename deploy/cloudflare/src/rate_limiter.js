// The per-customer gate, a Durable Object: one instance per (tenant, customer). Cloudflare runs
// exactly one instance of an object id at a time, worldwide, and runs its calls one after another,
// so every Worker isolate serving a customer goes through the same instance. (A Map in the Worker
// itself would be per isolate: a customer spread over many isolates and locations would get many
// times the limit.) It does two things:
//
// 1. A token bucket: RATE_BURST requests at once, refilled at RATE_PER_S.
// 2. The signing time t of each POST. casebus-edge refuses a signature it has seen
//    (replayed_signature), and the signature covers only t, method, path and body, with t in whole
//    seconds: two identical POSTs signed in the same second would be one signature, the second
//    refused. Identical bodies always belong to one customer (the body names the customer, bound
//    to the caller), so this object sees them all and gives each a t of its own: now, or one
//    second after the last t it gave the same body, at most MAX_LEAD_S ahead of now (well inside
//    the edge's 300 s window). Only the last t per body is kept, and only while it is not in the
//    past: once it is, now is new anyway.
//
// State lives in the object's memory, not its storage (no storage write per request). Cloudflare
// evicts an object after it has had no calls for a while (at least about 10 s); the next call
// starts afresh: a full bucket (so the limit is exact while RATE_BURST / RATE_PER_S is at most
// ~10 s, and otherwise at worst RATE_BURST per eviction), and no timestamps, which is safe because
// every t given out lies at most MAX_LEAD_S (< 10 s) ahead of the call that gave it.

import { DurableObject } from "cloudflare:workers";

const MAX_LEAD_S = 5;

export class CustomerRateLimiter extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.tokens = null;
    this.updatedMs = 0;
    this.lastT = new Map();  // body digest -> the last t given for it, while >= now
  }

  // Admits one request: takes a token and, for a body digest, gives the request's signing time.
  // Returns {ok: true, t} or {ok: false, retryAfterS, reason}; retryAfterS, as casebus-edge
  // computes it, is when the next token arrives, rounded up to whole seconds (at least 1).
  admit(ratePerS, burst, digest) {
    const nowMs = Date.now();
    const now = Math.floor(nowMs / 1000);
    if (this.tokens === null) {
      this.tokens = burst;
      this.updatedMs = nowMs;
    }
    this.tokens = Math.min(burst, this.tokens + (Math.max(0, nowMs - this.updatedMs) / 1000) * ratePerS);
    this.updatedMs = nowMs;
    if (this.tokens < 1) {
      return { ok: false, reason: "rate", retryAfterS: Math.max(1, Math.ceil((1 - this.tokens) / ratePerS)) };
    }
    let t = now;
    if (digest) {
      for (const [d, last] of this.lastT) if (last < now) this.lastT.delete(d);
      const last = this.lastT.get(digest);
      if (last !== undefined) t = last + 1;
      if (t > now + MAX_LEAD_S) return { ok: false, reason: "duplicates", retryAfterS: t - now - MAX_LEAD_S };
      this.lastT.set(digest, t);
    }
    this.tokens -= 1;
    return { ok: true, t };
  }
}
