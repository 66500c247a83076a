#include "drafter.hpp"

#include "common/policy/policy.hpp"

#include "common/cases/money.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <span>
#include <stdexcept>
#include <utility>

namespace agents::response_drafter {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::string_view kModel = "embedded-templates-v1";

using common::cases::kIntentNames;
constexpr std::string_view kRiskNames[] = {"low", "medium", "high"};
constexpr std::string_view kActionNames[] = {"temporary_card_freeze", "monitor",     "card_replacement", "account_unlock",
                                             "identity_verification", "refund",      "reversal",         "transfer",
                                             "limit_increase",        "payment_authorize", "payment_retry"};

// ---------------------------------------------------------------------------------------------
// Placeholders. The template syntax is only {{name}} with a fixed allowlist of names, each computed
// by the drafter from validated data (never from the customer's free text). It is written by hand:
// no Debian package offers a C++ mustache engine, and sections, partials or escaping would only
// widen what a template can do.

enum class Var { kNextStep, kFreezeAdvice, kActionStatus, kCharge, kPayment, kMerchant, kAmount, kPaymentType, kProduct };
constexpr int kVarCount = 9;
constexpr std::string_view kVarNames[] = {"next_step", "freeze_advice", "action_status", "charge",  "payment",
                                          "merchant",  "amount",        "payment_type",  "product"};
constexpr Var kIntentVars[] = {Var::kNextStep, Var::kFreezeAdvice, Var::kActionStatus, Var::kCharge,  Var::kPayment,
                               Var::kMerchant, Var::kAmount,       Var::kPaymentType,  Var::kProduct};
// Phrase templates in policy.json (charge, payment) use case data only, so nothing recurses.
constexpr Var kPhraseVars[] = {Var::kMerchant, Var::kAmount, Var::kPaymentType, Var::kProduct};
// Every reply template states these, so a customer always learns the next step and what was done
// to their card or account.
constexpr Var kRequiredVars[] = {Var::kNextStep, Var::kFreezeAdvice, Var::kActionStatus};

using Vars = std::array<std::string, kVarCount>;
using VarBounds = std::array<std::size_t, kVarCount>;

constexpr std::string_view kPaymentTypeWords[] = {"refund request", "reversal request", "transfer", "card payment",
                                                  "bill payment"};
constexpr std::string_view kProductWords[] = {"personal loan", "mortgage", "auto loan", "credit card", "credit line"};
constexpr std::string_view kPaymentTypeFallback = "payment";

// A merchant name longer than this is not repeated to the customer (payload.transaction.merchant
// allows 200 bytes: card networks pad and concatenate descriptors).
constexpr std::size_t kMaxMerchantBytes = 60;
constexpr std::size_t kMaxTemplateFileBytes = 16 * 1024;
constexpr std::size_t kMaxPolicyFileBytes = 64 * 1024;

std::string var_list(std::span<const Var> vars) {
  std::string s;
  for (const Var v : vars) s += (s.empty() ? "" : ", ") + std::string(kVarNames[static_cast<int>(v)]);
  return s;
}

struct Segment {
  std::string literal;
  int var = -1;  // >= 0: a placeholder, literal unused
};

class Template final {
 public:
  // Throws std::invalid_argument("<where>: ...") on an unknown or misplaced placeholder.
  static Template parse(std::string_view text, std::span<const Var> allowed, const std::string& where) {
    Template t;
    std::size_t pos = 0;
    while (pos < text.size()) {
      const std::size_t open = text.find("{{", pos);
      const std::string_view literal = text.substr(pos, open == std::string_view::npos ? text.npos : open - pos);
      if (literal.find("}}") != std::string_view::npos) throw std::invalid_argument(where + ": stray }} without {{");
      if (!literal.empty()) t.segments_.push_back({std::string(literal), -1});
      if (open == std::string_view::npos) break;
      const std::size_t close = text.find("}}", open + 2);
      if (close == std::string_view::npos) throw std::invalid_argument(where + ": unterminated {{");
      const std::string_view name = text.substr(open + 2, close - open - 2);
      const auto known = std::find(std::begin(kVarNames), std::end(kVarNames), name);
      if (known == std::end(kVarNames)) {
        throw std::invalid_argument(fmt::format("{}: unknown placeholder {{{{{}}}}} (allowed: {})", where, name, var_list(allowed)));
      }
      const Var var = static_cast<Var>(known - std::begin(kVarNames));
      if (std::find(allowed.begin(), allowed.end(), var) == allowed.end()) {
        throw std::invalid_argument(
            fmt::format("{}: placeholder {{{{{}}}}} is not allowed here (allowed: {})", where, name, var_list(allowed)));
      }
      t.segments_.push_back({{}, static_cast<int>(var)});
      pos = close + 2;
    }
    return t;
  }

