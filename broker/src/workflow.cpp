#include "workflow.hpp"

#include "common/bus/envelope.hpp"
#include "common/policy/policy.hpp"

#include <fmt/format.h>

#include <functional>
#include <set>
#include <stdexcept>

namespace broker {
namespace {

using nlohmann::json;

constexpr std::string_view kCaseFields[] = {"intent",          "confidence",       "risk_level", "risk_score",
                                            "payment_decision", "pending_actions", "approved_actions", "violations"};

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw std::invalid_argument(path + ": " + message);
}

Condition condition_of(const json& j, const std::string& path, bool has_result) {
  if (!j.is_object()) fail(path, "a condition must be an object like {\"field\": \"case.confidence\", \"lt\": 0.6}");
  Condition c;
  auto f = j.find("field");
  if (f == j.end() || !f->is_string()) fail(path + ".field", "missing (a string such as \"result.intent\")");
  c.field = f->get<std::string>();
  std::vector<std::string> parts;
  std::size_t begin = 0;
  while (true) {
    const auto dot = c.field.find('.', begin);
    parts.push_back(c.field.substr(begin, dot == std::string::npos ? std::string::npos : dot - begin));
    if (dot == std::string::npos) break;
    begin = dot + 1;
  }
  if (parts.size() < 2 || std::any_of(parts.begin(), parts.end(), [](const auto& p) { return p.empty(); })) {
    fail(path + ".field", "\"" + c.field + "\" must be payload.<path>, result.<path> or case.<name>");
  }
  if (parts[0] == "payload") {
    c.root = Condition::Root::kPayload;
  } else if (parts[0] == "result") {
    if (!has_result) fail(path + ".field", "start routes run before any agent: there is no result to read");
    c.root = Condition::Root::kResult;
  } else if (parts[0] == "case") {
    c.root = Condition::Root::kCase;
    if (parts.size() != 2 || std::find(std::begin(kCaseFields), std::end(kCaseFields), parts[1]) == std::end(kCaseFields)) {
      std::string list;
      for (auto n : kCaseFields) list += (list.empty() ? "" : ", ") + std::string(n);
      fail(path + ".field", "\"" + c.field + "\": case fields are " + list);
    }
  } else {
    fail(path + ".field", "\"" + c.field + "\" must start with payload., result. or case.");
  }
  c.path.assign(parts.begin() + 1, parts.end());
  static const std::pair<std::string_view, Condition::Op> kOps[] = {
      {"eq", Condition::Op::kEq},   {"ne", Condition::Op::kNe},   {"in", Condition::Op::kIn},
      {"not_in", Condition::Op::kNotIn}, {"lt", Condition::Op::kLt}, {"lte", Condition::Op::kLte},
      {"gt", Condition::Op::kGt},   {"gte", Condition::Op::kGte}, {"exists", Condition::Op::kExists}};
  int ops = 0;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "field") continue;
    auto op = std::find_if(std::begin(kOps), std::end(kOps), [&](const auto& o) { return o.first == it.key(); });
    if (op == std::end(kOps)) fail(path + "." + it.key(), "unknown operator (eq, ne, in, not_in, lt, lte, gt, gte, exists)");
    ++ops;
    c.op = op->second;
    c.value = it.value();
    switch (c.op) {
      case Condition::Op::kIn:
      case Condition::Op::kNotIn:
        if (!c.value.is_array() || c.value.empty()) fail(path + "." + it.key(), "must be a non-empty array");
        break;
      case Condition::Op::kLt:
      case Condition::Op::kLte:
      case Condition::Op::kGt:
      case Condition::Op::kGte:
        if (!c.value.is_number()) fail(path + "." + it.key(), "must be a number");
        break;
      case Condition::Op::kExists:
        if (!c.value.is_boolean()) fail(path + "." + it.key(), "must be true or false");
        break;
      default:
        if (c.value.is_structured()) fail(path + "." + it.key(), "must be a string, number, boolean or null");
    }
  }
  if (ops != 1) fail(path, "needs exactly one operator besides \"field\"");
  return c;
}

