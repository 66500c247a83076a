#include "ctl.hpp"

#include "common/bus/client.hpp"
#include "common/cases/money.hpp"
#include "common/util/json.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <sstream>

namespace ctl {

namespace bus = common::bus;
using nlohmann::json;

namespace {

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "-";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string render_action(const json& a) {
  std::string s = str(a, "type");
  if (a.contains("amount_minor") && a.contains("currency")) {
    const common::money::Money m{a.at("amount_minor").get<std::int64_t>(), a.at("currency").get<std::string>()};
    s += " " + common::money::format(m);
  }
  if (auto r = a.find("reason"); r != a.end() && r->is_string() && !r->get_ref<const std::string&>().empty()) {
    s += " (" + r->get<std::string>() + ")";
  }
  if (auto p = a.find("proposed_by"); p != a.end() && p->is_string()) s += " proposed by " + p->get<std::string>();
  return s;
}

std::string render_actions(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array() || it->empty()) return "none\n";
  std::string s = "\n";
  for (const auto& a : *it) s += "          - " + render_action(a) + "\n";
  return s;
}

}  // namespace

std::string render_case(const std::string& case_json) {
  const auto j = json::parse(case_json);
  std::string s = fmt::format("case      {}\nstatus    {}\ntenant    {}\n", str(j, "case_id"), str(j, "status"), str(j, "tenant"));
  if (auto e = j.find("error"); e != j.end()) {
    s += fmt::format("error     {}: {}\n", str(*e, "code"), str(*e, "message"));
  }
  const bool workflow = j.contains("workflow");
  if (workflow) {
    s += fmt::format("workflow  {} ({})\n", str(j, "workflow"), str(j, "reason"));
    s += fmt::format("intent    {} (confidence {})\n", str(j, "intent"), str(j, "confidence"));
    if (const auto& r = j.at("risk"); r.is_object()) {
      s += fmt::format("risk      {} (score {})\n", str(r, "level"), str(r, "score"));
    } else {
      s += "risk      -\n";
    }
    if (j.contains("payment_decision")) s += fmt::format("decision  {}\n", str(j, "payment_decision"));
    s += "approved  " + render_actions(j, "approved_actions");
    s += "pending   " + render_actions(j, "pending_actions");
    if (const auto& r = j.at("review"); r.is_object()) {
      s += fmt::format("review    queue {}, priority {}, due {}\n", str(r, "queue"), str(r, "priority"), str(r, "sla_deadline"));
      if (auto u = r.find("underwriting"); u != r.end() && u->is_object()) {
        s += fmt::format("underwriting {}: {}\n", str(*u, "recommendation"), str(*u, "summary"));
      }
    }
    if (const auto& v = j.at("violations"); v.is_array() && !v.empty()) {
      s += "violations\n";
      for (const auto& x : v) {
        s += fmt::format("          - {} {} {}: {}\n", str(x, "agent"), str(x, "code"), str(x, "field"), str(x, "message"));
      }
    }
    s += "reply     " + str(j, "reply") + "\n";
  }
  s += "trail\n";
  for (const auto& h : j.at("trail")) {
    s += fmt::format("  hop {} {:<18} {:<10} attempt {} worker {} ({} ms)", h.at("hop").get<int>(), str(h, "agent"),
                     str(h, "outcome"), h.at("attempt").get<int>(), str(h, "worker"), str(h, "ms"));
    if (h.contains("summary")) s += "  " + str(h, "summary");
    if (h.contains("route")) s += "  -> " + str(h, "route");
    s += "\n";
  }
  if (!workflow && j.contains("result")) s += "result\n" + j.at("result").dump(2) + "\n";
  return s;
}

std::string render_stats(const std::string& stats_json) {
  const auto j = json::parse(stats_json);
  std::string s = fmt::format("{:<20} {:>8} {:>8} {:>10} {:>10}\n", "KIND", "QUEUED", "WORKERS", "CAPACITY", "IN_FLIGHT");
  for (const auto& [kind, k] : j.at("kinds").items()) {
    s += fmt::format("{:<20} {:>8} {:>8} {:>10} {:>10}\n", kind, k.at("queued").dump(), k.at("workers").dump(),
                     k.at("capacity").dump(), k.at("in_flight").dump());
  }
  s += fmt::format("\n{:<28} {:<16} {:>8} {:>10} {:>10}\n", "WORKER", "KIND", "CAPACITY", "IN_FLIGHT", "SERVED");
  for (const auto& w : j.at("workers")) {
    s += fmt::format("{:<28} {:<16} {:>8} {:>10} {:>10}{}\n", str(w, "worker"), str(w, "kind"), w.at("capacity").dump(),
                     w.at("in_flight").dump(), w.at("served").dump(), w.at("draining").get<bool>() ? " draining" : "");
  }
  s += fmt::format("\ncases active {}  tasks in flight {}  dead letters {}\n", j.at("cases_active").dump(),
                   j.at("in_flight").dump(), j.at("dead_letters").dump());
  s += "counters";
  for (const auto& [name, v] : j.at("counters").items()) s += fmt::format(" {}={}", name, v.dump());
  s += "\n";
  return s;
}

int run(const Options& o, const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << "casebusctl: missing command (submit FILE|-, stats); see --help\n";
    return 1;
  }
  const auto& cmd = args[0];
  const auto timeout = std::chrono::milliseconds(o.timeout_ms);
  if (cmd == "submit") {
    if (args.size() != 2) {
      err << "casebusctl: usage: casebusctl submit FILE|-\n";
      return 1;
    }
    std::string body;
    if (args[1] == "-") {
      std::stringstream ss;
      ss << in.rdbuf();
      body = ss.str();
    } else {
      std::ifstream f(args[1]);
      if (!f) {
        err << "casebusctl: cannot read " << args[1] << "\n";
        return 1;
      }
      std::stringstream ss;
      ss << f.rdbuf();
      body = ss.str();
    }
    bus::SyncBusClient client(o.broker);
    const auto r = client.submit(body, timeout);
    switch (r.status) {
      case bus::Outcome::Status::kCompleted: {
        // Resolved, escalated and rejected are outcomes of the workflow; failed is not.
        const bool failed = json::parse(r.body).at("status") == "failed";
        out << (o.json ? r.body + "\n" : render_case(r.body));
        return failed ? 4 : 0;
      }
      case bus::Outcome::Status::kRejected:
        err << "casebusctl: rejected: " << r.error.describe() << "\n";
        return 2;
      case bus::Outcome::Status::kTimeout:
        err << "casebusctl: no final answer within " << o.timeout_ms << " ms"
            << (r.case_id.empty() ? " (the broker did not acknowledge the case; is it running at " + o.broker + "?)"
                                  : " (case " + r.case_id + " was accepted and is still in progress)")
            << "\n";
        return 3;
      case bus::Outcome::Status::kReply:
        break;
    }
    return 1;
  }
  if (cmd == "stats") {
    if (args.size() != 1) {
      err << "casebusctl: usage: casebusctl stats\n";
      return 1;
    }
    bus::SyncBusClient client(o.broker);
    const auto r = client.stats(timeout);
    if (r.status != bus::Outcome::Status::kReply) {
      err << "casebusctl: no answer from the broker at " << o.broker << " within " << o.timeout_ms << " ms\n";
      return 3;
    }
    out << (o.json ? r.body + "\n" : render_stats(r.body));
    return 0;
  }
  err << "casebusctl: unknown command \"" << cmd << "\" (submit, stats)\n";
  return 1;
}

}  // namespace ctl