  bool uses(Var v) const {
    return std::any_of(segments_.begin(), segments_.end(), [v](const Segment& s) { return s.var == static_cast<int>(v); });
  }

  void render_to(std::string& out, const Vars& vars) const {
    for (const auto& s : segments_) out += s.var < 0 ? s.literal : vars[s.var];
  }
  std::string render(const Vars& vars) const {
    std::string out;
    render_to(out, vars);
    return out;
  }

  std::size_t max_bytes(const VarBounds& bounds) const {
    std::size_t n = 0;
    for (const auto& s : segments_) n += s.var < 0 ? s.literal.size() : bounds[s.var];
    return n;
  }

 private:
  std::vector<Segment> segments_;
};

// ---------------------------------------------------------------------------------------------
// Text helpers.

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
// Whitespace runs as one space, trimmed: for phrases and merchant names, which sit inside a line.
std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    if (is_space(c)) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// A rendered reply tidied: spaces collapsed and trimmed per line, at most one blank line between
// paragraphs, none at either end. An empty placeholder then leaves no gap.
std::string tidy(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool blank = false;
  std::string line;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    std::size_t nl = s.find('\n', pos);
    if (nl == std::string_view::npos) nl = s.size();
    line.clear();
    for (std::size_t i = pos; i < nl; ++i) {
      const char c = s[i] == '\t' || s[i] == '\r' ? ' ' : s[i];
      if (c == ' ' && (line.empty() || line.back() == ' ')) continue;
      line.push_back(c);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    if (line.empty()) {
      blank = !out.empty();
    } else {
      if (!out.empty()) out += blank ? "\n\n" : "\n";
      out += line;
      blank = false;
    }
    pos = nl + 1;
  }
  return out;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// "1,234,567.89 USD": money::format grouped by thousands, so that a large amount never reads as a
// long digit run (a card or account number to reply_violations and to the broker).
std::string display_amount(const common::money::Money& m) {
  std::string s = common::money::format(m);
  const std::size_t begin = !s.empty() && s[0] == '-' ? 1 : 0;
  const std::size_t end = s.find_first_of(". ", begin);
  for (std::size_t pos = (end == std::string::npos ? s.size() : end); pos > begin + 3; pos -= 3) s.insert(pos - 3, 1, ',');
  return s;
}

// The reply rules are the broker's own (common::policy, with its default phrase list), so that
// the drafter never sends what the broker would refuse; an unrendered placeholder is the drafter's
// own addition. Messages drop the policy's "the reply " prefix: callers add their own subject.
std::vector<std::string> violations(std::string_view reply, std::span<const std::string> card_last4s) {
  static const common::policy::Policy policy(common::policy::default_config());
  std::vector<std::string> out;
  for (auto& problem : policy.reply_problems(reply, card_last4s)) {
    out.push_back(problem.starts_with("the reply ") ? problem.substr(10) : std::move(problem));
  }
  if (reply.find("{{") != std::string_view::npos || reply.find("}}") != std::string_view::npos) {
    out.emplace_back("contains an unrendered placeholder");
  }
  return out;
}

std::vector<std::string> card_last4s(const DraftInput& in) {
  std::vector<std::string> out;
  if (in.payload.transaction && in.payload.transaction->card_last4) out.push_back(*in.payload.transaction->card_last4);
  if (in.mentioned_card_last4) out.push_back(*in.mentioned_card_last4);
  return out;
}

bool has(const std::vector<ActionType>& list, ActionType a) {
  return std::find(list.begin(), list.end(), a) != list.end();
}

// ---------------------------------------------------------------------------------------------
// policy.json: per-intent policy notes and the phrases the placeholders are made of.

struct IntentPolicy {
  std::string note;  // the human policy; documentation, never rendered
  bool advise_freeze = false;
  std::string next_step;
};

// Non-money-moving action types an approved phrase reports, in the order they are reported.
constexpr ActionType kReportedActions[] = {ActionType::kTemporaryCardFreeze, ActionType::kMonitor,
                                           ActionType::kCardReplacement, ActionType::kAccountUnlock,
                                           ActionType::kIdentityVerification};
constexpr int kReportedCount = 5;

struct Policy {
  std::array<IntentPolicy, kIntentCount> intents;
  std::string freeze_advice, freeze_advice_urgent, pending_next_step;
  std::string charge_unknown, payment_unknown, merchant_unknown, amount_unknown, product_unknown;
  Template charge, charge_without_merchant, payment;
  std::array<std::string, kReportedCount> approved;  // by kReportedActions index
};

// Strict reading of policy.json: errors name the file and the JSON path.
class PolicyReader final {
 public:
  explicit PolicyReader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& path, const std::string& message) const {
    throw std::invalid_argument(file_ + ": " + path + ": " + message);
  }
  const json& object(const json& j, const std::string& path, std::initializer_list<std::string_view> keys) const {
    return object(j, path, std::span(keys.begin(), keys.size()));
  }
  const json& object(const json& j, const std::string& path, std::span<const std::string_view> keys) const {
    if (!j.is_object()) fail(path, "must be a JSON object");
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (std::find(keys.begin(), keys.end(), it.key()) == keys.end()) fail(path + "." + it.key(), "unknown key");
    }
    for (const auto key : keys) {
      if (!j.contains(key)) fail(path + "." + std::string(key), "missing");
    }
    return j;
  }
  std::string text(const json& obj, std::string_view key, const std::string& path, std::size_t max) const {
    const std::string p = path + "." + std::string(key);
    const json& v = obj.at(key);
    if (!v.is_string()) fail(p, "must be a string");
    std::string s = one_line(v.get_ref<const std::string&>());
    if (s.empty() || s.size() > max) fail(p, fmt::format("must be 1..{} bytes", max));
    if (!valid_utf8(s)) fail(p, "is not valid UTF-8");
    return s;
  }
  // A sentence or noun phrase that lands in replies verbatim.
  std::string phrase(const json& obj, std::string_view key, const std::string& path) const {
    std::string s = text(obj, key, path, kMaxNextStepBytes);
    if (const auto v = violations(s, {}); !v.empty()) fail(path + "." + std::string(key), v.front());
    return s;
  }
  Template phrase_template(const json& obj, std::string_view key, const std::string& path) const {
    return Template::parse(text(obj, key, path, kMaxNextStepBytes), kPhraseVars, file_ + ": " + path + "." + std::string(key));
  }

