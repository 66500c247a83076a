#pragma once
// The broker's declarative routing table (docs/workflow.md): named workflows, each a start rule
// list and one node per agent kind whose ordered routes pick the next hop from the case payload,
// the hop's result and what the policy has established so far ("case.*"). The first route whose
// conditions all hold wins; the last route of every list has no conditions, so something always
// matches. A route either goes to another node or ends the case (resolved, escalated, rejected).
//
// parse_workflows() checks the whole table at start-up and throws std::invalid_argument naming the
// JSON path: unknown agent kinds (no node, or no output schema in the policy), unreachable nodes,
// nodes without a path to an end, cycles, fields it cannot read, and paths longer than max_hops.
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace broker {

struct Condition {
  enum class Root { kPayload, kResult, kCase };
  enum class Op { kEq, kNe, kIn, kNotIn, kLt, kLte, kGt, kGte, kExists };
  std::string field;  // as written: "case.confidence"
  Root root = Root::kCase;
  std::vector<std::string> path;  // after the root
  Op op = Op::kEq;
  nlohmann::json value;
};

struct Route {
  std::vector<Condition> when;  // all must hold; empty: always
  std::string to;               // next agent kind, or
  std::string end;              // resolved | escalated | rejected
  std::string reason;           // optional, for the trail and the final case
  std::string describe() const;  // "fraud_reviewer" or "end escalated"
};

struct Workflow {
  std::string name;
  std::vector<Route> start;
  std::map<std::string, std::vector<Route>> nodes;  // agent kind -> routes
  std::string on_violation;  // the node a refused result or a failed agent sends the case to
  int longest_path = 0;      // agent hops on the longest path from start
};

using Workflows = std::map<std::string, Workflow, std::less<>>;

Workflows parse_workflows(const nlohmann::json& j, int max_hops);

// The first route whose conditions hold; result may be null (start routes). index: its position.
const Route& choose(const std::vector<Route>& routes, const nlohmann::json& payload, const nlohmann::json& result,
                    const nlohmann::json& case_view, std::size_t& index);

}  // namespace broker
