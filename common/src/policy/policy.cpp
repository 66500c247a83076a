#include "common/policy/policy.hpp"

#include "common/util/json.hpp"
#include "common/util/time.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <stdexcept>

namespace common::policy {
namespace {

using nlohmann::json;

bool is_intent(std::string_view s) {
  return cases::parse_intent(s).has_value();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string fmt_num(double d) {
  return fmt::format("{:.3g}", d);
}

using common::json::FieldError;
using common::json::number_at;
using common::json::string_at;

// Agent results are read strictly, and a null is a value (a classifier's "merchant": null), not
// an absent key.
class Obj final {
 public:
  Obj(const json& j, std::string path) : o_(j, std::move(path), false) {}
  std::string field(std::string_view key) const { return o_.field(key); }
  const json* opt(std::string_view key) { return o_.find(key); }
  const json& need(std::string_view key) { return o_.need(key); }
  void done() const { o_.done(); }

 private:
  common::json::StrictObject o_;
};

template <std::size_t N>
std::string one_of(const json& v, const std::string& field, const std::string_view (&names)[N]) {
  const std::string s = string_at(v, field, 64);
  if (std::find(std::begin(names), std::end(names), s) == std::end(names)) {
    std::string list;
    for (auto n : names) list += (list.empty() ? "" : ", ") + std::string(n);
    throw FieldError{field, "must be one of " + list};
  }
  return s;
}

// A name an agent gives (a rule, a queue, a template): it reaches the trail and logs, so it must be
// a plain identifier, never free text.
std::string ident(const json& v, const std::string& field) {
  std::string s = string_at(v, field, 64);
  if (!std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; })) {
    throw FieldError{field, "must be 1-64 characters of a-z 0-9 _ -"};
  }
  return s;
}

const json& arr(const json& v, const std::string& field, std::size_t max) {
  if (!v.is_array()) throw FieldError{field, "must be an array"};
  if (v.size() > max) throw FieldError{field, fmt::format("must have at most {} items", max)};
  return v;
}

std::int64_t minor(const json& v, const std::string& field) {
  if (!v.is_number_integer()) throw FieldError{field, "must be an integer (minor units)"};
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(money::kMaxMinor)) {
    throw FieldError{field, "is out of range"};
  }
  const auto n = v.get<std::int64_t>();
  if (n < 0 || n > money::kMaxMinor) throw FieldError{field, "is out of range"};
  return n;
}

std::string currency(const json& v, const std::string& field) {
  const std::string s = string_at(v, field, 3);
  if (!money::is_currency(s)) throw FieldError{field, "must be an ISO 4217 currency code"};
  return s;
}

// An action object as agents propose it (schema only; the rules come after).
Action action_of(const json& v, const std::string& field, std::string_view agent) {
  Obj o(v, field);
  Action a;
  a.type = string_at(o.need("type"), o.field("type"), 64);
  a.reason = string_at(o.need("reason"), o.field("reason"), 300, true);
  const json* m = o.opt("amount_minor");
  const json* c = o.opt("currency");
  if ((m == nullptr) != (c == nullptr)) throw FieldError{o.field(m ? "currency" : "amount_minor"), "amount_minor and currency go together"};
  if (m) a.amount = money::Money{minor(*m, o.field("amount_minor")), currency(*c, o.field("currency"))};
  o.done();
  a.proposed_by = std::string(agent);
  return a;
}

constexpr std::string_view kLevels[] = {"low", "medium", "high"};
constexpr std::string_view kPriorities[] = {"low", "normal", "high", "urgent"};
constexpr std::string_view kDecisions[] = {"authorize", "refund", "retry", "escalate"};

struct Parsed {
  std::optional<std::string> intent;  // the classifier's own, which its proposals are checked against
  std::vector<Action> proposed;
  std::function<void(CaseState&)> commit;  // applies the result once everything passed
  std::string summary;
};