 private:
  std::string file_;
};

std::string read_file(const fs::path& file, std::size_t max_bytes, std::string_view what) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) throw std::invalid_argument(fmt::format("{}: missing ({})", file.string(), what));
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::invalid_argument(file.string() + ": cannot be read");
  std::string text(max_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > max_bytes) throw std::invalid_argument(fmt::format("{}: larger than {} bytes", file.string(), max_bytes));
  if (!valid_utf8(text)) throw std::invalid_argument(file.string() + ": not valid UTF-8");
  std::erase(text, '\r');
  return text;
}

Policy load_policy(const fs::path& file) {
  const std::string name = file.string();
  const std::string text = read_file(file, kMaxPolicyFileBytes, "the per-intent policy notes and reply phrases");
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw std::invalid_argument(name + ": invalid JSON: " + e.what());
  }
  const PolicyReader r(name);
  Policy p;
  r.object(j, "$", {"intents", "phrases", "approved"});

  const json& intents = r.object(j.at("intents"), "intents", kIntentNames);
  for (int i = 0; i < kIntentCount; ++i) {
    const std::string path = "intents." + std::string(kIntentNames[i]);
    const json& o = r.object(intents.at(kIntentNames[i]), path, {"note", "advise_freeze", "next_step"});
    auto& ip = p.intents[i];
    ip.note = r.text(o, "note", path, 1000);
    if (!o.at("advise_freeze").is_boolean()) r.fail(path + ".advise_freeze", "must be true or false");
    ip.advise_freeze = o.at("advise_freeze").get<bool>();
    ip.next_step = r.phrase(o, "next_step", path);
  }

  const json& ph = r.object(j.at("phrases"), "phrases",
                            {"freeze_advice", "freeze_advice_urgent", "pending_next_step", "charge", "charge_without_merchant",
                             "charge_unknown", "payment", "payment_unknown", "merchant_unknown", "amount_unknown",
                             "product_unknown"});
  p.freeze_advice = r.phrase(ph, "freeze_advice", "phrases");
  p.freeze_advice_urgent = r.phrase(ph, "freeze_advice_urgent", "phrases");
  p.pending_next_step = r.phrase(ph, "pending_next_step", "phrases");
  p.charge = r.phrase_template(ph, "charge", "phrases");
  p.charge_without_merchant = r.phrase_template(ph, "charge_without_merchant", "phrases");
  p.charge_unknown = r.phrase(ph, "charge_unknown", "phrases");
  p.payment = r.phrase_template(ph, "payment", "phrases");
  p.payment_unknown = r.phrase(ph, "payment_unknown", "phrases");
  p.merchant_unknown = r.phrase(ph, "merchant_unknown", "phrases");
  p.amount_unknown = r.phrase(ph, "amount_unknown", "phrases");
  p.product_unknown = r.phrase(ph, "product_unknown", "phrases");

  // Money-moving actions have no key here on purpose: a reply never reports one (that would read
  // as a promise of money), so approving one changes nothing in the reply.
  const json& ap = r.object(j.at("approved"), "approved",
                            {"temporary_card_freeze", "monitor", "card_replacement", "account_unlock", "identity_verification"});
  for (int i = 0; i < kReportedCount; ++i) p.approved[i] = r.phrase(ap, to_string(kReportedActions[i]), "approved");
  return p;
}