std::vector<Route> routes_of(const json& j, const std::string& path, bool has_result) {
  if (!j.is_array() || j.empty()) fail(path, "must be a non-empty array of routes");
  std::vector<Route> routes;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string p = fmt::format("{}[{}]", path, i);
    const json& r = j[i];
    if (!r.is_object()) fail(p, "a route must be an object");
    Route route;
    for (auto it = r.begin(); it != r.end(); ++it) {
      const std::string& k = it.key();
      if (k == "when") {
        if (!it->is_array() || it->empty()) fail(p + ".when", "must be a non-empty array of conditions");
        for (std::size_t c = 0; c < it->size(); ++c) route.when.push_back(condition_of((*it)[c], fmt::format("{}.when[{}]", p, c), has_result));
      } else if (k == "to" || k == "end" || k == "reason") {
        if (!it->is_string() || it->get_ref<const std::string&>().empty()) fail(p + "." + k, "must be a non-empty string");
        (k == "to" ? route.to : k == "end" ? route.end : route.reason) = it->get<std::string>();
      } else {
        fail(p + "." + k, "unknown key (when, to, end, reason)");
      }
    }
    if (route.to.empty() == route.end.empty()) fail(p, "needs exactly one of \"to\" (an agent kind) and \"end\"");
    if (!route.end.empty() && route.end != "resolved" && route.end != "escalated" && route.end != "rejected") {
      fail(p + ".end", "must be resolved, escalated or rejected");
    }
    routes.push_back(std::move(route));
  }
  if (!routes.back().when.empty()) fail(path, "the last route must have no \"when\", so that every case has a route");
  return routes;
}

Workflow workflow_of(const std::string& name, const json& j, int max_hops) {
  const std::string path = "workflows." + name;
  if (!common::bus::valid_agent_kind(name)) fail(path, "a workflow name is written like an agent kind: [a-z][a-z0-9_]*");
  if (!j.is_object()) fail(path, "must be an object");
  Workflow w;
  w.name = name;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() != "start" && it.key() != "nodes" && it.key() != "on_violation") fail(path + "." + it.key(), "unknown key (start, nodes, on_violation)");
  }
  if (!j.contains("start")) fail(path + ".start", "missing");
  w.start = routes_of(j.at("start"), path + ".start", false);
  if (!j.contains("nodes") || !j.at("nodes").is_object() || j.at("nodes").empty()) fail(path + ".nodes", "must be a non-empty object");
  for (auto it = j.at("nodes").begin(); it != j.at("nodes").end(); ++it) {
    const std::string p = path + ".nodes." + it.key();
    if (!common::bus::valid_agent_kind(it.key())) fail(p, "not an agent kind name");
    if (!common::policy::knows_kind(it.key())) {
      fail(p, "unknown agent kind \"" + it.key() + "\": the policy has no output schema for it "
              "(classifier, fraud_reviewer, response_drafter, escalation)");
    }
    if (!it->is_object() || !it->contains("routes") || it->size() != 1) fail(p, "must be {\"routes\": [...]}");
    w.nodes[it.key()] = routes_of(it->at("routes"), p + ".routes", true);
  }
  if (auto v = j.find("on_violation"); v != j.end()) {
    if (!v->is_string()) fail(path + ".on_violation", "must be a node name");
    w.on_violation = v->get<std::string>();
  } else {
    w.on_violation = "escalation";
  }
  if (!w.nodes.count(w.on_violation)) {
    fail(path + ".on_violation", "\"" + w.on_violation + "\" is not a node of this workflow (refused results go there)");
  }
  // Every target is a node.
  auto check_targets = [&](const std::vector<Route>& routes, const std::string& p) {
    for (std::size_t i = 0; i < routes.size(); ++i) {
      if (!routes[i].to.empty() && !w.nodes.count(routes[i].to)) {
        fail(fmt::format("{}[{}].to", p, i), "unknown agent kind \"" + routes[i].to + "\": not a node of this workflow");
      }
    }
  };
  check_targets(w.start, path + ".start");
  for (const auto& [node, routes] : w.nodes) check_targets(routes, path + ".nodes." + node + ".routes");

  // Cycles (depth-first, reporting the loop) and the longest path, in agent hops.
  std::map<std::string, int> state;  // 1: on the stack, 2: done
  std::map<std::string, int> depth;  // longest path from the node, itself included
  std::vector<std::string> stack;
  std::function<int(const std::string&)> visit = [&](const std::string& n) -> int {
    if (state[n] == 2) return depth[n];
    if (state[n] == 1) {
      std::string loop;
      auto from = std::find(stack.begin(), stack.end(), n);
      for (auto i = from; i != stack.end(); ++i) loop += *i + " -> ";
      fail(path + ".nodes", "cycle: " + loop + n);
    }
    state[n] = 1;
    stack.push_back(n);
    int longest = 0;
    for (const auto& r : w.nodes.at(n)) {
      if (!r.to.empty()) longest = std::max(longest, visit(r.to));
    }
    stack.pop_back();
    state[n] = 2;
    return depth[n] = longest + 1;
  };
  std::set<std::string> reachable;
  std::function<void(const std::string&)> reach = [&](const std::string& n) {
    if (!reachable.insert(n).second) return;
    for (const auto& r : w.nodes.at(n)) {
      if (!r.to.empty()) reach(r.to);
    }
  };
  for (const auto& r : w.start) {
    if (!r.to.empty()) {
      w.longest_path = std::max(w.longest_path, visit(r.to));
      reach(r.to);
    }
  }
  for (const auto& [node, routes] : w.nodes) visit(node);
  for (const auto& [node, routes] : w.nodes) {
    if (!reachable.count(node) && node != w.on_violation) fail(path + ".nodes." + node, "unreachable: no route from start leads here");
  }
  // With no cycles and a final unconditional route everywhere, every path ends; say so plainly if
  // that ever stops holding.
  std::function<bool(const std::string&)> ends = [&](const std::string& n) {
    for (const auto& r : w.nodes.at(n)) {
      if (!r.end.empty() || ends(r.to)) return true;
    }
    return false;
  };
  for (const auto& [node, routes] : w.nodes) {
    if (!ends(node)) fail(path + ".nodes." + node, "no path from here ends the case");
  }
  // A refused result adds one hop (to on_violation), which then ends the case.
  const int needed = w.longest_path + 1;
  if (needed > max_hops) {
    fail(path, fmt::format("its longest path needs {} hops (one more for a refused result) but max_hops is {}", needed, max_hops));
  }
  for (const auto& r : w.nodes.at(w.on_violation)) {
    if (r.end != "escalated") {
      fail(path + ".nodes." + w.on_violation, "the on_violation node must end the case \"escalated\" on every route");
    }
  }
  return w;
}