Parsed check_classifier(const json& r) {
  Obj o(r, "");
  std::optional<std::string> last4;
  const std::string intent = string_at(o.need("intent"), "intent", 64);
  if (!is_intent(intent)) throw FieldError{"intent", "must be one of the eight intents (docs/agents.md)"};
  const double confidence = number_at(o.need("confidence"), "confidence", 0, 1);
  {
    Obj e(o.need("entities"), "entities");
    const auto& amounts = arr(e.need("amounts"), "entities.amounts", 50);
    for (std::size_t i = 0; i < amounts.size(); ++i) {
      const std::string f = fmt::format("entities.amounts[{}]", i);
      Obj a(amounts[i], f);
      minor(a.need("amount_minor"), a.field("amount_minor"));
      currency(a.need("currency"), a.field("currency"));
      a.done();
    }
    if (const json* m = e.opt("merchant"); m && !m->is_null()) string_at(*m, "entities.merchant", 200);
    for (const char* k : {"dates", "invoice_ids"}) {
      const std::string f = std::string("entities.") + k;
      const auto& list = arr(e.need(k), f, 50);
      for (std::size_t i = 0; i < list.size(); ++i) string_at(list[i], fmt::format("{}[{}]", f, i), 100);
    }
    if (const json* l = e.opt("card_last4"); l && !l->is_null()) {
      const std::string s = string_at(*l, "entities.card_last4", 4);
      if (s.size() != 4 || !std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        throw FieldError{"entities.card_last4", "must be 4 digits or null"};
      }
      last4 = s;
    }
    e.done();
  }
  string_at(o.need("model"), "model", 100);
  Parsed p;
  p.intent = intent;
  std::optional<std::string> decision;
  if (const json* d = o.opt("payment_decision")) {
    Obj dj(*d, "payment_decision");
    const std::string action = one_of(dj.need("action"), "payment_decision.action", kDecisions);
    const std::string reason = string_at(dj.need("reason"), "payment_decision.reason", 100);
    const json* m = dj.opt("amount_minor");
    const json* c = dj.opt("currency");
    dj.done();
    if (action != "escalate") {
      if (!m || !c) throw FieldError{"payment_decision.amount_minor", "a decision to " + action + " needs amount_minor and currency"};
      Action a;
      a.type = action == "refund" ? "refund" : action == "authorize" ? "payment_authorize" : "payment_retry";
      a.amount = money::Money{minor(*m, "payment_decision.amount_minor"), currency(*c, "payment_decision.currency")};
      a.reason = reason;
      a.proposed_by = "classifier";
      p.proposed.push_back(std::move(a));
    } else if ((m == nullptr) != (c == nullptr)) {
      throw FieldError{"payment_decision.currency", "amount_minor and currency go together"};
    }
    decision = action;
  }
  o.done();
  p.summary = fmt::format("intent={} confidence={}", intent, fmt_num(confidence));
  if (decision) p.summary += " payment_decision=" + *decision;
  p.commit = [intent, confidence, decision, last4](CaseState& s) {
    s.intent = intent;
    s.confidence = confidence;
    if (decision) s.payment_decision = decision;
    // Only ever used to refuse a reply, so the classifier's word is enough.
    if (last4 && std::find(s.card_last4s.begin(), s.card_last4s.end(), *last4) == s.card_last4s.end()) s.card_last4s.push_back(*last4);
  };
  return p;
}

Parsed check_fraud_reviewer(const json& r, const RiskLevels& thresholds) {
  Obj o(r, "");
  const double score = number_at(o.need("risk_score"), "risk_score", 0, 1);
  const std::string declared = one_of(o.need("risk_level"), "risk_level", kLevels);
  // The level the broker acts on is never below what the score says under the policy's own
  // thresholds: a reviewer cannot answer "low" with a score of 0.97.
  const std::string derived = score >= thresholds.high ? "high" : score >= thresholds.medium ? "medium" : "low";
  auto rank = [](const std::string& l) { return l == "high" ? 2 : l == "medium" ? 1 : 0; };
  const std::string level = rank(derived) > rank(declared) ? derived : declared;
  const auto& reasons = arr(o.need("reasons"), "reasons", 50);
  std::string rules;
  for (std::size_t i = 0; i < reasons.size(); ++i) {
    const std::string f = fmt::format("reasons[{}]", i);
    Obj x(reasons[i], f);
    const std::string rule = ident(x.need("rule"), x.field("rule"));
    number_at(x.need("contribution"), x.field("contribution"), -1, 1);
    string_at(x.need("detail"), x.field("detail"), 300, true);
    x.done();
    rules += (rules.empty() ? "" : ",") + rule;
  }
  Parsed p;
  const auto& actions = arr(o.need("actions"), "actions", 10);
  for (std::size_t i = 0; i < actions.size(); ++i) p.proposed.push_back(action_of(actions[i], fmt::format("actions[{}]", i), "fraud_reviewer"));
  string_at(o.need("model"), "model", 100);
  o.done();
  p.summary = fmt::format("risk={} score={}", level, fmt_num(score));
  if (level != declared) p.summary += " declared=" + declared;
  if (!rules.empty()) p.summary += " rules=" + rules;
  p.commit = [score, level](CaseState& s) {
    s.risk_score = score;
    s.risk_level = level;
  };
  return p;
}

}  // namespace