// ---------------------------------------------------------------------------------------------
// The embedded drafter.

class TemplateDrafter final : public Drafter {
 public:
  TemplateDrafter(Policy policy, std::array<Template, kIntentCount> templates)
      : policy_(std::move(policy)), templates_(std::move(templates)) {}

  Draft draft(const DraftInput& in) const override {
    Draft d = render(in, true);
    if (!d.violations.empty()) {
      // Case data next to template text can still make an unsafe reply (a merchant ending in
      // digits right before an amount): the reply without case data is better than none.
      d = render(in, false);
    }
    return d;
  }

  Draft render(const DraftInput& in, bool with_case_data) const {
    const Vars vars = vars_for(in, with_case_data);
    Draft d;
    d.template_name = std::string(to_string(in.intent));
    d.model = std::string(kModel);
    d.next_step = vars[static_cast<int>(Var::kNextStep)];
    std::string raw;
    raw.reserve(1024);
    templates_[static_cast<int>(in.intent)].render_to(raw, vars);
    d.reply = tidy(raw);
    d.violations = draft_violations(d, in);
    return d;
  }

  // Start-up checks of one intent's template, throwing with the file's name: it states the next
  // step and the actions taken, it can never render more than kMaxReplyBytes, and it renders a
  // safe reply for each sample case.
  void check(Intent intent, const std::string& file) const {
    const Template& t = templates_[static_cast<int>(intent)];
    for (const Var v : kRequiredVars) {
      if (!t.uses(v)) {
        throw std::invalid_argument(
            fmt::format("{}: must use {{{{{}}}}} (every reply states it)", file, kVarNames[static_cast<int>(v)]));
      }
    }
    const std::size_t bound = t.max_bytes(bounds(intent));
    if (bound > kMaxReplyBytes) {
      throw std::invalid_argument(
          fmt::format("{}: can render up to {} bytes, more than the {} a reply may have", file, bound, kMaxReplyBytes));
    }
    for (const auto& [scenario, sample] : samples(intent)) {
      const Draft d = render(sample, true);
      if (!d.violations.empty()) {
        throw std::invalid_argument(fmt::format("{}: rendered for a sample case ({}), the {}", file, scenario, d.violations.front()));
      }
    }
  }

