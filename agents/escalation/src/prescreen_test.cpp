#include "prescreen.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace agents::escalation {
namespace {

using common::cases::Application;
using common::cases::Product;

// income and requested in whole US dollars.
Application application(Product product, std::int64_t income, double dti, double years, std::vector<std::string> documents,
                        std::optional<std::int64_t> requested = std::nullopt) {
  Application a;
  a.product = product;
  a.annual_income_minor = income * 100;
  a.currency = "USD";
  a.debt_to_income = dti;
  a.employment_years = years;
  a.documents_provided = std::move(documents);
  if (requested) a.requested = common::money::Money{*requested * 100, "USD"};
  return a;
}

struct Row {
  const char* name;
  Application application;
  Recommendation recommendation;
  std::vector<std::pair<std::string, bool>> checks;  // in order
  std::vector<std::string> missing;
};

const std::vector<std::string> kPersonalDocs{"id", "proof_of_income"};
const std::vector<std::string> kMortgageDocs{"id", "proof_of_income", "bank_statements", "property_valuation", "tax_return"};

// The seed's applicants (002: A123, TEST-001) first, then the edges of every threshold.
const Row kRows[] = {
    {"SeedA123PassesDti", application(Product::kPersonalLoan, 95000, 0.31, 3, kPersonalDocs),
     Recommendation::kReadyForUnderwriting,
     {{"debt_to_income", true}, {"employment_years", true}, {"required_documents", true}},
     {}},
    {"SeedTest001WithDocumentsIsReady", application(Product::kPersonalLoan, 120000, 0.22, 6, kPersonalDocs),
     Recommendation::kReadyForUnderwriting,
     {{"debt_to_income", true}, {"employment_years", true}, {"required_documents", true}},
     {}},
    {"SeedTest001WithoutDocumentsNeedsThem", application(Product::kPersonalLoan, 120000, 0.22, 6, {}),
     Recommendation::kNeedsDocuments,
     {{"debt_to_income", true}, {"employment_years", true}, {"required_documents", false}},
     {"id", "proof_of_income"}},
    {"HighDtiIsReferred", application(Product::kPersonalLoan, 95000, 0.52, 6, kPersonalDocs),
     Recommendation::kReferToUnderwriter,
     {{"debt_to_income", false}, {"employment_years", true}, {"required_documents", true}},
     {}},
    {"DtiAtTheLimitPasses", application(Product::kAutoLoan, 95000, 0.43, 6, kPersonalDocs),
     Recommendation::kReadyForUnderwriting,
     {{"debt_to_income", true}, {"employment_years", true}, {"required_documents", true}},
     {}},
    {"MortgageHasItsOwnDtiLimit", application(Product::kMortgage, 95000, 0.44, 6, kMortgageDocs),
     Recommendation::kReadyForUnderwriting,
     {{"debt_to_income", true}, {"employment_years", true}, {"required_documents", true}},
     {}},
    {"SameDtiOnAPersonalLoanIsReferred", application(Product::kPersonalLoan, 95000, 0.44, 6, kPersonalDocs),
     Recommendation::kReferToUnderwriter,
     {{"debt_to_income", false}, {"employment_years", true}, {"required_documents", true}},
     {}},
    {"MissingMortgageDocumentsAreListed", application(Product::kMortgage, 95000, 0.30, 5, {"proof_of_income", "id"}),
     Recommendation::kNeedsDocuments,
     {{"debt_to_income", true}, {"employment_years", true}, {"required_documents", false}},
     {"bank_statements", "property_valuation", "tax_return"}},
    {"ShortEmploymentIsReferred", application(Product::kPersonalLoan, 95000, 0.25, 0.8, kPersonalDocs),
     Recommendation::kReferToUnderwriter,
     {{"debt_to_income", true}, {"employment_years", false}, {"required_documents", true}},
     {}},
    {"EmploymentAtTheMinimumPasses", application(Product::kPersonalLoan, 95000, 0.25, 2, kPersonalDocs),
     Recommendation::kReadyForUnderwriting,
     {{"debt_to_income", true}, {"employment_years", true}, {"required_documents", true}},
     {}},
    {"FailedCheckOutranksMissingDocuments", application(Product::kPersonalLoan, 95000, 0.60, 1, {"id"}),
     Recommendation::kReferToUnderwriter,
     {{"debt_to_income", false}, {"employment_years", false}, {"required_documents", false}},
     {"proof_of_income"}},
    {"LoanToIncomeWithinTheCap", application(Product::kPersonalLoan, 95000, 0.31, 3, kPersonalDocs, 40000),
     Recommendation::kReadyForUnderwriting,
     {{"debt_to_income", true}, {"employment_years", true}, {"loan_to_income", true}, {"required_documents", true}},
     {}},
    {"LoanToIncomeOverTheCapIsReferred", application(Product::kPersonalLoan, 95000, 0.31, 3, kPersonalDocs, 60000),
     Recommendation::kReferToUnderwriter,
     {{"debt_to_income", true}, {"employment_years", true}, {"loan_to_income", false}, {"required_documents", true}},
     {}},
    {"MortgageLoanToIncomeCap", application(Product::kMortgage, 95000, 0.31, 3, kMortgageDocs, 350000),
     Recommendation::kReadyForUnderwriting,
     {{"debt_to_income", true}, {"employment_years", true}, {"loan_to_income", true}, {"required_documents", true}},
     {}},
    {"RequestWithoutIncomeIsReferred", application(Product::kCreditLine, 0, 0.0, 3, {"id", "proof_of_income", "bank_statements"}, 5000),
     Recommendation::kReferToUnderwriter,
     {{"debt_to_income", true}, {"employment_years", true}, {"loan_to_income", false}, {"required_documents", true}},
     {}},
};

TEST(Prescreen, Table) {
  const auto settings = default_prescreen_settings();
  for (const auto& row : kRows) {
    SCOPED_TRACE(row.name);
    const auto u = prescreen(row.application, settings);
    EXPECT_EQ(u.product, row.application.product);
    EXPECT_EQ(to_string(u.recommendation), to_string(row.recommendation));
    std::vector<std::pair<std::string, bool>> checks;
    for (const auto& c : u.checks) {
      checks.emplace_back(c.check, c.passed);
      EXPECT_FALSE(c.detail.empty()) << c.check;
    }
    EXPECT_EQ(checks, row.checks);
    EXPECT_EQ(u.missing_documents, row.missing);
  }
}

TEST(Prescreen, SummaryReadsLikeTheSeedAndNeverDecides) {
  const auto settings = default_prescreen_settings();
  const auto ready = prescreen(application(Product::kPersonalLoan, 120000, 0.22, 6, kPersonalDocs), settings);
  EXPECT_NE(ready.summary.find("Applicant appears low risk based on income stability"), std::string::npos) << ready.summary;
  EXPECT_NE(ready.summary.find("Recommended next step: manual review of supporting documents before approval."),
            std::string::npos)
      << ready.summary;

  const auto docs = prescreen(application(Product::kMortgage, 95000, 0.30, 5, {"id"}), settings);
  EXPECT_NE(docs.summary.find("Missing documents: proof_of_income, bank_statements, property_valuation, tax_return."),
            std::string::npos)
      << docs.summary;

  const auto refer = prescreen(application(Product::kPersonalLoan, 95000, 0.52, 1, kPersonalDocs), settings);
  EXPECT_EQ(refer.summary.find("low risk"), std::string::npos) << refer.summary;
  EXPECT_NE(refer.summary.find("debt-to-income 0.52 is above the 0.43 limit"), std::string::npos) << refer.summary;
  EXPECT_NE(refer.summary.find("1 year of employment is under the 2 years minimum"), std::string::npos) << refer.summary;

  for (const auto* u : {&ready, &docs, &refer}) {
    for (const char* verdict : {"approved", "declined", "rejected", "denied"}) {
      EXPECT_EQ(u->summary.find(verdict), std::string::npos) << verdict << " in " << u->summary;
    }
  }
}

TEST(Prescreen, CheckDetailsNameTheNumbers) {
  const auto u = prescreen(application(Product::kMortgage, 95000, 0.31, 6, kMortgageDocs, 350000), default_prescreen_settings());
  ASSERT_EQ(u.checks.size(), 4u);
  EXPECT_EQ(u.checks[0].detail, "0.31 is at or under the 0.45 maximum for mortgage");
  EXPECT_EQ(u.checks[1].detail, "6 years employed, at or over the 2 years minimum");
  EXPECT_EQ(u.checks[2].detail,
            "requested 350000.00 USD is 3.68 times annual income 95000.00 USD; at or under the 4.5 cap for mortgage");
  EXPECT_EQ(u.checks[3].detail, "all 5 required documents for mortgage provided");
}

TEST(Prescreen, ThresholdsComeFromSettings) {
  auto settings = default_prescreen_settings();
  settings.max_debt_to_income["personal_loan"] = 0.30;
  settings.min_employment_years = 5;
  settings.max_loan_to_income["default"] = std::nullopt;  // no cap
  settings.required_documents["personal_loan"] = {"id"};
  const auto u = prescreen(application(Product::kPersonalLoan, 95000, 0.31, 4, {"id"}, 900000), settings);
  ASSERT_EQ(u.checks.size(), 3u) << "no loan_to_income check without a cap";
  EXPECT_FALSE(u.checks[0].passed);
  EXPECT_FALSE(u.checks[1].passed);
  EXPECT_TRUE(u.checks[2].passed);
  EXPECT_EQ(u.recommendation, Recommendation::kReferToUnderwriter);
}

TEST(Prescreen, JsonShape) {
  const auto j = nlohmann::json::parse(
      to_json(prescreen(application(Product::kMortgage, 95000, 0.52, 6, {"id"}), default_prescreen_settings())));
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j.size(), 5u);
  EXPECT_EQ(j.at("product"), "mortgage");
  EXPECT_EQ(j.at("recommendation"), "refer_to_underwriter");
  EXPECT_TRUE(j.at("summary").is_string());
  ASSERT_TRUE(j.at("checks").is_array());
  const auto& first = j.at("checks").at(0);
  EXPECT_EQ(first.size(), 3u);
  EXPECT_EQ(first.at("check"), "debt_to_income");
  EXPECT_EQ(first.at("passed"), false);
  EXPECT_TRUE(first.at("detail").is_string());
  EXPECT_EQ(j.at("missing_documents"),
            nlohmann::json({"proof_of_income", "bank_statements", "property_valuation", "tax_return"}));
}

TEST(FormatDecimal, TrimsTrailingZeros) {
  EXPECT_EQ(format_decimal(0.31, 4), "0.31");
  EXPECT_EQ(format_decimal(6, 1), "6");
  EXPECT_EQ(format_decimal(2.5, 1), "2.5");
  EXPECT_EQ(format_decimal(3.6842, 2), "3.68");
  EXPECT_EQ(format_decimal(-0.0001, 2), "0");
}

}  // namespace
}  // namespace agents::escalation
