#pragma once
// What a case is about: the eight intents the classifier chooses from, which the policy's
// allowlist, the workflow's routes, the reviewer's weights and the drafter's templates are keyed
// by. One list for every component.
#include "common/cases/payload.hpp"

#include <array>
#include <optional>
#include <string_view>

namespace common::cases {

enum class Intent {
  kFraud,
  kCardDispute,
  kPayments,
  kAccountAccess,
  kCardServices,
  kBalanceAndFees,
  kLoanQuestion,
  kGeneralSupport,
};
inline constexpr int kIntentCount = 8;
inline constexpr std::array<std::string_view, kIntentCount> kIntentNames = {
    "fraud", "card_dispute", "payments", "account_access", "card_services", "balance_and_fees", "loan_question", "general_support"};

constexpr std::string_view to_string(Intent i) noexcept {
  return kIntentNames[static_cast<std::size_t>(i)];
}

constexpr std::optional<Intent> parse_intent(std::string_view s) noexcept {
  for (std::size_t i = 0; i < kIntentNames.size(); ++i) {
    if (kIntentNames[i] == s) return static_cast<Intent>(i);
  }
  return std::nullopt;
}

// The intent a case kind states when no classifier has spoken: a transaction alert is about
// fraud, a payment request about payments, a loan application a loan question.
constexpr Intent intent_of_kind(Kind k) noexcept {
  switch (k) {
    case Kind::kTransactionAlert: return Intent::kFraud;
    case Kind::kPaymentRequest: return Intent::kPayments;
    case Kind::kLoanApplication: return Intent::kLoanQuestion;
    case Kind::kSupportMessage: break;
  }
  return Intent::kGeneralSupport;
}

}  // namespace common::cases
