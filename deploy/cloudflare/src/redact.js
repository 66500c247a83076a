// PII redaction before a message leaves the Worker: the same rules, placeholders and results as
// casebus-edge's redactor (common/src/redact/redact.cpp, docs/redaction.md), so that the text the
// Worker signs is already what the edge would make of it (the edge redacts again: defence in depth,
// and a no-op on text this module has redacted).
//
// A port of the C++ scanner, on the UTF-8 bytes of the text, not on JavaScript's UTF-16 code
// units: positions, boundaries and separators (U+00A0, U+2007, U+2009, U+202F, fullwidth digits)
// are the same bytes the edge reads. One left-to-right scan; every detector reads a bounded number
// of bytes, so the time is linear in the input. Pure: no state between calls.
//
//   redact("card 4111 1111 1111 1111") -> {text: "card [card ending 1111]", counts: {card: 1, ...}, total: 1}

const KINDS = ["card", "iban", "ssn", "account", "email", "phone"];
const CARD = 0, IBAN = 1, SSN = 2, ACCOUNT = 3, EMAIL = 4, PHONE = 5;

const MAX_CARD_DIGITS = 19;
const MIN_CARD_DIGITS = 13;
const MAX_IBAN = 34;
const MIN_IBAN = 15;
const MAX_PHONE_DIGITS = 15;
const MIN_PHONE_DIGITS = 8;
const MAX_ACCOUNT_DIGITS = 17;
const MIN_ACCOUNT_DIGITS = 6;
const CONTEXT_WORDS = 3;
const CONTEXT_BYTES = 64;
const MAX_GAP_SEPARATORS = 2;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytesOf = (s) => Array.from(encoder.encode(s));

const CARD_SEPARATORS = bytesOf(" \t-./");
const IBAN_SEPARATORS = bytesOf(" \t-");
const SSN_SEPARATORS = bytesOf(" \t-.");
const CARD_PREFIX = bytesOf("[card ending ");
const SSN_WORDS = ["ssn", "social security"].map(bytesOf);
const ACCOUNT_WORDS = ["account", "accounts", "acct", "acc", "a/c", "routing"].map(bytesOf);
const PHONE_WORDS = ["phone", "telephone", "tel", "call", "mobile", "cell"].map(bytesOf);
const KIND_BYTES = KINDS.map(bytesOf);

// National IBAN lengths of the countries customers write most; others need 15..34 characters.
const IBAN_LENGTHS = new Map(Object.entries({
  AT: 20, BE: 16, CH: 21, DE: 22, DK: 18, ES: 24, FI: 18, FR: 27, GB: 22,
  IE: 22, IT: 27, LU: 20, NL: 18, NO: 15, PL: 28, PT: 25, SE: 24,
}));

const C = (ch) => ch.charCodeAt(0);
const DOT = C("."), COMMA = C(","), DASH = C("-"), PLUS = C("+"), AT_SIGN = C("@"), SPACE = C(" ");
const LPAREN = C("("), RPAREN = C(")"), LBRACKET = C("["), RBRACKET = C("]"), ONE = C("1"), TWO = C("2");

const isDigit = (c) => c >= 48 && c <= 57;
const isAlpha = (c) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
// A word byte is an ASCII letter or digit; bytes of multi-byte UTF-8 sequences are boundaries.
const isWord = (c) => isDigit(c) || isAlpha(c);
const isLocal = (c) => isWord(c) || c === DOT || c === C("_") || c === C("%") || c === PLUS || c === DASH;
const isPhoneSep = (c) => c === SPACE || c === DASH || c === DOT || c === LPAREN || c === RPAREN;
const isClauseEnd = (c) => c === C(";") || c === C("!") || c === C("?") || c === 10 || c === 13;
const isNanpSep = (c) => c === SPACE || c === DASH || c === DOT;
const toLower = (c) => (c >= 65 && c <= 90 ? c + 32 : c);
const toUpper = (c) => (c >= 97 && c <= 122 ? c - 32 : c);

function luhn(digits, n) {
  let sum = 0;
  let twice = false;
  for (let i = n - 1; i >= 0; --i) {
    let d = digits[i];
    if (twice && (d *= 2) > 9) d -= 9;
    sum += d;
    twice = !twice;
  }
  return sum % 10 === 0;
}

