// The edge routes this Worker fronts (docs/api.md#routes), and what it checks and changes in a
// body before signing it: the customer the request is for (bound to the caller's token), and
// the free-text fields, redacted. Everything else in the body is the edge's to check (the case
// schema); its 400 answers, which name the field, are relayed.

import { CUSTOMER_REF } from "./auth.js";
import { redact } from "./redact.js";

export const CASE_ID = /^c-[0-9a-f]{32}$/;

// customer: the body field naming the customer; prefix: how the edge names fields of this body
// in its errors; text: the free-text fields casebus-edge redacts (routes.cpp: redact_payload),
// plus the seed routes' request_text, which becomes the case's message.
const CASES = { customer: "customer_ref", prefix: "payload.", text: [["message"], ["transaction", "merchant"], ["payment", "reason"]] };
const MESSAGE = { customer: "customer_id", prefix: "", text: [["message"], ["request_text"]] };
const LENDING = { customer: "applicant_id", prefix: "", text: [["message"]] };
const PAYMENTS = { customer: "customer_id", prefix: "", text: [["message"], ["decision", "reason"]] };

const POST_ROUTES = new Map([
  ["/v1/cases", CASES],
  ["/agent", MESSAGE],
  ["/route", MESSAGE],
  ["/dispatch", MESSAGE],
  ["/lending-review", LENDING],
  ["/api/payments", PAYMENTS],
  ["/validate", "validate"],  // a case payload (with kind) or a seed 002 applicant
]);

// {route: "post", path, shape} | {route: "get_case", path, id} | {status, code, message, allow?}
export function findRoute(method, path) {
  if (POST_ROUTES.has(path)) {
    if (method !== "POST") return { status: 405, code: "method_not_allowed", message: "use POST", allow: "POST" };
    return { route: "post", path, shape: POST_ROUTES.get(path) };
  }
  if (path.startsWith("/v1/cases/") && path.length > 10) {
    if (method !== "GET") return { status: 405, code: "method_not_allowed", message: "use GET", allow: "GET" };
    const id = path.slice(10);
    // Not a case id: the edge's own answer for it, without a round trip.
    if (!CASE_ID.test(id)) return { status: 404, code: "not_found", message: "no such case" };
    return { route: "get_case", path, id };
  }
  return { status: 404, code: "not_found", message: "no such resource" };
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const invalid = (status, code, field, message) => ({ ok: false, status, code, field, message });

// The customer a POST body is for, checked against the caller. Resolves the shape of /validate.
// Returns {ok: true, shape, customer} or an error; fills in the customer field for a JWT caller
// whose body leaves it out.
export function bindCustomer(routeShape, body, identity) {
  const shape = routeShape === "validate" ? ("kind" in body ? CASES : LENDING) : routeShape;
  const field = shape.prefix + shape.customer;
  const v = body[shape.customer];
  if (identity.kind === "jwt") {
    if (v === undefined || v === null) {
      body[shape.customer] = identity.customer;
    } else if (v !== identity.customer) {
      return invalid(403, "customer_mismatch", field, "names another customer than the caller's token");
    }
    return { ok: true, shape, customer: identity.customer };
  }
  if (v === undefined || v === null) return invalid(400, "invalid_field", field, "missing required field");
  if (typeof v !== "string" || !CUSTOMER_REF.test(v)) {
    return invalid(400, "invalid_field", field, "must be 1-64 of A-Z a-z 0-9 . _ : -");
  }
  return { ok: true, shape, customer: v };
}

// Redacts the shape's free-text fields of body in place. Returns {ok: true, redactions} or a 400
// naming a field that is not of the type the redactor needs (the edge checks the rest).
export function redactBody(shape, body) {
  let redactions = 0;
  for (const path of shape.text) {
    let holder = body;
    for (let i = 0; i < path.length - 1; ++i) {
      const next = holder[path[i]];
      if (next === undefined || next === null) {
        holder = null;
        break;
      }
      if (!isObject(next)) return invalid(400, "invalid_field", shape.prefix + path.slice(0, i + 1).join("."), "must be a JSON object");
      holder = next;
    }
    if (holder === null) continue;
    const key = path[path.length - 1];
    const v = holder[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string") return invalid(400, "invalid_field", shape.prefix + path.join("."), "must be a string");
    const r = redact(v);
    if (r.total > 0) holder[key] = r.text;
    redactions += r.total;
  }
  return { ok: true, redactions };
}
