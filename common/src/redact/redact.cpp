#include "common/redact/redact.hpp"

#include <algorithm>
#include <optional>
#include <span>

// One hand-written left-to-right scan, not std::regex: libstdc++'s std::regex backtracks and
// recurses once per character (a long digit run can overflow the stack) and costs microseconds per
// pattern even on text without PII; this runs on every message before it enters the bus.
//
// How it stays linear: a detector is only tried where a token can start (after a byte that is not
// an ASCII letter or digit; a card also where a digit run starts right after a letter) and reads a
// bounded number of bytes (at most 19 card digits of at most 3 bytes each with gaps of at most two
// separators of at most 3 bytes each, 34 IBAN characters with such gaps, 15 phone digits, 17
// account digits, 64 bytes of context to the left). The one unbounded token, an e-mail address, is
// read once per run of address characters (cached).
//
// How it stays idempotent: every match ends before a byte that is not a letter or digit (except
// that a card may end before a letter, and an e-mail address before a card glued to it), and no
// token starts inside a run of digits, fullwidth ones included; the position just after a match
// counts as a token start (as it does after the placeholder's "]"); context is looked up to the
// left in words that stop where an earlier match ends, and an earlier match or a placeholder counts
// as one word and none of its bytes; an IBAN never ends right before a card placeholder (the first
// pass read that card's digits as part of the IBAN's word). So a second pass sees the same decisions.
namespace common::redact {
namespace {

constexpr std::size_t kNone = std::string_view::npos;

constexpr std::size_t kMaxCardDigits = 19;
constexpr std::size_t kMinCardDigits = 13;
constexpr std::size_t kMaxIban = 34;  // ISO 13616: 2 letters, 2 check digits, up to 30 characters
constexpr std::size_t kMinIban = 15;  // the shortest national format (Norway)
constexpr int kMaxPhoneDigits = 15;   // E.164
constexpr int kMinPhoneDigits = 8;
constexpr int kMaxAccountDigits = 17;
constexpr int kMinAccountDigits = 6;
constexpr int kContextWords = 3;       // "my account number is 12345678": the keyword is 3 words back
constexpr int kContextBytes = 64;      // bytes of plain text the look-back reads at most

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
// A word byte is an ASCII letter or digit. Bytes of multi-byte UTF-8 sequences are not, so "€" or
// an accented letter next to a number is a boundary: the safe side for redaction.
bool is_word(char c) noexcept { return is_digit(c) || is_alpha(c); }
bool is_local(char c) noexcept {
  return is_word(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
bool is_phone_sep(char c) noexcept { return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')'; }
// Context does not reach across these ("account 12345678; order 987654"). Not the full stop:
// "acct. no. 12345678" uses it for abbreviations.
bool is_clause_end(char c) noexcept { return c == ';' || c == '!' || c == '?' || c == '\n' || c == '\r'; }
bool is_nanp_sep(char c) noexcept { return c == ' ' || c == '-' || c == '.'; }
// Separators between the groups of a card, an IBAN or an SSN: the Unicode spaces that word
// processors and phones put between groups (U+00A0 no-break space C2 A0, U+2007 figure space
// E2 80 87, U+2009 thin space E2 80 89, U+202F narrow no-break space E2 80 AF) and these ASCII ones.
// A card also takes '.' and '/'; an SSN '.' ("123.45.6789"); an IBAN neither, because sentence
// punctuation would join an IBAN-shaped word to the next ("ab12. Call ...") one time in 97.
// A gap between two groups is one or two separators, in any mix ("4111  1111", "4111 -1111").
constexpr std::string_view kCardSeparators = " \t-./";
constexpr std::string_view kIbanSeparators = " \t-";
constexpr std::string_view kSsnSeparators = " \t-.";
constexpr int kMaxGapSeparators = 2;
char to_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
char to_upper(char c) noexcept { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

bool luhn(const char* digits, std::size_t n) noexcept {
  int sum = 0;
  bool twice = false;
  for (std::size_t i = n; i-- > 0;) {
    int d = digits[i] - '0';
    if (twice && (d *= 2) > 9) d -= 9;
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

struct IbanLength {
  std::string_view country;
  std::size_t length;
};
// National lengths of the countries customers write most; others only need 15..34 characters.
constexpr IbanLength kIbanLengths[] = {
    {"AT", 20}, {"BE", 16}, {"CH", 21}, {"DE", 22}, {"DK", 18}, {"ES", 24}, {"FI", 18}, {"FR", 27}, {"GB", 22},
    {"IE", 22}, {"IT", 27}, {"LU", 20}, {"NL", 18}, {"NO", 15}, {"PL", 28}, {"PT", 25}, {"SE", 24},
};

// s: upper-case letters and digits, n in [kMinIban, kMaxIban].
bool iban_valid(const char* s, std::size_t n) noexcept {
  if (!is_alpha(s[0]) || !is_alpha(s[1]) || !is_digit(s[2]) || !is_digit(s[3])) return false;
  const std::string_view country(s, 2);
  for (const auto& c : kIbanLengths)
    if (c.country == country && c.length != n) return false;
  // ISO 13616 / ISO 7064 mod 97-10: the first four characters move to the end, letters count as
  // 10..35, and the whole number is 1 modulo 97. Folded digit by digit, so no big integers.
  int rem = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const char c = s[(k + 4) % n];
    rem = is_digit(c) ? (rem * 10 + (c - '0')) % 97 : (rem * 100 + (c - 'A' + 10)) % 97;
  }
  return rem == 1;
}

constexpr std::string_view kSsnWords[] = {"ssn", "social security"};
constexpr std::string_view kAccountWords[] = {"account", "accounts", "acct", "acc", "a/c", "routing"};
constexpr std::string_view kPhoneWords[] = {"phone", "telephone", "tel", "call", "mobile", "cell"};

struct Span {
  std::size_t begin = 0, end = 0;
  Kind kind = Kind::kCard;
};

struct Match {
  std::size_t begin = 0, end = 0;  // replaced bytes; [begin, end)
  Kind kind = Kind::kCard;
  std::array<char, 4> last4{};  // cards only
};

constexpr std::string_view kCardPrefix = "[card ending ";

void append_placeholder(std::string& out, const Match& m) {
  if (m.kind == Kind::kCard) {
    out.append(kCardPrefix).append(m.last4.data(), m.last4.size()).push_back(']');
    return;
  }
  out.push_back('[');
  out.append(to_string(m.kind)).push_back(']');
}

class Scanner final {
 public:
  explicit Scanner(std::string_view text) : t_(text) {}

  // The match that starts at i (its begin may skip leading punctuation of an e-mail address), by
  // precedence: card, iban, ssn, email, phone, account.
  std::optional<Match> match_at(std::size_t i) {
    // Right after a fullwidth digit is inside a card's digit run ("１4111..."), as after an ASCII one.
    const bool after_wide_digit = i >= 3 && card_digit(i - 3).width == 3;
    const bool start = i == 0 || i == last_end_ || (!is_word(t_[i - 1]) && !after_wide_digit);
    if (!start) {
      // A card may be glued to the word before it ("PAN4111111111111111"): 13-19 digits that pass
      // Luhn are rare enough in references and codes to redact them anyway.
      return is_alpha(t_[i - 1]) && card_digit(i).width != 0 ? card(i) : std::nullopt;
    }
    const char c = t_[i];
    if (card_digit(i).width == 3) return card(i);
    if (is_digit(c)) {
      if (auto m = card(i)) return m;
      if (auto m = ssn(i)) return m;
      if (auto m = email(i)) return m;
      if (auto m = phone(i)) return m;
      return account(i);
    }
    if (is_alpha(c)) {
      if (auto m = iban(i)) return m;
      return email(i);
    }
    if (auto m = email(i)) return m;
    if (c == '+' || c == '(') return phone(i);
    return std::nullopt;
  }

  void matched(const Match& m) noexcept {
    recent_[recent_n_++ % recent_.size()] = {m.begin, m.end, m.kind};
    last_end_ = m.end;
  }

 private:
  // Past the end reads as NUL, which is neither a word byte nor a separator: the same as the end.
  char at(std::size_t i) const noexcept { return i < t_.size() ? t_[i] : '\0'; }
  unsigned byte(std::size_t i) const noexcept { return static_cast<unsigned char>(at(i)); }

  struct Digit {
    char value = 0;         // '0'..'9'
    std::size_t width = 0;  // bytes; 0 when there is no digit
  };
  // An ASCII digit, or a fullwidth one (U+FF10..U+FF19, EF BC 90..99) as East Asian input methods
  // type them; cards only.
  Digit card_digit(std::size_t p) const noexcept {
    if (is_digit(at(p))) return {at(p), 1};
    if (byte(p) == 0xEF && byte(p + 1) == 0xBC && byte(p + 2) >= 0x90 && byte(p + 2) <= 0x99) {
      return {static_cast<char>('0' + (byte(p + 2) - 0x90)), 3};
    }
    return {};
  }

  // Bytes of the group separator at p (see kMaxGapSeparators), 0 when there is none.
  std::size_t separator(std::size_t p, std::string_view ascii) const noexcept {
    const unsigned c = byte(p);
    if (c != 0 && ascii.find(static_cast<char>(c)) != std::string_view::npos) return 1;
    if (c == 0xC2 && byte(p + 1) == 0xA0) return 2;
    if (c == 0xE2 && byte(p + 1) == 0x80 && (byte(p + 2) == 0x87 || byte(p + 2) == 0x89 || byte(p + 2) == 0xAF)) return 3;
    return 0;
  }

  // Bytes of the gap at p: one or two separators; 0 when there is none.
  std::size_t gap(std::size_t p, std::string_view ascii) const noexcept {
    std::size_t q = p;
    for (int k = 0; k < kMaxGapSeparators; ++k) {
      const std::size_t w = separator(q, ascii);
      if (w == 0) break;
      q += w;
    }
    return q - p;
  }

  bool digits(std::size_t p, std::size_t n) const noexcept {
    for (std::size_t k = 0; k < n; ++k)
      if (!is_digit(at(p + k))) return false;
    return true;
  }

  // "1234567.89", "123,456": a number that goes on after a decimal or thousands separator is an
  // amount, not an identifier. "[" stands for a digit a first pass replaced (idempotence).
  bool decimal_follows(std::size_t end) const noexcept {
    return (at(end) == '.' || at(end) == ',') && (is_digit(at(end + 1)) || at(end + 1) == '[');
  }

  // Digits (ASCII or fullwidth) in groups split by gaps; letters may touch either end, digits not:
  // a digit run that starts or goes on beyond the card is a longer number.
  std::optional<Match> card(std::size_t i) const {
    std::array<char, kMaxCardDigits> d{};
    std::size_t nd = 0;
    std::optional<Match> best;  // the longest Luhn-valid prefix that ends with a group
    for (std::size_t p = i;;) {
      std::size_t q = p;
      std::size_t len = 0;
      for (Digit g; (g = card_digit(q)).width != 0; q += g.width, ++len) {
        if (nd == kMaxCardDigits) return best;  // too long to end here or later
        d[nd++] = g.value;
      }
      if (nd >= kMinCardDigits && luhn(d.data(), nd)) {
        best = Match{i, q, Kind::kCard, {d[nd - 4], d[nd - 3], d[nd - 2], d[nd - 1]}};
      }
      // Printed groups: 4-4-4-4, 4-6-5 (Amex), 4-6-4 (Diners), 6-13 (UnionPay); only a 4- to
      // 6-digit group is followed by another, so "555 123 4567 ..." never starts a card.
      if (len < 4 || len > 6) return best;
      const std::size_t w = gap(q, kCardSeparators);
      if (w == 0 || card_digit(q + w).width == 0) return best;
      p = q + w;
    }
  }

  std::optional<Match> iban(std::size_t i) const {
    if (!is_alpha(at(i)) || !is_alpha(at(i + 1)) || !is_digit(at(i + 2)) || !is_digit(at(i + 3))) return std::nullopt;
    std::array<char, kMaxIban> s{};
    std::size_t q = i;
    while (is_word(at(q)) && q - i <= kMaxIban) ++q;
    const std::size_t run = q - i;
    if (run != 4) {  // electronic format: one run of letters and digits
      if (run < kMinIban || run > kMaxIban || card_placeholder_at(q)) return std::nullopt;
      for (std::size_t k = 0; k < run; ++k) s[k] = to_upper(t_[i + k]);
      if (!iban_valid(s.data(), run)) return std::nullopt;
      return Match{i, q, Kind::kIban};
    }
    // Paper format: groups of four split by gaps, the last group shorter or not. The group ends are
    // the candidate ends (a word after the IBAN can look like a group).
    for (std::size_t k = 0; k < 4; ++k) s[k] = to_upper(t_[i + k]);
    std::size_t n = 4;
    struct GroupEnd {
      std::size_t chars, end;
    };
    std::array<GroupEnd, kMaxIban / 4> ends{};
    std::size_t ne = 0;
    for (std::size_t p = q;;) {
      const std::size_t w = gap(p, kIbanSeparators);
      if (w == 0 || !is_word(at(p + w))) break;
      const std::size_t g = p + w;
      std::size_t e = g;
      while (is_word(at(e)) && e - g <= 4) ++e;
      const std::size_t len = e - g;
      if (len > 4 || n + len > kMaxIban) break;
      for (std::size_t k = 0; k < len; ++k) s[n + k] = to_upper(t_[g + k]);
      n += len;
      ends[ne++] = {n, e};
      if (len < 4) break;
      p = e;
    }
    for (std::size_t k = ne; k-- > 0;) {
      if (ends[k].chars >= kMinIban && !card_placeholder_at(ends[k].end) && iban_valid(s.data(), ends[k].chars)) {
        return Match{i, ends[k].end, Kind::kIban};
      }
    }
    return std::nullopt;
  }

  // "XX12ABCDEF[card ending 1111]": the first pass read the card's digits as part of the word.
  bool card_placeholder_at(std::size_t p) const noexcept { return t_.substr(p).starts_with(kCardPrefix); }

  // Area 000, 666 and 900-999, group 00 and serial 0000 are never issued.
  bool ssn_valid(std::size_t area, std::size_t group, std::size_t serial) const noexcept {
    const std::string_view a = t_.substr(area, 3);
    return a != "000" && a != "666" && a[0] != '9' && t_.substr(group, 2) != "00" && t_.substr(serial, 4) != "0000";
  }

  std::optional<Match> ssn(std::size_t i) const {
    // ddd-dd-dddd with any gaps: "123 45 6789", "123.45.6789", "123\u00A045\u00A06789".
    const std::size_t group = i + 3 + gap(i + 3, kSsnSeparators);
    const std::size_t serial = group + 2 + gap(group + 2, kSsnSeparators);
    if (digits(i, 3) && group > i + 3 && digits(group, 2) && serial > group + 2 && digits(serial, 4) &&
        !is_word(at(serial + 4))) {
      if (!ssn_valid(i, group, serial)) return std::nullopt;
      return Match{i, serial + 4, Kind::kSsn};
    }
    // Nine bare digits are an SSN only when the text says so.
    if (digits(i, 9) && !is_word(at(i + 9)) && !decimal_follows(i + 9) && ssn_valid(i, i + 3, i + 5) &&
        has_context(i, kSsnWords, Kind::kSsn)) {
      return Match{i, i + 9, Kind::kSsn};
    }
    return std::nullopt;
  }

  // A run of address characters is read once: later starts inside it (after a match that ended
  // there) reuse the cached end and domain.
  std::optional<Match> email(std::size_t i) {
    if (!is_local(at(i)) || (i != 0 && i != last_end_ && is_local(t_[i - 1]))) return std::nullopt;
    if (i < run_begin_ || i >= run_end_) {
      std::size_t e = i;
      while (is_local(at(e))) ++e;
      run_begin_ = i;
      run_end_ = e;
      domain_end_ = at(e) == '@' ? domain_end(e + 1) : kNone;
    }
    if (domain_end_ == kNone) return std::nullopt;
    std::size_t b = i;  // leading dots, dashes and pluses are punctuation, not the address
    while (b < run_end_ && (t_[b] == '.' || t_[b] == '-' || t_[b] == '+')) ++b;
    if (b == run_end_) return std::nullopt;
    return Match{b, domain_end_, Kind::kEmail};
  }

  // The longest domain at p: labels of letters, digits and dashes, at least two, the last of two
  // or more letters, ending before a byte that is not a letter or digit ("x@bank.com." and
  // "x@bank.com-based" end after "com") or before a card glued to it ("x@bank.com4111111111111111"
  // ends after "com", as it does before the "[" of the card's placeholder in a second pass). kNone
  // when there is none.
  std::size_t domain_end(std::size_t p) const noexcept {
    std::size_t best = kNone;
    std::size_t label = p;
    int dots = 0;
    bool letters = true;  // the current label so far is letters only
    for (std::size_t k = p;; ++k) {
      const char c = at(k);
      const bool glued_card = is_digit(c) && k > label && is_alpha(t_[k - 1]) && card(k);
      if ((!is_word(c) || glued_card) && dots > 0 && letters && k - label >= 2) best = k;
      if (c == '.') {
        if (k == label) return best;  // an empty label ends the domain
        ++dots;
        label = k + 1;
        letters = true;
      } else if (c == '-' || is_digit(c)) {
        letters = false;
      } else if (!is_alpha(c)) {
        return best;
      }
    }
  }

  std::optional<Match> phone(std::size_t i) const {
    if (at(i) == '+') return e164(i);
    if (auto m = nanp(i)) return m;
    return bare_phone(i);
  }

  // "+" and 8..15 digits; between digit groups one or two of space, dash, dot and parentheses:
  // "+1 (555) 123-4567", "+44 (0)20 7946 0958", "+49.151.12345678".
  std::optional<Match> e164(std::size_t i) const {
    if (!is_digit(at(i + 1))) return std::nullopt;
    std::optional<Match> best;
    int nd = 0;
    for (std::size_t p = i + 1;;) {
      std::size_t q = p;
      for (; is_digit(at(q)); ++q) {
        if (nd == kMaxPhoneDigits) return best;
        ++nd;
      }
      if (is_alpha(at(q))) return best;
      if (nd >= kMinPhoneDigits) best = Match{i, q, Kind::kPhone};
      std::size_t r = q;
      while (r - q < 2 && is_phone_sep(at(r))) ++r;
      if (r == q || !is_digit(at(r))) return best;
      p = r;
    }
  }

  // North American: "(555) 123-4567", "555-123-4567", "555.123.4567", "1-555-123-4567",
  // "1 (555) 123-4567"; with spaces only ("555 123 4567") when the text says phone. Area codes
  // start with 2-9.
  std::optional<Match> nanp(std::size_t i) const {
    std::size_t p = i;
    char s0 = 0;
    if (at(p) == '1' && is_nanp_sep(at(p + 1)) && (is_digit(at(p + 2)) || at(p + 2) == '(')) {
      s0 = at(p + 1);
      p += 2;
    }
    std::size_t area = 0, x = 0;
    char s = 0;
    if (at(p) == '(') {
      if (!digits(p + 1, 3) || at(p + 4) != ')') return std::nullopt;
      area = p + 1;
      x = p + 5;
      if (at(x) == ' ' || at(x) == '-') ++x;
    } else {
      if (!digits(p, 3)) return std::nullopt;
      s = at(p + 3);
      if (!is_nanp_sep(s) || (s0 != 0 && s != s0)) return std::nullopt;
      area = p;
      x = p + 4;
    }
    if (at(area) < '2') return std::nullopt;
    if (!digits(x, 3)) return std::nullopt;
    const char s2 = at(x + 3);
    if (s != 0 ? s2 != s : !is_nanp_sep(s2)) return std::nullopt;
    if (!digits(x + 4, 4) || is_word(at(x + 8))) return std::nullopt;
    if (s == ' ' && !has_context(i, kPhoneWords, Kind::kPhone)) return std::nullopt;
    return Match{i, x + 8, Kind::kPhone};
  }

  // Ten bare digits (eleven with a leading 1) only when the text says phone.
  std::optional<Match> bare_phone(std::size_t i) const {
    std::size_t q = i;
    while (is_digit(at(q)) && q - i <= 11) ++q;
    const std::size_t len = q - i;
    if (is_word(at(q)) || !(len == 10 || (len == 11 && t_[i] == '1'))) return std::nullopt;
    if (decimal_follows(q) || !has_context(i, kPhoneWords, Kind::kPhone)) return std::nullopt;
    return Match{i, q, Kind::kPhone};
  }

  // 6..17 digits in groups split by one space or dash, only when the text says account: the
  // longest such prefix that ends with a group, is not an amount and not a date.
  std::optional<Match> account(std::size_t i) const {
    std::optional<Match> best;
    std::array<std::size_t, kMaxAccountDigits> groups{};
    std::size_t ng = 0;
    int nd = 0;
    char sep = 0;
    for (std::size_t p = i;;) {
      std::size_t q = p;
      bool too_long = false;
      for (; is_digit(at(q)); ++q) {
        if (nd == kMaxAccountDigits) {
          too_long = true;
          break;
        }
        ++nd;
      }
      if (too_long || is_alpha(at(q))) break;
      groups[ng++] = q - p;
      if (nd >= kMinAccountDigits && !decimal_follows(q)) best = Match{i, q, Kind::kAccount};
      const char c = at(q);
      if ((c != ' ' && c != '-') || (sep != 0 && c != sep) || !is_digit(at(q + 1))) break;
      sep = c;
      p = q + 1;
    }
    // "2026-11", "2026-11-20", "20-11-2026": a date, whatever comes after it.
    const bool date = ng >= 2 && ((groups[0] == 4 && groups[1] == 2) ||
                                  (ng >= 3 && groups[0] == 2 && groups[1] == 2 && groups[2] == 4));
    if (!best || date || !has_context(i, kAccountWords, Kind::kAccount)) return std::nullopt;
    return best;
  }

  // The placeholder that ends at p (a literal one in the input counts too), if any.
  std::optional<Span> placeholder_before(std::size_t p) const noexcept {
    if (p == 0 || t_[p - 1] != ']') return std::nullopt;
    for (Kind k : {Kind::kIban, Kind::kSsn, Kind::kAccount, Kind::kEmail, Kind::kPhone}) {
      const std::string_view name = to_string(k);
      const std::size_t len = name.size() + 2;
      if (p >= len && t_[p - len] == '[' && t_.substr(p - len + 1, name.size()) == name) return Span{p - len, p, k};
    }
    const std::size_t len = kCardPrefix.size() + 5;
    if (p >= len && t_.substr(p - len, kCardPrefix.size()) == kCardPrefix && digits(p - 5, 4)) {
      return Span{p - len, p, Kind::kCard};
    }
    return std::nullopt;
  }

  bool keyword_ends_at(std::size_t end, std::size_t floor, std::span<const std::string_view> words) const noexcept {
    for (const std::string_view w : words) {
      if (end < floor + w.size()) continue;
      const std::size_t b = end - w.size();
      if (b > floor && is_word(t_[b - 1])) continue;  // floor: an earlier match ends there
      bool same = true;
      for (std::size_t k = 0; same && k < w.size(); ++k) same = to_lower(t_[b + k]) == w[k];
      if (same) return true;
    }
    return false;
  }

  // Whether one of `words` ends within the kContextWords words before x, or an earlier item of the
  // same kind at most one word before ("from account 12345678 to 87654321"). An earlier match (or a placeholder)
  // counts as one word of no bytes, so that a second pass reads the same context.
  bool has_context(std::size_t x, std::span<const std::string_view> words, Kind kind) const noexcept {
    std::size_t p = x;
    std::size_t k = 0;  // earlier matches passed, most recent first
    const std::size_t kept = std::min(recent_n_, recent_.size());
    auto recent = [&](std::size_t j) { return recent_[(recent_n_ - 1 - j) % recent_.size()]; };
    int seen = 0;
    int budget = kContextBytes;
    while (seen < kContextWords && p > 0) {
      std::optional<Span> item;
      if (k < kept && recent(k).end == p) {
        item = recent(k++);
      } else {
        item = placeholder_before(p);
      }
      if (item) {
        if (item->kind == kind && seen <= 1) return true;  // at most one word ("to", "and") between
        p = item->begin;
        ++seen;
        continue;
      }
      if (!is_word(t_[p - 1])) {
        if (is_clause_end(t_[p - 1]) || --budget < 0) return false;
        --p;
        continue;
      }
      // A word stops where an earlier match ends (a card glued to it: "4111111111111111acct"), as
      // it stops at the "]" of that match's placeholder in a second pass.
      const std::size_t stop = k < kept ? recent(k).end : 0;
      const std::size_t end = p;
      while (p > stop && is_word(t_[p - 1])) {
        if (--budget < 0) return false;
        --p;
      }
      ++seen;
      if (keyword_ends_at(end, stop, words)) return true;
    }
    return false;
  }

  std::string_view t_;
  std::size_t last_end_ = 0;
  std::array<Span, 4> recent_{};  // the last matches, enough for kContextWords
  std::size_t recent_n_ = 0;
  std::size_t run_begin_ = kNone, run_end_ = kNone, domain_end_ = kNone;
};

}  // namespace

std::string_view to_string(Kind kind) noexcept {
  switch (kind) {
    case Kind::kCard: return "card";
    case Kind::kIban: return "iban";
    case Kind::kSsn: return "ssn";
    case Kind::kAccount: return "account";
    case Kind::kEmail: return "email";
    case Kind::kPhone: return "phone";
  }
  return "unknown";
}

int Result::total() const noexcept {
  int n = 0;
  for (int c : counts) n += c;
  return n;
}

Result redact(std::string_view text) {
  Result r;
  r.text.reserve(text.size());
  Scanner scanner(text);
  std::size_t copied = 0;
  for (std::size_t i = 0; i < text.size();) {
    const auto m = scanner.match_at(i);
    if (!m) {
      ++i;
      continue;
    }
    r.text.append(text.substr(copied, m->begin - copied));
    append_placeholder(r.text, *m);
    ++r.counts[static_cast<std::size_t>(m->kind)];
    scanner.matched(*m);
    i = copied = m->end;
  }
  r.text.append(text.substr(copied));
  return r;
}

std::string redact_text(std::string_view text) {
  return redact(text).text;
}

}  // namespace common::redact
