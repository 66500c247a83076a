// node --test: the Worker's redactor on the rows of docs/redaction.md (the edge's own tests, and
// tests/process/worker_test.cpp, compare it with casebus-edge's byte for byte).
import assert from "node:assert/strict";
import { test } from "node:test";
import { redact, redactText } from "../src/redact.js";

const fullwidth = (s) => s.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d)));

test("redacts what docs/redaction.md lists", () => {
  const rows = [
    ["Hi, I'm jane.doe@example.com. My card 4111 1111 1111 1111 was charged $89.99 twice on 2026-11-20 (invoice INV-1042).",
     "Hi, I'm [email]. My card [card ending 1111] was charged $89.99 twice on 2026-11-20 (invoice INV-1042)."],
    ["Please send the refund to IBAN DE89 3704 0044 0532 0130 00, not to my old account number 12345678.",
     "Please send the refund to IBAN [iban], not to my old account number [account]."],
    ["My SSN is 123-45-6789; call me on +1 (555) 123-4567 or at home on 555-867-5309.",
     "My SSN is [ssn]; call me on [phone] or at home on [phone]."],
    ["Amex 3782 822463 10005 was declined", "Amex [card ending 0005] was declined"],
    ["card 4111\u00a01111\u00a01111\u00a01111.", "card [card ending 1111]."],
    ["card 4111\u202f1111\u202f1111\u202f1111.", "card [card ending 1111]."],
    ["PAN4111111111111111exp1227", "PAN[card ending 1111]exp1227"],
    ["card " + fullwidth("5555555555554444") + ".", "card [card ending 4444]."],
    ["\u20ac4111111111111111", "\u20ac[card ending 1111]"],
    ["4111111111111111GB29NWBK60161331926819", "[card ending 1111][iban]"],
    ["john4111111111111111@example.com", "[email]"],
    ["to gb29 nwbk 6016 1331 9268 19.", "to [iban]."],
    ["from account 12345678 to 87654321", "from account [account] to [account]"],
    ["call +1 555 123 4567 or 5559876543", "call [phone] or [phone]"],
    ["account 12345678 and order 987654", "account [account] and order 987654"],
    ["acct # 0012-3456-789", "acct # [account]"],
    ["ssn 123456789", "ssn [ssn]"],
    [".jane@example.com- and x@bank.co.uk.", ".[email]- and [email]."],
  ];
  for (const [input, want] of rows) assert.equal(redactText(input), want, input);
});

test("leaves what docs/redaction.md says stays", () => {
  for (const s of [
    "order 123456, invoice 12345678, INV-1042, ticket 5551234567",
    "$1,234.56, 42.50 USD, 25,000 EUR, account balance 1234567.89",
    "2026-11-20, 11/20/2026, 14:03:59, account opened 2026-11-20",
    "card ending in 4417",
    "4111 1111 1111 1112",
    "DE89 3704 0044 0532 0130 02",
    "000-12-3456, 666-12-3456, 900-12-3456, 123-00-4567, 123-45-0000",
    "123-456-7890, 555 123 4567",
    "user@localhost, a@b.c, me@192.168.0.1",
    "no account given; order 987654",
    "no digits at all, caf\u00e9",
  ]) {
    assert.equal(redactText(s), s, s);
  }
});

test("counts, idempotence and the output bound", () => {
  const r = redact("card 4111111111111111, mail a.b@example.com, card 5555 5555 5555 4444");
  assert.equal(r.total, 3);
  assert.equal(r.counts.card, 2);
  assert.equal(r.counts.email, 1);
  const samples = ["account 123456", "4111111111111111", "+1 (555) 123-4567 and jane@example.com", "IBAN GB29NWBK60161331926819"];
  for (const s of samples) {
    const once = redactText(s);
    assert.equal(redactText(once), once, s);
    assert.ok(new TextEncoder().encode(once).length <= (new TextEncoder().encode(s).length * 3) / 2, s);
  }
});

test("is linear on long inputs", () => {
  const digits = "4".repeat(1 << 20);
  const started = Date.now();
  assert.equal(redactText(digits), digits);
  assert.ok(Date.now() - started < 5000);
});
