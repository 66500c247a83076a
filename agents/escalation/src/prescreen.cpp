#include "prescreen.hpp"

#include "common/util/json.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace agents::escalation {
namespace {

using common::cases::Product;

std::string years(double v) {
  return format_decimal(v, 1) + (v == 1 ? " year" : " years");
}

std::string product_label(Product p) {
  std::string s(common::cases::to_string(p));
  std::replace(s.begin(), s.end(), '_', ' ');
  return s;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

}  // namespace

PrescreenSettings default_prescreen_settings() {
  PrescreenSettings s;
  // 43 % is the long-standing US qualified-mortgage DTI ceiling and a common cap for unsecured
  // lending; mortgages get 45 %, the agencies' manual-underwriting maximum with compensating
  // factors. Either way a breach only refers the file to a person.
  s.max_debt_to_income = {{"default", 0.43}, {"mortgage", 0.45}};
  s.min_employment_years = 2;
  // Unsecured credit up to half a year's income; mortgages up to 4.5 times income.
  s.max_loan_to_income = {{"default", 0.5}, {"mortgage", 4.5}};
  s.required_documents = {
      {"default", {"id", "proof_of_income"}},
      {"credit_line", {"id", "proof_of_income", "bank_statements"}},
      {"mortgage", {"id", "proof_of_income", "bank_statements", "property_valuation", "tax_return"}},
  };
  return s;
}

std::string_view to_string(Recommendation r) noexcept {
  switch (r) {
    case Recommendation::kReadyForUnderwriting: return "ready_for_underwriting";
    case Recommendation::kNeedsDocuments: return "needs_documents";
    case Recommendation::kReferToUnderwriter: return "refer_to_underwriter";
  }
  return "refer_to_underwriter";
}

Underwriting prescreen(const common::cases::Application& a, const PrescreenSettings& s) {
  Underwriting u;
  u.product = a.product;
  const std::string product(common::cases::to_string(a.product));
  std::vector<std::string> concerns;  // plain-language, for the summary

  const double max_dti = for_product(s.max_debt_to_income, a.product);
  const bool dti_ok = a.debt_to_income <= max_dti;
  u.checks.push_back({"debt_to_income", dti_ok,
                      fmt::format("{} is {} the {} maximum for {}", format_decimal(a.debt_to_income, 4),
                                  dti_ok ? "at or under" : "above", format_decimal(max_dti, 4), product)});
  if (!dti_ok) {
    concerns.push_back(fmt::format("debt-to-income {} is above the {} limit", format_decimal(a.debt_to_income, 4),
                                   format_decimal(max_dti, 4)));
  }

  const bool employment_ok = a.employment_years >= s.min_employment_years;
  u.checks.push_back({"employment_years", employment_ok,
                      fmt::format("{} employed, {} the {} minimum", years(a.employment_years),
                                  employment_ok ? "at or over" : "under", years(s.min_employment_years))});
  if (!employment_ok) {
    concerns.push_back(fmt::format("{} of employment is under the {} minimum", years(a.employment_years),
                                   years(s.min_employment_years)));
  }

  // Loan-to-income only when the application states an amount and the product has a cap.
  const auto& max_lti = for_product(s.max_loan_to_income, a.product);
  if (a.requested && max_lti) {
    const common::money::Money income{a.annual_income_minor, a.currency};
    if (a.annual_income_minor <= 0) {
      u.checks.push_back({"loan_to_income", false,
                          fmt::format("requested {} with no annual income stated", common::money::format(*a.requested))});
      concerns.push_back("no annual income is stated for the requested amount");
    } else {
      const double lti = static_cast<double>(a.requested->minor) / static_cast<double>(a.annual_income_minor);
      const bool lti_ok = lti <= *max_lti;
      u.checks.push_back({"loan_to_income", lti_ok,
                          fmt::format("requested {} is {} times annual income {}; {} the {} cap for {}",
                                      common::money::format(*a.requested), format_decimal(lti, 2), common::money::format(income),
                                      lti_ok ? "at or under" : "above", format_decimal(*max_lti, 2), product)});
      if (!lti_ok) {
        concerns.push_back(fmt::format("the requested amount is {} times annual income, above the {} cap",
                                       format_decimal(lti, 2), format_decimal(*max_lti, 2)));
      }
    }
  }

  const auto& required = for_product(s.required_documents, a.product);
  for (const auto& doc : required) {
    if (std::find(a.documents_provided.begin(), a.documents_provided.end(), doc) == a.documents_provided.end()) {
      u.missing_documents.push_back(doc);
    }
  }
  u.checks.push_back({"required_documents", u.missing_documents.empty(),
                      u.missing_documents.empty()
                          ? fmt::format("all {} required documents for {} provided", required.size(), product)
                          : fmt::format("missing {} of {} required documents for {}: {}", u.missing_documents.size(),
                                        required.size(), product, join(u.missing_documents, ", "))});

  u.recommendation = !concerns.empty()                 ? Recommendation::kReferToUnderwriter
                     : !u.missing_documents.empty()    ? Recommendation::kNeedsDocuments
                                                       : Recommendation::kReadyForUnderwriting;

  const std::string label = product_label(a.product);
  std::string& summary = u.summary;
  if (concerns.empty()) {
    summary = fmt::format(
        "Applicant appears low risk based on income stability ({} employed) and debt-to-income {} (limit {}).",
        years(a.employment_years), format_decimal(a.debt_to_income, 4), format_decimal(max_dti, 4));
  } else {
    summary = "Pre-screen concerns: " + join(concerns, "; ") + ".";
  }
  summary += u.missing_documents.empty()
                 ? fmt::format(" All required documents for a {} are present.", label)
                 : fmt::format(" Missing documents: {}.", join(u.missing_documents, ", "));
  switch (u.recommendation) {
    case Recommendation::kReadyForUnderwriting:
      summary += " Recommended next step: manual review of supporting documents before approval.";
      break;
    case Recommendation::kNeedsDocuments:
      summary += " Recommended next step: request the missing documents, then manual review before approval.";
      break;
    case Recommendation::kReferToUnderwriter:
      summary += " Recommended next step: an underwriter assesses the concerns above before any decision.";
      break;
  }
  summary += " This pre-screen neither approves nor declines; a person decides.";
  return u;
}

std::string format_decimal(double v, int max_decimals) {
  std::string s = fmt::format("{:.{}f}", v, max_decimals);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s == "-0" ? "0" : s;
}

std::string to_json(const Underwriting& u) {
  // Hand-composed: this sits on the per-task path, where a nlohmann DOM (with JSON_DIAGNOSTICS)
  // costs more than the pre-screen itself.
  std::string out;
  out.reserve(1024);
  common::json::ObjectWriter w(out);
  w.string("product", common::cases::to_string(u.product));
  w.key("checks").push_back('[');
  for (std::size_t i = 0; i < u.checks.size(); ++i) {
    if (i) out.push_back(',');
    common::json::ObjectWriter c(out);
    c.string("check", u.checks[i].check);
    c.raw("passed", u.checks[i].passed ? "true" : "false");
    c.string("detail", u.checks[i].detail);
    c.close();
  }
  out.push_back(']');
  w.key("missing_documents").push_back('[');
  for (std::size_t i = 0; i < u.missing_documents.size(); ++i) {
    if (i) out.push_back(',');
    common::json::append_string(out, u.missing_documents[i]);
  }
  out.push_back(']');
  w.string("recommendation", to_string(u.recommendation));
  w.string("summary", u.summary);
  w.close();
  return out;
}

}  // namespace agents::escalation