 private:
  Vars vars_for(const DraftInput& in, bool with_case_data) const {
    using common::cases::Payload;
    Vars v;
    auto at = [&v](Var var) -> std::string& { return v[static_cast<int>(var)]; };
    const IntentPolicy& ip = policy_.intents[static_cast<int>(in.intent)];
    const Payload& p = in.payload;

    // Actions awaiting a decision: the policy's pending ones, or without a policy everything the
    // fraud review proposed. Nothing about them is promised; a specialist decides.
    const std::vector<ActionType>& undecided = in.policy ? in.policy->pending : in.proposed_actions;
    at(Var::kNextStep) = undecided.empty() ? ip.next_step : policy_.pending_next_step;

    const bool high = in.risk_level == RiskLevel::kHigh;
    if (in.policy && has(in.policy->approved, ActionType::kTemporaryCardFreeze)) {
      at(Var::kFreezeAdvice) = policy_.approved[0];
    } else if (ip.advise_freeze || has(undecided, ActionType::kTemporaryCardFreeze) || (high && p.transaction)) {
      at(Var::kFreezeAdvice) = high ? policy_.freeze_advice_urgent : policy_.freeze_advice;
    }
    if (in.policy) {
      std::string& status = at(Var::kActionStatus);
      for (int i = 1; i < kReportedCount; ++i) {  // [0], the freeze, is in freeze_advice
        if (!has(in.policy->approved, kReportedActions[i])) continue;
        if (!status.empty()) status.push_back(' ');
        status += policy_.approved[i];
      }
    }

    at(Var::kPaymentType) = p.payment ? kPaymentTypeWords[static_cast<int>(p.payment->type)] : kPaymentTypeFallback;
    at(Var::kProduct) = p.application ? std::string(kProductWords[static_cast<int>(p.application->product)])
                                      : policy_.product_unknown;
    std::optional<std::string> merchant;
    if (with_case_data && p.transaction && p.transaction->merchant) merchant = safe_merchant(*p.transaction->merchant, in);
    at(Var::kMerchant) = merchant ? *merchant : policy_.merchant_unknown;
    const common::money::Money* amount = !with_case_data ? nullptr
                                         : p.transaction ? &p.transaction->amount
                                         : p.payment     ? &p.payment->amount
                                         : p.application && p.application->requested ? &*p.application->requested
                                                                                     : nullptr;
    at(Var::kAmount) = amount ? display_amount(*amount) : policy_.amount_unknown;
    at(Var::kCharge) = !with_case_data || !p.transaction ? policy_.charge_unknown
                       : merchant                        ? policy_.charge.render(v)
                                                         : policy_.charge_without_merchant.render(v);
    if (with_case_data && p.payment) {
      // {{payment}} speaks of the payment's amount, whatever else the case holds.
      std::string case_amount = std::exchange(at(Var::kAmount), display_amount(p.payment->amount));
      at(Var::kPayment) = policy_.payment.render(v);
      at(Var::kAmount) = std::move(case_amount);
    } else {
      at(Var::kPayment) = policy_.payment_unknown;
    }
    return v;
  }