bool knows_kind(std::string_view kind) noexcept {
  return kind == "classifier" || kind == "fraud_reviewer" || kind == "response_drafter" || kind == "escalation";
}

Config default_config() {
  Config c;
  for (const char* a : {"temporary_card_freeze", "monitor", "identity_verification"}) c.actions[a] = {false, true};
  for (const char* a : {"card_replacement", "account_unlock"}) c.actions[a] = {false, false};
  for (const char* a : {"refund", "reversal", "transfer", "limit_increase", "payment_authorize", "payment_retry"}) {
    c.actions[a] = {true, false};
  }
  c.allowed_actions = {
      {"fraud", {"temporary_card_freeze", "monitor", "card_replacement", "identity_verification", "reversal"}},
      {"card_dispute", {"temporary_card_freeze", "monitor", "refund", "reversal"}},
      {"payments", {"monitor", "temporary_card_freeze", "refund", "reversal", "payment_authorize", "payment_retry", "transfer"}},
      {"account_access", {"identity_verification", "account_unlock", "monitor"}},
      {"card_services", {"card_replacement", "temporary_card_freeze", "identity_verification"}},
      {"balance_and_fees", {"refund", "monitor"}},
      {"loan_question", {}},
      {"general_support", {"monitor"}},
  };
  c.forbidden_reply_phrases = {"will refund",  "will be refunded", "refund you",     "has been refunded", "have refunded",
                               "guarantee",    "will be reversed", "will reverse",   "you will get your money",
                               "you will receive your money",      "we promise",     "will be credited", "approved your",
                               "will be reimbursed", "will reimburse", "has been reversed", "will be approved",
                               "'ll refund", "'ll be refunded", "'ll reimburse", "'ll be credited", "'ll reverse"};
  c.fallback_reply =
      "Thank you for contacting us. Your request has been passed to a specialist, who will review it and contact you "
      "with the next steps. Please never share full card numbers, passwords or one-time codes in your messages.";
  return c;
}

