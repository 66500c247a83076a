#pragma once
// The classifier agent's reasoning: intent, a confidence in [0,1] and entities from a customer's
// message. Behind an interface so a trained model (a later issue) or a language model can take
// the embedded default's place; whatever answers, the result has the same shape.
#include "common/cases/intent.hpp"
#include "common/cases/payload.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agents::classifier {

using common::cases::Intent;
using common::cases::kIntentCount;

struct Amount {
  std::int64_t minor = 0;  // in the currency's minor unit (cents for USD)
  std::string currency;    // ISO 4217
};

struct Entities {
  std::vector<Amount> amounts;
  std::optional<std::string> merchant;
  std::vector<std::string> dates;  // as written: "yesterday", "2026-11-20", "on Monday"
  std::optional<std::string> card_last4;
  std::vector<std::string> invoice_ids;
};

// Seed 003's structured payment action. A proposal only: the broker's policy decides whether any
// money moves (docs/policy.md).
struct PaymentDecision {
  enum class Action { kAuthorize, kRefund, kRetry, kEscalate };
  Action action = Action::kEscalate;
  std::string reason;  // a reason code: duplicate_charge, card_declined, customer_request, ...
  std::optional<Amount> amount;  // absent only with kEscalate
};
std::string_view to_string(PaymentDecision::Action a) noexcept;

struct Classification {
  Intent intent = Intent::kGeneralSupport;
  double confidence = 0;
  Entities entities;
  std::string model;  // which model answered, e.g. "embedded-keywords-v1"
  std::optional<PaymentDecision> payment_decision;  // payments intent and payment_request cases
};

class Classifier {
 public:
  virtual ~Classifier() = default;
  virtual Classification classify(std::string_view message) const = 0;
};

// The embedded default: weighted phrases per intent, deterministic and offline. Confidence is
// derived from the margin between the best and the second-best intent (see classifier.cpp).
std::unique_ptr<Classifier> make_embedded_classifier();

// A whole case: a support_message is classified by the model from its message; the other kinds
// state their intent (transaction_alert -> fraud, payment_request -> payments, loan_application ->
// loan_question, confidence 1, model "case-kind"). Payments get a payment decision.
Classification classify_case(const Classifier& model, const common::cases::Payload& payload);

// The embedded, deterministic payment decision: from the payment of a payment_request, else from
// the message's wording (refund, retry, pay/transfer/authorize) and its single stated amount;
// escalate when that is ambiguous. None when the message asks for no money action at all ("my card
// was declined at checkout" is a question, not an instruction).
std::optional<PaymentDecision> decide_payment(const common::cases::Payload& payload, const Entities& entities);

// Entities alone (shared by every model).
Entities extract_entities(std::string_view message);

// {"intent":...,"confidence":...,"entities":{...},"model":...}
std::string to_json(const Classification& c);

}  // namespace agents::classifier