// s: upper-case letters and digits (byte values), n in [MIN_IBAN, MAX_IBAN].
function ibanValid(s, n) {
  if (!isAlpha(s[0]) || !isAlpha(s[1]) || !isDigit(s[2]) || !isDigit(s[3])) return false;
  const expected = IBAN_LENGTHS.get(String.fromCharCode(s[0], s[1]));
  if (expected !== undefined && expected !== n) return false;
  // ISO 7064 mod 97-10, the first four characters moved to the end, letters as 10..35.
  let rem = 0;
  for (let k = 0; k < n; ++k) {
    const c = s[(k + 4) % n];
    rem = isDigit(c) ? (rem * 10 + (c - 48)) % 97 : (rem * 100 + (c - 65 + 10)) % 97;
  }
  return rem === 1;
}

class Scanner {
  constructor(bytes) {
    this.t = bytes;
    this.n = bytes.length;
    this.lastEnd = 0;
    this.recent = [null, null, null, null];  // the last matches, enough for CONTEXT_WORDS
    this.recentN = 0;
    this.runBegin = -1;
    this.runEnd = -1;
    this.domainEnd = -1;
  }

  // Past the end reads as 0, which is neither a word byte nor a separator.
  at(i) { return i < this.n ? this.t[i] : 0; }

  // The match starting at i, by precedence: card, iban, ssn, email, phone, account.
  matchAt(i) {
    const t = this.t;
    const afterWideDigit = i >= 3 && this.cardDigit(i - 3).width === 3;
    const start = i === 0 || i === this.lastEnd || (!isWord(t[i - 1]) && !afterWideDigit);
    if (!start) {
      // A card may be glued to the word before it ("PAN4111111111111111").
      return isAlpha(t[i - 1]) && this.cardDigit(i).width !== 0 ? this.card(i) : null;
    }
    const c = t[i];
    if (this.cardDigit(i).width === 3) return this.card(i);
    if (isDigit(c)) return this.card(i) ?? this.ssn(i) ?? this.email(i) ?? this.phone(i) ?? this.account(i);
    if (isAlpha(c)) return this.iban(i) ?? this.email(i);
    const m = this.email(i);
    if (m) return m;
    if (c === PLUS || c === LPAREN) return this.phone(i);
    return null;
  }

  matched(m) {
    this.recent[this.recentN++ % this.recent.length] = m;
    this.lastEnd = m.end;
  }

  // An ASCII digit, or a fullwidth one (U+FF10..U+FF19, EF BC 90..99); cards only.
  cardDigit(p) {
    const c = this.at(p);
    if (isDigit(c)) return { value: c - 48, width: 1 };
    if (c === 0xef && this.at(p + 1) === 0xbc && this.at(p + 2) >= 0x90 && this.at(p + 2) <= 0x99) {
      return { value: this.at(p + 2) - 0x90, width: 3 };
    }
    return { value: 0, width: 0 };
  }

  // Bytes of the group separator at p: one of ascii, or U+00A0, U+2007, U+2009, U+202F; 0 if none.
  separator(p, ascii) {
    const c = this.at(p);
    if (c !== 0 && ascii.includes(c)) return 1;
    if (c === 0xc2 && this.at(p + 1) === 0xa0) return 2;
    if (c === 0xe2 && this.at(p + 1) === 0x80) {
      const d = this.at(p + 2);
      if (d === 0x87 || d === 0x89 || d === 0xaf) return 3;
    }
    return 0;
  }

  // Bytes of the gap at p: one or two separators; 0 when there is none.
  gap(p, ascii) {
    let q = p;
    for (let k = 0; k < MAX_GAP_SEPARATORS; ++k) {
      const w = this.separator(q, ascii);
      if (w === 0) break;
      q += w;
    }
    return q - p;
  }

  digits(p, n) {
    for (let k = 0; k < n; ++k) if (!isDigit(this.at(p + k))) return false;
    return true;
  }

  startsWith(p, word) {
    if (p < 0 || p + word.length > this.n) return false;
    for (let k = 0; k < word.length; ++k) if (this.t[p + k] !== word[k]) return false;
    return true;
  }

  // "1234567.89", "123,456": an amount, not an identifier ("[" stands for a replaced digit).
  decimalFollows(end) {
    const c = this.at(end);
    return (c === DOT || c === COMMA) && (isDigit(this.at(end + 1)) || this.at(end + 1) === LBRACKET);
  }