const json* resolve(const Condition& c, const json& payload, const json& result, const json& view) {
  const json* cur = c.root == Condition::Root::kPayload ? &payload : c.root == Condition::Root::kResult ? &result : &view;
  for (const auto& part : c.path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(part);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

bool holds(const Condition& c, const json* v) {
  using Op = Condition::Op;
  if (c.op == Op::kExists) return (v != nullptr && !v->is_null()) == c.value.get<bool>();
  if (!v) return false;  // every other operator is false for a field that is not there
  switch (c.op) {
    case Op::kEq: return *v == c.value;
    case Op::kNe: return *v != c.value;
    case Op::kIn: return std::find(c.value.begin(), c.value.end(), *v) != c.value.end();
    case Op::kNotIn: return std::find(c.value.begin(), c.value.end(), *v) == c.value.end();
    default: break;
  }
  if (!v->is_number()) return false;
  const double a = v->get<double>(), b = c.value.get<double>();
  switch (c.op) {
    case Op::kLt: return a < b;
    case Op::kLte: return a <= b;
    case Op::kGt: return a > b;
    case Op::kGte: return a >= b;
    default: return false;
  }
}

}  // namespace

std::string Route::describe() const {
  return to.empty() ? "end " + end : to;
}

Workflows parse_workflows(const json& j, int max_hops) {
  Workflows out;
  if (j.is_null()) return out;
  if (!j.is_object()) fail("workflows", "must be an object of named workflows");
  for (auto it = j.begin(); it != j.end(); ++it) out.emplace(it.key(), workflow_of(it.key(), *it, max_hops));
  return out;
}

const Route& choose(const std::vector<Route>& routes, const json& payload, const json& result, const json& view,
                    std::size_t& index) {
  for (std::size_t i = 0; i < routes.size(); ++i) {
    const auto& r = routes[i];
    if (std::all_of(r.when.begin(), r.when.end(), [&](const Condition& c) { return holds(c, resolve(c, payload, result, view)); })) {
      index = i;
      return r;
    }
  }
  index = routes.size() - 1;  // unreachable: the last route has no conditions (checked at start-up)
  return routes.back();
}

}  // namespace broker
