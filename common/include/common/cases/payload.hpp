#pragma once
// The case payload (docs/cases.md): what a customer message, a payment request, a loan
// application or a core-banking transaction alert carries into casebus. Parsed strictly at the
// boundaries that accept cases (the broker for workflow submissions, the agents for their tasks):
// unknown keys, wrong types, bad enums and out-of-range values are errors naming the field, as
// "payload.transaction.currency".
#include "common/cases/money.hpp"
#include "common/util/error.hpp"
#include "common/util/time.hpp"

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace common::cases {

enum class Kind { kSupportMessage, kPaymentRequest, kLoanApplication, kTransactionAlert };
enum class Channel { kWeb, kMobileApp, kBranch, kPhone, kEventBus };
enum class PaymentType { kRefund, kReversal, kTransfer, kCardPayment, kBillPayment };
enum class Product { kPersonalLoan, kMortgage, kAutoLoan, kCreditCard, kCreditLine };

std::string_view to_string(Kind k) noexcept;
std::string_view to_string(Channel c) noexcept;
std::string_view to_string(PaymentType t) noexcept;
std::string_view to_string(Product p) noexcept;

inline constexpr std::size_t kMaxMessageBytes = 8000;

struct Transaction {
  std::optional<std::string> id;  // the core banking system's transaction reference
  money::Money amount;
  std::optional<std::string> merchant;
  WallMs occurred_at = 0;  // 0: not given
  std::optional<std::string> card_last4;
  std::optional<bool> card_present;
};

struct Payment {
  PaymentType type = PaymentType::kTransfer;
  money::Money amount;
  std::optional<std::string> invoice_id;
  std::optional<std::string> payee_ref;  // pseudonymous, like customer_ref
  std::optional<std::string> reason;
};

struct Application {
  Product product = Product::kPersonalLoan;
  std::optional<money::Money> requested;  // requested_amount_minor + currency
  std::int64_t annual_income_minor = 0;   // in the application's currency
  std::string currency;
  double debt_to_income = 0;  // 0.31 = 31 %
  double employment_years = 0;
  std::vector<std::string> documents_provided;  // from kDocumentTypes, no repeats
};

// Document types an application may list.
inline constexpr std::string_view kDocumentTypes[] = {"id",           "proof_of_income", "proof_of_address",
                                                      "bank_statements", "employment_letter", "tax_return",
                                                      "credit_report", "property_valuation"};

struct Payload {
  Kind kind = Kind::kSupportMessage;
  Channel channel = Channel::kWeb;
  std::string customer_ref;
  std::string message;  // may be empty except for support_message
  std::optional<Transaction> transaction;
  std::optional<Payment> payment;
  std::optional<Application> application;

  // Every amount the case itself states: the transaction's, the payment's, the requested loan
  // amount and the amounts written in the message.
  std::vector<money::Money> stated_amounts() const;
  // Only the amounts in structured fields (transaction, payment, application): what the bank's own
  // systems sent, as opposed to what a customer typed.
  std::vector<money::Money> structured_amounts() const;
};

// Strict parse of payload JSON; errors are kInvalidField with field "payload.<path>" (or kMalformed
// for text that is not JSON).
Result<Payload> parse_payload(const nlohmann::json& j);
Result<Payload> parse_payload(std::string_view text);
inline Result<Payload> parse_payload(const std::string& text) { return parse_payload(std::string_view(text)); }

// Redacts every free-text field of a payload (message, transaction.merchant, payment.reason) in
// place with common/redact, before it enters the bus; returns how many items were replaced. The
// gateways (casebus-edge, casebus-ingest) call it; placeholders may be longer than what they
// replace, so parse the payload again after.
int redact_payload(nlohmann::json& payload);

}  // namespace common::cases