  card(i) {
    const d = new Array(MAX_CARD_DIGITS);
    let nd = 0;
    let best = null;  // the longest Luhn-valid prefix that ends with a group
    for (let p = i; ;) {
      let q = p;
      let len = 0;
      for (let g = this.cardDigit(q); g.width !== 0; g = this.cardDigit(q)) {
        if (nd === MAX_CARD_DIGITS) return best;
        d[nd++] = g.value;
        q += g.width;
        ++len;
      }
      if (nd >= MIN_CARD_DIGITS && luhn(d, nd)) {
        best = { begin: i, end: q, kind: CARD, last4: d.slice(nd - 4, nd).join("") };
      }
      // Only a 4- to 6-digit group is followed by another (4-4-4-4, 4-6-5, 4-6-4, 6-13).
      if (len < 4 || len > 6) return best;
      const w = this.gap(q, CARD_SEPARATORS);
      if (w === 0 || this.cardDigit(q + w).width === 0) return best;
      p = q + w;
    }
  }

  iban(i) {
    if (!isAlpha(this.at(i)) || !isAlpha(this.at(i + 1)) || !isDigit(this.at(i + 2)) || !isDigit(this.at(i + 3))) return null;
    const s = [];
    let q = i;
    while (isWord(this.at(q)) && q - i <= MAX_IBAN) ++q;
    const run = q - i;
    if (run !== 4) {  // electronic format: one run of letters and digits
      if (run < MIN_IBAN || run > MAX_IBAN || this.startsWith(q, CARD_PREFIX)) return null;
      for (let k = 0; k < run; ++k) s[k] = toUpper(this.t[i + k]);
      return ibanValid(s, run) ? { begin: i, end: q, kind: IBAN } : null;
    }
    // Paper format: groups of four split by gaps; every group end is a candidate end.
    for (let k = 0; k < 4; ++k) s[k] = toUpper(this.t[i + k]);
    let n = 4;
    const ends = [];
    for (let p = q; ;) {
      const w = this.gap(p, IBAN_SEPARATORS);
      if (w === 0 || !isWord(this.at(p + w))) break;
      const g = p + w;
      let e = g;
      while (isWord(this.at(e)) && e - g <= 4) ++e;
      const len = e - g;
      if (len > 4 || n + len > MAX_IBAN) break;
      for (let k = 0; k < len; ++k) s[n + k] = toUpper(this.t[g + k]);
      n += len;
      ends.push({ chars: n, end: e });
      if (len < 4) break;
      p = e;
    }
    for (let k = ends.length - 1; k >= 0; --k) {
      const { chars, end } = ends[k];
      if (chars >= MIN_IBAN && !this.startsWith(end, CARD_PREFIX) && ibanValid(s, chars)) return { begin: i, end, kind: IBAN };
    }
    return null;
  }

  // Area 000, 666 and 900-999, group 00 and serial 0000 are never issued.
  ssnValid(area, group, serial) {
    const t = this.t;
    const a = String.fromCharCode(t[area], t[area + 1], t[area + 2]);
    return a !== "000" && a !== "666" && t[area] !== C("9") &&
      String.fromCharCode(t[group], t[group + 1]) !== "00" &&
      String.fromCharCode(t[serial], t[serial + 1], t[serial + 2], t[serial + 3]) !== "0000";
  }

  ssn(i) {
    const group = i + 3 + this.gap(i + 3, SSN_SEPARATORS);
    const serial = group + 2 + this.gap(group + 2, SSN_SEPARATORS);
    if (this.digits(i, 3) && group > i + 3 && this.digits(group, 2) && serial > group + 2 && this.digits(serial, 4) &&
        !isWord(this.at(serial + 4))) {
      return this.ssnValid(i, group, serial) ? { begin: i, end: serial + 4, kind: SSN } : null;
    }
    // Nine bare digits are an SSN only when the text says so.
    if (this.digits(i, 9) && !isWord(this.at(i + 9)) && !this.decimalFollows(i + 9) && this.ssnValid(i, i + 3, i + 5) &&
        this.hasContext(i, SSN_WORDS, SSN)) {
      return { begin: i, end: i + 9, kind: SSN };
    }
    return null;
  }

  // A run of address characters is read once; later starts inside it reuse the cached end.
  email(i) {
    if (!isLocal(this.at(i)) || (i !== 0 && i !== this.lastEnd && isLocal(this.t[i - 1]))) return null;
    if (i < this.runBegin || i >= this.runEnd) {
      let e = i;
      while (isLocal(this.at(e))) ++e;
      this.runBegin = i;
      this.runEnd = e;
      this.domainEnd = this.at(e) === AT_SIGN ? this.domainEndAt(e + 1) : -1;
    }
    if (this.domainEnd === -1) return null;
    let b = i;  // leading dots, dashes and pluses are punctuation, not the address
    while (b < this.runEnd && (this.t[b] === DOT || this.t[b] === DASH || this.t[b] === PLUS)) ++b;
    if (b === this.runEnd) return null;
    return { begin: b, end: this.domainEnd, kind: EMAIL };
  }