  // The merchant as the core banking system named it, when it is short and safe to repeat.
  static std::optional<std::string> safe_merchant(std::string_view raw, const DraftInput& in) {
    std::string m = one_line(raw);
    if (m.empty() || m.size() > kMaxMerchantBytes) return std::nullopt;
    if (!violations(m, card_last4s(in)).empty()) return std::nullopt;
    return m;
  }

  VarBounds bounds(Intent intent) const {
    VarBounds b{};
    auto at = [&b](Var var) -> std::size_t& { return b[static_cast<int>(var)]; };
    const IntentPolicy& ip = policy_.intents[static_cast<int>(intent)];
    at(Var::kNextStep) = std::max(ip.next_step.size(), policy_.pending_next_step.size());
    at(Var::kFreezeAdvice) =
        std::max({policy_.approved[0].size(), policy_.freeze_advice.size(), policy_.freeze_advice_urgent.size()});
    for (int i = 1; i < kReportedCount; ++i) at(Var::kActionStatus) += policy_.approved[i].size() + 1;
    at(Var::kMerchant) = std::max(kMaxMerchantBytes, policy_.merchant_unknown.size());
    std::size_t amount = policy_.amount_unknown.size();
    for (const char* code : {"JPY", "USD", "KWD", "CLF"}) {  // exponents 0, 2, 3, 4
      amount = std::max(amount, display_amount({common::money::kMaxMinor, code}).size());
    }
    at(Var::kAmount) = amount;
    for (const auto w : kPaymentTypeWords) at(Var::kPaymentType) = std::max(at(Var::kPaymentType), w.size());
    at(Var::kProduct) = policy_.product_unknown.size();
    for (const auto w : kProductWords) at(Var::kProduct) = std::max(at(Var::kProduct), w.size());
    at(Var::kCharge) = std::max({policy_.charge.max_bytes(b), policy_.charge_without_merchant.max_bytes(b),
                                 policy_.charge_unknown.size()});
    at(Var::kPayment) = std::max(policy_.payment.max_bytes(b), policy_.payment_unknown.size());
    return b;
  }

  static std::vector<std::pair<std::string, DraftInput>> samples(Intent intent) {
    using namespace common::cases;
    std::vector<std::pair<std::string, DraftInput>> out;
    DraftInput bare;
    bare.intent = intent;
    bare.payload.kind = Kind::kSupportMessage;
    bare.payload.customer_ref = "cust-sample";
    bare.payload.message = "Sample message.";
    out.emplace_back("no case data", bare);

    DraftInput full = bare;
    full.payload.kind = Kind::kTransactionAlert;
    full.payload.transaction = Transaction{"txn-sample", {4250, "USD"}, "Sample Market", 0, "4417", false};
    full.payload.payment = Payment{PaymentType::kTransfer, {123456789, "USD"}, std::nullopt, std::nullopt, std::nullopt};
    Application app;
    app.product = Product::kMortgage;
    app.currency = "USD";
    app.requested = common::money::Money{common::money::kMaxMinor, "USD"};
    full.payload.application = app;
    full.risk_level = RiskLevel::kHigh;
    full.policy = PolicyDecision{{ActionType::kTemporaryCardFreeze, ActionType::kMonitor, ActionType::kCardReplacement,
                                  ActionType::kAccountUnlock, ActionType::kIdentityVerification, ActionType::kRefund},
                                 {ActionType::kReversal}};
    full.mentioned_card_last4 = "0099";
    out.emplace_back("every action approved or pending", full);

    DraftInput proposed = bare;
    proposed.payload.kind = Kind::kTransactionAlert;
    proposed.payload.transaction = Transaction{std::nullopt, {1999, "EUR"}, std::nullopt, 0, "1234", std::nullopt};
    proposed.risk_level = RiskLevel::kMedium;
    proposed.proposed_actions = {ActionType::kTemporaryCardFreeze, ActionType::kRefund};
    out.emplace_back("actions proposed, no policy", proposed);

    DraftInput frozen = proposed;
    frozen.policy = PolicyDecision{{ActionType::kTemporaryCardFreeze}, {}};
    out.emplace_back("card frozen", frozen);
    return out;
  }