void from_json(const json& j, Config& c) {
  if (!j.is_object()) throw std::invalid_argument("policy must be an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    if (k == "actions") {
      if (!v.is_object()) throw std::invalid_argument("policy.actions must be an object");
      c.actions.clear();
      for (auto a = v.begin(); a != v.end(); ++a) {
        if (!a->is_object()) throw std::invalid_argument("policy.actions." + a.key() + " must be an object");
        ActionRule rule;
        for (auto f = a->begin(); f != a->end(); ++f) {
          if (!f->is_boolean()) throw std::invalid_argument("policy.actions." + a.key() + "." + f.key() + " must be true or false");
          if (f.key() == "money_moving") {
            rule.money_moving = f->get<bool>();
          } else if (f.key() == "auto_approve") {
            rule.auto_approve = f->get<bool>();
          } else {
            throw std::invalid_argument("policy.actions." + a.key() + "." + f.key() + ": unknown key");
          }
        }
        if (rule.money_moving && rule.auto_approve) {
          throw std::invalid_argument("policy.actions." + a.key() +
                                      ": a money-moving action cannot be auto_approve; use policy.auto_approve_limits");
        }
        c.actions[a.key()] = rule;
      }
    } else if (k == "allowed_actions") {
      if (!v.is_object()) throw std::invalid_argument("policy.allowed_actions must be an object");
      c.allowed_actions.clear();
      for (auto a = v.begin(); a != v.end(); ++a) {
        if (!is_intent(a.key())) throw std::invalid_argument("policy.allowed_actions." + a.key() + ": unknown intent");
        if (!a->is_array()) throw std::invalid_argument("policy.allowed_actions." + a.key() + " must be an array");
        auto& list = c.allowed_actions[a.key()];
        for (const auto& t : *a) {
          if (!t.is_string()) throw std::invalid_argument("policy.allowed_actions." + a.key() + " must hold strings");
          list.push_back(t.get<std::string>());
        }
      }
    } else if (k == "auto_approve_limits") {
      if (!v.is_object()) throw std::invalid_argument("policy.auto_approve_limits must be an object");
      c.auto_approve_limits.clear();
      for (auto a = v.begin(); a != v.end(); ++a) {
        if (!money::is_currency(a.key())) throw std::invalid_argument("policy.auto_approve_limits." + a.key() + ": not an ISO 4217 code");
        if (!a->is_number_integer() || a->get<std::int64_t>() < 0 || a->get<std::int64_t>() > money::kMaxMinor) {
          throw std::invalid_argument("policy.auto_approve_limits." + a.key() + " must be a non-negative integer (minor units)");
        }
        c.auto_approve_limits[a.key()] = a->get<std::int64_t>();
      }
    } else if (k == "forbidden_reply_phrases") {
      if (!v.is_array()) throw std::invalid_argument("policy.forbidden_reply_phrases must be an array");
      c.forbidden_reply_phrases.clear();
      for (const auto& p : v) {
        if (!p.is_string() || p.get_ref<const std::string&>().empty()) {
          throw std::invalid_argument("policy.forbidden_reply_phrases must hold non-empty strings");
        }
        c.forbidden_reply_phrases.push_back(lower(p.get<std::string>()));
      }
    } else if (k == "max_reply_bytes") {
      if (!v.is_number_integer() || v.get<std::int64_t>() < 100 || v.get<std::int64_t>() > 100000) {
        throw std::invalid_argument("policy.max_reply_bytes must be an integer from 100 to 100000");
      }
      c.max_reply_bytes = v.get<std::size_t>();
    } else if (k == "risk_levels") {
      if (!v.is_object()) throw std::invalid_argument("policy.risk_levels must be an object");
      for (auto it2 = v.begin(); it2 != v.end(); ++it2) {
        if (!it2->is_number() || it2->get<double>() <= 0 || it2->get<double>() > 1) {
          throw std::invalid_argument("policy.risk_levels." + it2.key() + " must be a number above 0 and at most 1");
        }
        if (it2.key() == "medium") {
          c.risk_levels.medium = it2->get<double>();
        } else if (it2.key() == "high") {
          c.risk_levels.high = it2->get<double>();
        } else {
          throw std::invalid_argument("policy.risk_levels." + it2.key() + ": unknown key (medium, high)");
        }
      }
      if (c.risk_levels.medium > c.risk_levels.high) throw std::invalid_argument("policy.risk_levels: medium must not be above high");
    } else if (k == "fallback_reply") {
      if (!v.is_string() || v.get_ref<const std::string&>().empty()) throw std::invalid_argument("policy.fallback_reply must be a non-empty string");
      c.fallback_reply = v.get<std::string>();
    } else {
      throw std::invalid_argument("policy." + k + ": unknown key");
    }
  }
  for (const auto& [intent, list] : c.allowed_actions) {
    for (const auto& t : list) {
      if (!c.actions.count(t)) throw std::invalid_argument("policy.allowed_actions." + intent + ": unknown action type " + t);
    }
  }
  // The fallback reply must itself pass the reply rules.
  const Policy check(c);
  cases::Payload none;
  if (auto problems = check.reply_problems(c.fallback_reply, none); !problems.empty()) {
    throw std::invalid_argument("policy.fallback_reply: " + problems.front());
  }
}

json to_json(const Config& c) {
  json actions = json::object();
  for (const auto& [k, r] : c.actions) actions[k] = {{"money_moving", r.money_moving}, {"auto_approve", r.auto_approve}};
  json allowed = json::object();
  for (const auto& [k, v] : c.allowed_actions) allowed[k] = v;
  json limits = json::object();
  for (const auto& [k, v] : c.auto_approve_limits) limits[k] = v;
  return json{{"actions", actions},           {"allowed_actions", allowed},     {"auto_approve_limits", limits},
              {"forbidden_reply_phrases", c.forbidden_reply_phrases}, {"max_reply_bytes", c.max_reply_bytes},
              {"risk_levels", {{"medium", c.risk_levels.medium}, {"high", c.risk_levels.high}}},
              {"fallback_reply", c.fallback_reply}};
}

json to_json(const Action& a) {
  json j{{"type", a.type}};
  if (a.amount) {
    j["amount_minor"] = a.amount->minor;
    j["currency"] = a.amount->currency;
  }
  j["reason"] = a.reason;
  j["proposed_by"] = a.proposed_by;
  return j;
}

json to_json(const Violation& v) {
  return json{{"agent", v.agent}, {"code", v.code}, {"field", v.field}, {"message", v.message}};
}