  // The longest domain at p: at least two labels, the last of two or more letters, ending before
  // a byte that is not a letter or digit or before a card glued to it; -1 when there is none.
  domainEndAt(p) {
    let best = -1;
    let label = p;
    let dots = 0;
    let letters = true;
    for (let k = p; ; ++k) {
      const c = this.at(k);
      const gluedCard = isDigit(c) && k > label && isAlpha(this.t[k - 1]) && this.card(k) !== null;
      if ((!isWord(c) || gluedCard) && dots > 0 && letters && k - label >= 2) best = k;
      if (c === DOT) {
        if (k === label) return best;  // an empty label ends the domain
        ++dots;
        label = k + 1;
        letters = true;
      } else if (c === DASH || isDigit(c)) {
        letters = false;
      } else if (!isAlpha(c)) {
        return best;
      }
    }
  }

  phone(i) {
    if (this.at(i) === PLUS) return this.e164(i);
    return this.nanp(i) ?? this.barePhone(i);
  }

  // "+" and 8..15 digits, groups split by one or two of space, dash, dot and parentheses.
  e164(i) {
    if (!isDigit(this.at(i + 1))) return null;
    let best = null;
    let nd = 0;
    for (let p = i + 1; ;) {
      let q = p;
      for (; isDigit(this.at(q)); ++q) {
        if (nd === MAX_PHONE_DIGITS) return best;
        ++nd;
      }
      if (isAlpha(this.at(q))) return best;
      if (nd >= MIN_PHONE_DIGITS) best = { begin: i, end: q, kind: PHONE };
      let r = q;
      while (r - q < 2 && isPhoneSep(this.at(r))) ++r;
      if (r === q || !isDigit(this.at(r))) return best;
      p = r;
    }
  }

  // North American numbers; with spaces only when the text says phone. Area codes start with 2-9.
  nanp(i) {
    let p = i;
    let s0 = 0;
    if (this.at(p) === ONE && isNanpSep(this.at(p + 1)) && (isDigit(this.at(p + 2)) || this.at(p + 2) === LPAREN)) {
      s0 = this.at(p + 1);
      p += 2;
    }
    let area, x;
    let s = 0;
    if (this.at(p) === LPAREN) {
      if (!this.digits(p + 1, 3) || this.at(p + 4) !== RPAREN) return null;
      area = p + 1;
      x = p + 5;
      if (this.at(x) === SPACE || this.at(x) === DASH) ++x;
    } else {
      if (!this.digits(p, 3)) return null;
      s = this.at(p + 3);
      if (!isNanpSep(s) || (s0 !== 0 && s !== s0)) return null;
      area = p;
      x = p + 4;
    }
    if (this.at(area) < TWO) return null;
    if (!this.digits(x, 3)) return null;
    const s2 = this.at(x + 3);
    if (s !== 0 ? s2 !== s : !isNanpSep(s2)) return null;
    if (!this.digits(x + 4, 4) || isWord(this.at(x + 8))) return null;
    if (s === SPACE && !this.hasContext(i, PHONE_WORDS, PHONE)) return null;
    return { begin: i, end: x + 8, kind: PHONE };
  }

  // Ten bare digits (eleven with a leading 1) only when the text says phone.
  barePhone(i) {
    let q = i;
    while (isDigit(this.at(q)) && q - i <= 11) ++q;
    const len = q - i;
    if (isWord(this.at(q)) || !(len === 10 || (len === 11 && this.t[i] === ONE))) return null;
    if (this.decimalFollows(q) || !this.hasContext(i, PHONE_WORDS, PHONE)) return null;
    return { begin: i, end: q, kind: PHONE };
  }