  Policy policy_;
  std::array<Template, kIntentCount> templates_;
};

}  // namespace


std::string_view to_string(RiskLevel r) noexcept {
  return kRiskNames[static_cast<int>(r)];
}
std::optional<RiskLevel> parse_risk_level(std::string_view s) noexcept {
  for (int i = 0; i < 3; ++i) {
    if (kRiskNames[i] == s) return static_cast<RiskLevel>(i);
  }
  return std::nullopt;
}

std::string_view to_string(ActionType a) noexcept {
  return kActionNames[static_cast<int>(a)];
}
std::optional<ActionType> parse_action_type(std::string_view s) noexcept {
  for (std::size_t i = 0; i < std::size(kActionNames); ++i) {
    if (kActionNames[i] == s) return static_cast<ActionType>(i);
  }
  return std::nullopt;
}
bool moves_money(ActionType a) noexcept {
  return static_cast<int>(a) >= static_cast<int>(ActionType::kRefund);
}

std::vector<std::string> reply_violations(std::string_view reply, const std::optional<std::string>& card_last4) {
  if (!card_last4) return violations(reply, {});
  return violations(reply, std::span<const std::string>(&*card_last4, 1));
}

std::vector<std::string> draft_violations(const Draft& draft, const DraftInput& input) {
  std::vector<std::string> out;
  for (auto& v : violations(draft.reply, card_last4s(input))) out.push_back("reply " + v);
  if (draft.template_name.empty()) out.emplace_back("template is empty");
  if (draft.next_step.empty() || draft.next_step.size() > kMaxNextStepBytes) {
    out.push_back(fmt::format("next step is {} bytes, not 1..{}", draft.next_step.size(), kMaxNextStepBytes));
  } else if (draft.reply.find(draft.next_step) == std::string::npos) {
    out.emplace_back("reply does not state the next step");
  }
  return out;
}

std::unique_ptr<Drafter> make_template_drafter(const std::filesystem::path& templates_dir) {
  const fs::path dir = templates_dir.lexically_normal();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw std::invalid_argument("settings.templates_dir: " + dir.string() + " is not a directory");
  }
  Policy policy = load_policy(dir / "policy.json");
  std::array<Template, kIntentCount> templates;
  std::array<std::string, kIntentCount> files;
  for (int i = 0; i < kIntentCount; ++i) {
    const fs::path file = dir / (std::string(kIntentNames[i]) + ".txt");
    files[i] = file.string();
    const std::string text =
        read_file(file, kMaxTemplateFileBytes, fmt::format("the reply template for intent {}", kIntentNames[i]));
    templates[i] = Template::parse(text, kIntentVars, files[i]);
  }
  auto drafter = std::make_unique<TemplateDrafter>(std::move(policy), std::move(templates));
  for (int i = 0; i < kIntentCount; ++i) drafter->check(static_cast<Intent>(i), files[i]);
  return drafter;
}

std::string to_json(const Draft& d) {
  return nlohmann::json{{"reply", d.reply}, {"template", d.template_name}, {"next_step", d.next_step}, {"model", d.model}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace agents::response_drafter
