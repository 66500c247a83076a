#pragma once
// The lending pre-screen: deterministic checks of a loan application against configured
// thresholds (debt-to-income, employment history, loan-to-income, required documents), summarised
// for the underwriter who reviews the escalated case. It never approves or declines: the
// recommendation only says how ready the file is for a person's decision.
#include "common/cases/payload.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agents::escalation {

// Per-product values: "default" (required) plus optional overrides keyed by product name
// (personal_loan, mortgage, auto_loan, credit_card, credit_line).
template <class T>
using ByProduct = std::map<std::string, T, std::less<>>;

struct PrescreenSettings {
  ByProduct<double> max_debt_to_income;                  // passes at or under
  double min_employment_years = 0;                       // passes at or over
  ByProduct<std::optional<double>> max_loan_to_income;   // requested / annual income; nullopt: no cap
  ByProduct<std::vector<std::string>> required_documents;  // from common::cases::kDocumentTypes
  friend bool operator==(const PrescreenSettings&, const PrescreenSettings&) = default;
};

// The defaults (docs/agents/escalation.md): DTI 0.43 (mortgage 0.45), 2 years employed,
// loan-to-income 0.5 (mortgage 4.5), id + proof_of_income (more for mortgages and credit lines).
PrescreenSettings default_prescreen_settings();

// Value for a product: its override, else "default".
template <class T>
const T& for_product(const ByProduct<T>& m, common::cases::Product p) {
  auto it = m.find(common::cases::to_string(p));
  return it != m.end() ? it->second : m.at("default");
}

enum class Recommendation { kReadyForUnderwriting, kNeedsDocuments, kReferToUnderwriter };
std::string_view to_string(Recommendation r) noexcept;

struct Check {
  std::string check;  // debt_to_income | employment_years | loan_to_income | required_documents
  bool passed = false;
  std::string detail;
  friend bool operator==(const Check&, const Check&) = default;
};

struct Underwriting {
  common::cases::Product product = common::cases::Product::kPersonalLoan;
  std::vector<Check> checks;
  std::vector<std::string> missing_documents;  // in the order the product requires them
  Recommendation recommendation = Recommendation::kReferToUnderwriter;
  std::string summary;  // plain language, for the underwriter
};

// Any failed threshold check refers the file to an underwriter; otherwise missing documents make
// it needs_documents; otherwise it is ready_for_underwriting. Settings must hold a "default"
// entry in every map (parse_settings guarantees it).
Underwriting prescreen(const common::cases::Application& application, const PrescreenSettings& settings);

// "0.31", "6", "2.5": v with at most max_decimals decimals, trailing zeros dropped (also used by
// the escalation summary and evidence).
std::string format_decimal(double v, int max_decimals);

// {"product","checks":[{"check","passed","detail"}],"missing_documents","recommendation","summary"}:
// compact JSON text, as nlohmann's dump would write it for these (UTF-8) strings.
std::string to_json(const Underwriting& u);

}  // namespace agents::escalation