  // 6..17 digits in groups split by one space or dash, only when the text says account.
  account(i) {
    let best = null;
    const groups = [];
    let nd = 0;
    let sep = 0;
    for (let p = i; ;) {
      let q = p;
      let tooLong = false;
      for (; isDigit(this.at(q)); ++q) {
        if (nd === MAX_ACCOUNT_DIGITS) {
          tooLong = true;
          break;
        }
        ++nd;
      }
      if (tooLong || isAlpha(this.at(q))) break;
      groups.push(q - p);
      if (nd >= MIN_ACCOUNT_DIGITS && !this.decimalFollows(q)) best = { begin: i, end: q, kind: ACCOUNT };
      const c = this.at(q);
      if ((c !== SPACE && c !== DASH) || (sep !== 0 && c !== sep) || !isDigit(this.at(q + 1))) break;
      sep = c;
      p = q + 1;
    }
    // "2026-11", "2026-11-20", "20-11-2026": a date.
    const ng = groups.length;
    const date = ng >= 2 && ((groups[0] === 4 && groups[1] === 2) ||
                             (ng >= 3 && groups[0] === 2 && groups[1] === 2 && groups[2] === 4));
    if (!best || date || !this.hasContext(i, ACCOUNT_WORDS, ACCOUNT)) return null;
    return best;
  }

  // The placeholder that ends at p (a literal one in the input counts too), if any.
  placeholderBefore(p) {
    if (p === 0 || this.t[p - 1] !== RBRACKET) return null;
    for (const k of [IBAN, SSN, ACCOUNT, EMAIL, PHONE]) {
      const name = KIND_BYTES[k];
      const len = name.length + 2;
      if (p >= len && this.t[p - len] === LBRACKET && this.startsWith(p - len + 1, name)) return { begin: p - len, end: p, kind: k };
    }
    const len = CARD_PREFIX.length + 5;
    if (p >= len && this.startsWith(p - len, CARD_PREFIX) && this.digits(p - 5, 4)) return { begin: p - len, end: p, kind: CARD };
    return null;
  }

  keywordEndsAt(end, floor, words) {
    for (const w of words) {
      if (end < floor + w.length) continue;
      const b = end - w.length;
      if (b > floor && isWord(this.t[b - 1])) continue;  // floor: an earlier match ends there
      let same = true;
      for (let k = 0; same && k < w.length; ++k) same = toLower(this.t[b + k]) === w[k];
      if (same) return true;
    }
    return false;
  }

  // Whether one of words ends within CONTEXT_WORDS words before x, or an item of the same kind
  // at most one word before; an earlier match or a placeholder counts as one word of no bytes.
  hasContext(x, words, kind) {
    const t = this.t;
    let p = x;
    let k = 0;
    const kept = Math.min(this.recentN, this.recent.length);
    const recent = (j) => this.recent[(this.recentN - 1 - j) % this.recent.length];
    let seen = 0;
    let budget = CONTEXT_BYTES;
    while (seen < CONTEXT_WORDS && p > 0) {
      let item = null;
      if (k < kept && recent(k).end === p) {
        item = recent(k++);
      } else {
        item = this.placeholderBefore(p);
      }
      if (item) {
        if (item.kind === kind && seen <= 1) return true;
        p = item.begin;
        ++seen;
        continue;
      }
      if (!isWord(t[p - 1])) {
        if (isClauseEnd(t[p - 1]) || --budget < 0) return false;
        --p;
        continue;
      }
      const stop = k < kept ? recent(k).end : 0;
      const end = p;
      while (p > stop && isWord(t[p - 1])) {
        if (--budget < 0) return false;
        --p;
      }
      ++seen;
      if (this.keywordEndsAt(end, stop, words)) return true;
    }
    return false;
  }
}

function placeholder(m) {
  return m.kind === CARD ? `[card ending ${m.last4}]` : `[${KINDS[m.kind]}]`;
}

// Every detector needs an ASCII digit, a fullwidth digit or "@": text without any passes as is.
const MAYBE_PII = /[0-9@\uFF10-\uFF19]/;

export function redact(text) {
  const counts = { card: 0, iban: 0, ssn: 0, account: 0, email: 0, phone: 0 };
  if (typeof text !== "string" || !MAYBE_PII.test(text)) return { text, counts, total: 0 };
  const bytes = encoder.encode(text);
  const scanner = new Scanner(bytes);
  let out = "";
  let copied = 0;
  let total = 0;
  for (let i = 0; i < bytes.length;) {
    const m = scanner.matchAt(i);
    if (!m) {
      ++i;
      continue;
    }
    // Matches begin and end on character boundaries, so each slice decodes on its own.
    out += decoder.decode(bytes.subarray(copied, m.begin)) + placeholder(m);
    ++counts[KINDS[m.kind]];
    ++total;
    scanner.matched(m);
    i = copied = m.end;
  }
  if (total === 0) return { text, counts, total };
  out += decoder.decode(bytes.subarray(copied));
  return { text: out, counts, total };
}

export function redactText(text) {
  return redact(text).text;
}