namespace {

template <class T>
json optional_json(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

template <class T>
void optional_from(const json& j, const char* key, std::optional<T>& out) {
  const auto& v = j.at(key);
  if (v.is_null()) {
    out.reset();
  } else {
    out = v.get<T>();
  }
}

Action action_from_json(const json& j) {
  Action a;
  a.type = j.at("type").get<std::string>();
  if (j.contains("amount_minor")) a.amount = money::Money{j.at("amount_minor").get<std::int64_t>(), j.at("currency").get<std::string>()};
  a.reason = j.at("reason").get<std::string>();
  a.proposed_by = j.at("proposed_by").get<std::string>();
  return a;
}

}  // namespace

json state_to_json(const CaseState& s) {
  json ap = json::array(), pe = json::array(), vi = json::array();
  for (const auto& a : s.approved) ap.push_back(to_json(a));
  for (const auto& a : s.pending) pe.push_back(to_json(a));
  for (const auto& v : s.violations) vi.push_back(to_json(v));
  return json{{"intent", optional_json(s.intent)},
              {"confidence", optional_json(s.confidence)},
              {"risk_level", optional_json(s.risk_level)},
              {"risk_score", optional_json(s.risk_score)},
              {"payment_decision", optional_json(s.payment_decision)},
              {"approved", std::move(ap)},
              {"pending", std::move(pe)},
              {"violations", std::move(vi)},
              {"reply", optional_json(s.reply)},
              {"review", s.review},
              {"card_last4s", s.card_last4s}};
}

CaseState state_from_json(const json& j) {
  CaseState s;
  optional_from(j, "intent", s.intent);
  optional_from(j, "confidence", s.confidence);
  optional_from(j, "risk_level", s.risk_level);
  optional_from(j, "risk_score", s.risk_score);
  optional_from(j, "payment_decision", s.payment_decision);
  for (const auto& a : j.at("approved")) s.approved.push_back(action_from_json(a));
  for (const auto& a : j.at("pending")) s.pending.push_back(action_from_json(a));
  for (const auto& v : j.at("violations")) {
    s.violations.push_back(Violation{v.at("agent").get<std::string>(), v.at("code").get<std::string>(),
                                     v.at("field").get<std::string>(), v.at("message").get<std::string>()});
  }
  optional_from(j, "reply", s.reply);
  s.review = j.at("review");
  s.card_last4s = j.at("card_last4s").get<std::vector<std::string>>();
  return s;
}

CaseState initial_state(const cases::Payload& payload) {
  CaseState s;
  if (payload.transaction && payload.transaction->card_last4) s.card_last4s.push_back(*payload.transaction->card_last4);
  return s;
}

void CaseState::withhold_approvals() {
  for (auto& a : approved) pending.push_back(std::move(a));
  approved.clear();
}

json CaseState::view() const {
  json j = json::object();
  if (intent) j["intent"] = *intent;
  if (confidence) j["confidence"] = *confidence;
  if (risk_level) j["risk_level"] = *risk_level;
  if (risk_score) j["risk_score"] = *risk_score;
  if (payment_decision) j["payment_decision"] = *payment_decision;
  j["pending_actions"] = pending.size();
  j["approved_actions"] = approved.size();
  j["violations"] = violations.size();
  return j;
}

json CaseState::context() const {
  json ap = json::array(), pe = json::array(), vi = json::array();
  for (const auto& a : approved) ap.push_back(to_json(a));
  for (const auto& a : pending) pe.push_back(to_json(a));
  for (const auto& v : violations) vi.push_back(to_json(v));
  return json{{"intent", intent ? json(*intent) : json(nullptr)},
              {"risk_level", risk_level ? json(*risk_level) : json(nullptr)},
              {"approved_actions", ap},
              {"pending_actions", pe},
              {"violations", vi}};
}

namespace {

// Length of a Unicode space, dash or invisible hyphen at s[i] (UTF-8), 0 if none: they join digits
// as ASCII spaces and dashes do, so "4111\u00A01111" is one run.
std::size_t unicode_separator(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0; };
  if (b(0) == 0xC2 && (b(1) == 0xA0 || b(1) == 0xAD)) return 2;  // no-break space, soft hyphen
  if (b(0) == 0xE2 && b(1) == 0x80 && ((b(2) >= 0x80 && b(2) <= 0x95) || b(2) == 0xA8 || b(2) == 0xA9 || b(2) == 0xAF)) {
    return 3;  // spaces, hyphens and dashes, line and paragraph separators, narrow no-break space
  }
  if (b(0) == 0xE2 && b(1) == 0x88 && b(2) == 0x92) return 3;  // minus sign
  if (b(0) == 0xE3 && b(1) == 0x80 && b(2) == 0x80) return 3;  // ideographic space
  if (b(0) == 0xEF && b(1) == 0xBC && b(2) == 0x8D) return 3;  // fullwidth hyphen-minus
  return 0;
}

// A fullwidth digit (U+FF10..U+FF19) at s[i]: its value, or -1.
int fullwidth_digit(std::string_view s, std::size_t i) {
  if (i + 2 < s.size() && static_cast<unsigned char>(s[i]) == 0xEF && static_cast<unsigned char>(s[i + 1]) == 0xBC) {
    const auto c = static_cast<unsigned char>(s[i + 2]);
    if (c >= 0x90 && c <= 0x99) return c - 0x90;
  }
  return -1;
}

// Characters that would let a reply hide or reorder text: C0 and C1 controls (a newline is
// fine), DEL, and the bidirectional overrides and isolates.
bool hidden_control(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0; };
  if ((b(0) < 0x20 && s[i] != '\n') || b(0) == 0x7F) return true;
  if (b(0) == 0xC2 && b(1) >= 0x80 && b(1) <= 0x9F) return true;
  if (b(0) == 0xE2 && b(1) == 0x80 && b(2) >= 0xAA && b(2) <= 0xAE) return true;
  if (b(0) == 0xE2 && b(1) == 0x81 && b(2) >= 0xA6 && b(2) <= 0xA9) return true;
  return false;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_joiner(char c) {
  return is_space(c) || c == '-' || c == '.';
}

// A real ISO date (2026-11-20: month 01-12, day 01-31) at s[i] that stands alone: no digits
// joined to it on either side. A date is not an account number; "4539-14-88-0343" is.
bool iso_date_at(std::string_view s, std::size_t i) {
  auto d = [&](std::size_t k) { return i + k < s.size() && is_digit(s[i + k]); };
  if (!(d(0) && d(1) && d(2) && d(3) && i + 4 < s.size() && s[i + 4] == '-' && d(5) && d(6) && i + 7 < s.size() &&
        s[i + 7] == '-' && d(8) && d(9) && !d(10))) {
    return false;
  }
  const int month = (s[i + 5] - '0') * 10 + (s[i + 6] - '0');
  const int day = (s[i + 8] - '0') * 10 + (s[i + 9] - '0');
  if (month < 1 || month > 12 || day < 1 || day > 31) return false;
  if (i > 0 && (is_digit(s[i - 1]) || (is_joiner(s[i - 1]) && i > 1 && is_digit(s[i - 2])))) return false;
  if (i + 10 < s.size() && is_joiner(s[i + 10]) && d(11)) return false;
  return true;
}

}  // namespace

std::vector<std::string> Policy::reply_problems(std::string_view reply, std::span<const std::string> card_last4s) const {
  std::vector<std::string> out;
  if (reply.empty()) out.emplace_back("the reply is empty");
  if (reply.size() > config_.max_reply_bytes) out.push_back(fmt::format("the reply is over {} bytes", config_.max_reply_bytes));
  // One pass: the text folded for phrase matching (lower case, whitespace runs as one space,
  // U+2019 as an apostrophe, invisible hyphens dropped), and the runs of digits with their joiners
  // dropped: spaces, dashes, and a dot followed by three or more digits ("4111.1111"; not the
  // decimals of "42.50").
  std::string folded;
  folded.reserve(reply.size());
  std::string run;
  std::size_t longest = 0;
  bool last4 = false, control = false;
  const auto end_run = [&] {
    longest = std::max(longest, run.size());
    for (const auto& l4 : card_last4s) {
      if (!l4.empty() && run.find(l4) != std::string::npos) last4 = true;
    }
    run.clear();
  };
  for (std::size_t i = 0; i < reply.size(); ++i) {
    const char c = reply[i];
    const auto u = static_cast<unsigned char>(c);
    if (hidden_control(reply, i)) control = true;
    if (run.empty() && iso_date_at(reply, i)) {
      folded.append(reply.substr(i, 10));
      i += 9;
      continue;
    }
    if (const int f = fullwidth_digit(reply, i); f >= 0) {
      run.push_back(static_cast<char>('0' + f));
      folded.push_back(static_cast<char>('0' + f));
      i += 2;
      continue;
    }
    if (is_digit(c)) {
      run.push_back(c);
    } else if (const std::size_t n = unicode_separator(reply, i); n > 0) {
      const bool soft_hyphen = n == 2 && static_cast<unsigned char>(reply[i + 1]) == 0xAD;
      if (!soft_hyphen && !folded.empty() && folded.back() != ' ') folded.push_back(' ');
      i += n - 1;
      continue;
    } else if (c == '.' && !run.empty() && i + 3 < reply.size() && is_digit(reply[i + 1]) && is_digit(reply[i + 2]) &&
               is_digit(reply[i + 3])) {
      // joins: a dotted card or account number
    } else if (!is_space(c) && c != '-') {
      end_run();
    }
    if (is_space(c)) {
      if (!folded.empty() && folded.back() != ' ') folded.push_back(' ');
    } else if (u == 0xE2 && i + 2 < reply.size() && static_cast<unsigned char>(reply[i + 1]) == 0x80 &&
               static_cast<unsigned char>(reply[i + 2]) == 0x99) {
      folded.push_back('\'');
      i += 2;
    } else {
      folded.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
  }
  end_run();
  for (const auto& phrase : config_.forbidden_reply_phrases) {
    if (folded.find(lower(phrase)) != std::string::npos) out.push_back("the reply promises an outcome (\"" + phrase + "\")");
  }
  // Card and account numbers: six or more digits in a row, joiners counted as part of the run.
  if (longest >= 6) out.push_back(fmt::format("the reply contains a run of {} digits (a card or account number?)", longest));
  if (last4) out.emplace_back("the reply contains the card's last four digits");
  if (control) out.emplace_back("the reply contains a control character or a bidirectional override");
  return out;
}

std::vector<std::string> Policy::reply_problems(std::string_view reply, const cases::Payload& payload) const {
  std::vector<std::string> last4s;
  if (payload.transaction && payload.transaction->card_last4) last4s.push_back(*payload.transaction->card_last4);
  return reply_problems(reply, last4s);
}

Verdict Policy::apply(std::string_view kind, const json& result, const cases::Payload& payload, CaseState& state) const {
  Verdict v;
  const std::string agent(kind);
  auto violation = [&](std::string code, std::string field, std::string message) {
    v.violations.push_back(Violation{agent, std::move(code), std::move(field), std::move(message)});
  };
  Parsed p;
  try {
    if (kind == "classifier") {
      p = check_classifier(result);
    } else if (kind == "fraud_reviewer") {
      p = check_fraud_reviewer(result, config_.risk_levels);
    } else if (kind == "response_drafter") {
      Obj o(result, "");
      std::string reply = string_at(o.need("reply"), "reply", config_.max_reply_bytes);
      const std::string tmpl = ident(o.need("template"), "template");
      string_at(o.need("next_step"), "next_step", 300);
      string_at(o.need("model"), "model", 100);
      o.done();
      for (auto& problem : reply_problems(reply, state.card_last4s)) violation("unsafe_reply", "reply", std::move(problem));
      p.summary = "reply template=" + tmpl;
      p.commit = [reply = std::move(reply)](CaseState& s) { s.reply = reply; };
    } else if (kind == "escalation") {
      Obj o(result, "");
      Obj r(o.need("review"), "review");
      const std::string queue = ident(r.need("queue"), "review.queue");
      const std::string priority = one_of(r.need("priority"), "review.priority", kPriorities);
      std::string summary = string_at(r.need("summary"), "review.summary", 1000);
      const auto& evidence = arr(r.need("evidence"), "review.evidence", 20);
      json evidence_copy = json::array();
      for (std::size_t i = 0; i < evidence.size(); ++i) evidence_copy.push_back(string_at(evidence[i], fmt::format("review.evidence[{}]", i), 300));
      const auto& awaiting = arr(r.need("actions_awaiting_approval"), "review.actions_awaiting_approval", 20);
      std::vector<Action> listed;
      for (std::size_t i = 0; i < awaiting.size(); ++i) {
        const std::string f = fmt::format("review.actions_awaiting_approval[{}]", i);
        // The broker's own copy carries proposed_by; accept it here.
        json copy = awaiting[i];
        if (copy.is_object()) copy.erase("proposed_by");
        auto a = action_of(copy, f, "");
        listed.push_back(std::move(a));
      }
      const std::string sla = string_at(r.need("sla_deadline"), "review.sla_deadline", 40);
      if (!parse_rfc3339(sla)) throw FieldError{"review.sla_deadline", "must be an RFC 3339 timestamp"};
      const json* underwriting = r.opt("underwriting");
      if (underwriting && !underwriting->is_object()) throw FieldError{"review.underwriting", "must be an object"};
      if (underwriting && underwriting->dump().size() > kMaxUnderwritingBytes) {
        throw FieldError{"review.underwriting", fmt::format("must be at most {} bytes of JSON", kMaxUnderwritingBytes)};
      }
      r.done();
      std::string reply = string_at(o.need("reply"), "reply", config_.max_reply_bytes);
      string_at(o.need("model"), "model", 100);
      o.done();
      // The review must list exactly the actions the policy left pending: a person approves
      // what the policy held back, nothing more and nothing less.
      auto same = [](const Action& a, const Action& b) { return a.type == b.type && a.amount == b.amount; };
      bool match = listed.size() == state.pending.size();
      for (std::size_t i = 0; match && i < listed.size(); ++i) match = same(listed[i], state.pending[i]);
      if (!match) {
        violation("review_mismatch", "review.actions_awaiting_approval",
                  fmt::format("lists {} action(s); the policy holds {} pending", listed.size(), state.pending.size()));
      }
      for (auto& problem : reply_problems(reply, state.card_last4s)) violation("unsafe_reply", "reply", std::move(problem));
      p.summary = fmt::format("review queue={} priority={} sla_deadline={}", queue, priority, sla);
      // Keep the checked values, not the agent's document: nothing unchecked reaches the case.
      json review{{"queue", queue},
                  {"priority", priority},
                  {"summary", std::move(summary)},
                  {"evidence", std::move(evidence_copy)},
                  {"actions_awaiting_approval", json::array()},
                  {"sla_deadline", sla}};
      for (const auto& a : state.pending) review["actions_awaiting_approval"].push_back(to_json(a));
      if (underwriting) review["underwriting"] = *underwriting;
      p.commit = [reply = std::move(reply), review = std::move(review)](CaseState& s) mutable {
        s.reply = std::move(reply);
        s.review = std::move(review);
      };
    } else {
      violation("unknown_agent", "", "no output schema for agent kind " + agent);
      return v;
    }
  } catch (const FieldError& b) {
    violation("schema", b.field.empty() ? "result" : b.field, b.message);
    return v;
  }

  // The actions: each one known, allowed for the intent, and money only as the case states it.
  const std::string intent = p.intent ? *p.intent : state.intent.value_or(std::string(to_string(cases::intent_of_kind(payload.kind))));
  struct Decided {
    Action action;
    bool approve;
  };
  std::vector<Decided> decided;
  const auto stated = payload.stated_amounts();
  const auto structured = payload.structured_amounts();
  for (std::size_t i = 0; i < p.proposed.size(); ++i) {
    const Action& a = p.proposed[i];
    const std::string field = kind == "classifier" ? "payment_decision" : fmt::format("actions[{}]", i);
    auto rule = config_.actions.find(a.type);
    if (rule == config_.actions.end()) {
      violation("unknown_action", field + ".type", "no such action type: " + a.type);
      continue;
    }
    const auto allowed = config_.allowed_actions.find(intent);
    if (allowed == config_.allowed_actions.end() ||
        std::find(allowed->second.begin(), allowed->second.end(), a.type) == allowed->second.end()) {
      violation("action_not_allowed", field + ".type", a.type + " is not allowed for intent " + intent);
      continue;
    }
    if (!rule->second.money_moving) {
      if (a.amount) violation("unexpected_amount", field + ".amount_minor", a.type + " moves no money and takes no amount");
      decided.push_back({a, rule->second.auto_approve});
      continue;
    }
    if (!a.amount) {
      violation("missing_amount", field + ".amount_minor", a.type + " moves money and needs amount_minor and currency");
      continue;
    }
    if (std::find(stated.begin(), stated.end(), *a.amount) == stated.end()) {
      const bool currency_seen = std::any_of(stated.begin(), stated.end(), [&](const auto& m) { return m.currency == a.amount->currency; });
      if (currency_seen) {
        violation("amount_mismatch", field + ".amount_minor", money::format(*a.amount) + " is not an amount the case states");
      } else {
        violation("currency_mismatch", field + ".currency", a.amount->currency + " is not a currency the case states");
      }
      continue;
    }
    // Automatic approval needs an amount the bank's own systems sent (a transaction, a payment):
    // an amount that only the customer's message states always goes to a person.
    const auto limit = config_.auto_approve_limits.find(a.amount->currency);
    const bool backed = std::find(structured.begin(), structured.end(), *a.amount) != structured.end();
    decided.push_back({a, backed && limit != config_.auto_approve_limits.end() && a.amount->minor <= limit->second});
  }
  if (!v.ok()) return v;
  p.commit(state);
  auto known = [&](const Action& a) {
    auto same = [&](const Action& b) { return a.type == b.type && a.amount == b.amount; };
    return std::any_of(state.approved.begin(), state.approved.end(), same) ||
           std::any_of(state.pending.begin(), state.pending.end(), same);
  };
  v.summary = std::move(p.summary);
  if (!decided.empty()) {
    v.summary += " actions=";
    for (std::size_t i = 0; i < decided.size(); ++i) v.summary += (i ? "," : "") + decided[i].action.type;
  }
  for (auto& d : decided) {
    if (known(d.action)) continue;  // proposed twice (classifier and reviewer): decided once
    (d.approve ? state.approved : state.pending).push_back(std::move(d.action));
  }
  return v;
}

}  // namespace common::policy
