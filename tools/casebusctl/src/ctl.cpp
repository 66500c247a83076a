#include "ctl.hpp"

#include "common/bus/client.hpp"
#include "common/cases/money.hpp"
#include "common/util/json.hpp"

#include <fmt/format.h>

#include <filesystem>
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

// "code: field: message", as common::Error::describe() writes it.
std::string render_error(const json& e) {
  if (auto f = e.find("field"); f != e.end() && f->is_string() && !f->get_ref<const std::string&>().empty()) {
    return fmt::format("{}: {}: {}", str(e, "code"), f->get<std::string>(), str(e, "message"));
  }
  return fmt::format("{}: {}", str(e, "code"), str(e, "message"));
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
    s += "error     " + render_error(*e) + "\n";
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
  // A case the broker could not restore when it restarted ends without a trail.
  for (const auto& h : j.value("trail", json::array())) {
    s += fmt::format("  hop {} {:<18} {:<10} attempt {} worker {} ({} ms)", h.at("hop").get<int>(), str(h, "agent"),
                     str(h, "outcome"), h.at("attempt").get<int>(), str(h, "worker"), str(h, "ms"));
    if (h.contains("summary")) s += "  " + str(h, "summary");
    if (h.contains("route")) s += "  -> " + str(h, "route");
    s += "\n";
    // Why an attempt failed, retried or was requeued: the operator needs it beside the attempt.
    if (auto e = h.find("error"); e != h.end() && e->is_object()) s += "        " + render_error(*e) + "\n";
  }
  // A failed case has a null result: its error says it all.
  if (auto r = j.find("result"); !workflow && r != j.end() && !r->is_null()) s += "result\n" + r->dump(2) + "\n";
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

std::string render_case_view(const std::string& view_json) {
  const auto j = json::parse(view_json);
  std::string s = "state     " + str(j, "state");
  if (j.contains("phase")) s += " (" + str(j, "phase") + ")";
  s += fmt::format("\nat        hop {} {}, attempt {}\n", str(j, "hop"), str(j, "agent"), str(j, "attempt"));
  if (auto e = j.find("error"); e != j.end() && e->is_object()) s += "error     " + render_error(*e) + "\n";
  const auto& c = j.at("case");
  if (c.is_null()) return s + "case      (no record kept)\n";
  return s + "\n" + render_case(c.dump());
}

std::string render_dead_letters(const std::string& list_json) {
  const auto j = json::parse(list_json);
  const auto& list = j.at("dead_letters");
  std::string s;
  constexpr const char* kRow = "{:<36} {:<16} {:<18} {:>7}  {:<20} {}\n";
  if (!list.empty()) s += fmt::format(kRow, "CASE", "TENANT", "AGENT", "ATTEMPT", "ERROR CODE", "AT");
  for (const auto& d : list) {
    s += fmt::format(kRow, str(d, "case_id"), str(d, "tenant"), str(d, "agent"), str(d, "attempt"),
                     str(d.at("error"), "code"), str(d, "at"));
  }
  const auto total = j.at("total").get<std::size_t>();
  s += fmt::format("{} dead letter{} in all\n", total, total == 1 ? "" : "s");
  return s;
}

namespace {

// Exit codes of the commands (ctl.hpp).
constexpr int kOk = 0, kUsage = 1, kRejected = 2, kNoAnswer = 3, kCaseFailed = 4;

// dlq.retry and dlq.discard answer {case_id, state}.
std::string render_control_ack(const std::string& ack_json) {
  const auto j = json::parse(ack_json);
  return fmt::format("case {} is now {}\n", str(j, "case_id"), str(j, "state"));
}

int usage(std::ostream& err, const char* line) {
  err << "casebusctl: usage: casebusctl " << line << "\n";
  return kUsage;
}

std::optional<std::string> read_all(const std::string& path, std::istream& in) {
  std::stringstream ss;
  if (path == "-") {
    ss << in.rdbuf();
    return ss.str();
  }
  std::ifstream f(path);
  if (!f) return std::nullopt;
  ss << f.rdbuf();
  return ss.str();
}

bus::SocketOptions socket_options(const Options& o) {
  bus::SocketOptions so;
  so.curve = bus::client_curve_options(o.curve);
  return so;
}

int keygen(const Options& o, const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() != 2) return usage(err, "keygen NAME [--out DIR]");
  const std::filesystem::path dir = o.out_dir.empty() ? std::filesystem::path(".") : std::filesystem::path(o.out_dir);
  if (!std::filesystem::is_directory(dir)) {
    err << "casebusctl: " << dir.string() << " is not a directory\n";
    return kUsage;
  }
  try {
    const auto keys = bus::generate_key_pair();
    const auto [key_path, pub_path] = bus::write_key_files(dir, args[1], keys);
    out << "secret key: " << key_path.string() << " (keep it on this host; mode 0600)\n"
        << "public key: " << pub_path.string() << "\n"
        << keys.public_key << "\n";
  } catch (const std::exception& e) {
    err << "casebusctl: " << e.what() << "\n";
    return kUsage;
  }
  return kOk;
}

int submit(const Options& o, const std::string& path, std::istream& in, std::ostream& out, std::ostream& err) {
  const auto body = read_all(path, in);
  if (!body) {
    err << "casebusctl: cannot read " << path << "\n";
    return kUsage;
  }
  bus::SyncBusClient client(o.broker, socket_options(o));
  const auto r = client.submit(*body, std::chrono::milliseconds(o.timeout_ms));
  switch (r.status) {
    case bus::Outcome::Status::kCompleted: {
      // Resolved, escalated and rejected are outcomes of the workflow; failed is not.
      const bool failed = json::parse(r.body).at("status") == "failed";
      out << (o.json ? r.body + "\n" : render_case(r.body));
      return failed ? kCaseFailed : kOk;
    }
    case bus::Outcome::Status::kRejected:
      err << "casebusctl: rejected: " << r.error.describe() << "\n";
      return kRejected;
    case bus::Outcome::Status::kTimeout:
      err << "casebusctl: no final answer within " << o.timeout_ms << " ms"
          << (r.case_id.empty() ? " (the broker did not acknowledge the case; is it running at " + o.broker + "?)"
                                : " (case " + r.case_id + " was accepted and is still in progress)")
          << "\n";
      return kNoAnswer;
    case bus::Outcome::Status::kReply:
      break;
  }
  return kUsage;
}

int stats(const Options& o, std::ostream& out, std::ostream& err) {
  bus::SyncBusClient client(o.broker, socket_options(o));
  const auto r = client.stats(std::chrono::milliseconds(o.timeout_ms));
  if (r.status != bus::Outcome::Status::kReply) {
    err << "casebusctl: no answer from the broker at " << o.broker << " within " << o.timeout_ms << " ms\n";
    return kNoAnswer;
  }
  out << (o.json ? r.body + "\n" : render_stats(r.body));
  return kOk;
}

// One control request (docs/protocol.md#control): the reply rendered, or raw with --json.
int control(const Options& o, const json& request, std::string (*render)(const std::string&), std::ostream& out,
            std::ostream& err) {
  bus::SyncBusClient client(o.broker, socket_options(o));
  const auto r = client.control(request.dump(), std::chrono::milliseconds(o.timeout_ms));
  switch (r.status) {
    case bus::Outcome::Status::kReply:
      out << (o.json ? r.body + "\n" : render(r.body));
      return kOk;
    case bus::Outcome::Status::kRejected:
      err << "casebusctl: rejected: " << r.error.describe() << "\n";
      return kRejected;
    case bus::Outcome::Status::kTimeout:
      err << "casebusctl: no answer from the broker at " << o.broker << " within " << o.timeout_ms << " ms\n";
      return kNoAnswer;
    case bus::Outcome::Status::kCompleted:
      break;
  }
  err << "casebusctl: the broker answered the control request with a case result\n";
  return kUsage;
}

int case_command(const Options& o, const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() != 3 || args[1] != "show") return usage(err, "case show ID");
  return control(o, {{"op", "case.show"}, {"case_id", args[2]}}, render_case_view, out, err);
}

int dlq_command(const Options& o, const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const std::string sub = args.size() > 1 ? args[1] : "";
  if (sub == "list") {
    if (args.size() != 2) return usage(err, "dlq list [--limit N]");
    json request{{"op", "dlq.list"}};
    if (o.limit) {
      // The broker refuses other limits too; checked here so that a typo is a usage error (1).
      if (*o.limit < 1 || *o.limit > 1000) {
        err << "casebusctl: --limit must be between 1 and 1000, got " << *o.limit << "\n";
        return kUsage;
      }
      request["limit"] = *o.limit;
    }
    return control(o, request, render_dead_letters, out, err);
  }
  if (sub != "show" && sub != "retry" && sub != "discard") return usage(err, "dlq list|show ID|retry ID|discard ID");
  if (args.size() != 3) return usage(err, ("dlq " + sub + " ID").c_str());
  return control(o, {{"op", "dlq." + sub}, {"case_id", args[2]}}, sub == "show" ? render_case_view : render_control_ack,
                 out, err);
}

std::string render_decision(const std::string& reply) {
  const auto j = json::parse(reply);
  std::string s = "case      " + j.at("case_id").get<std::string>() + "\n" + "decision  " + j.at("decision").get<std::string>() +
                  "\n" + "action    " + j.at("action").at("type").get<std::string>();
  if (j.at("action").contains("amount_minor")) {
    s += " " + std::to_string(j.at("action").at("amount_minor").get<std::int64_t>()) + " " +
         j.at("action").at("currency").get<std::string>() + " (minor units)";
  }
  s += "\nby        " + j.at("action").at("decided_by").get<std::string>() + "\n";
  if (j.contains("action_id")) s += "action_id " + j.at("action_id").get<std::string>() + "\n";
  return s;
}

int action_command(const Options& o, const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const std::string sub = args.size() > 1 ? args[1] : "";
  if ((sub != "approve" && sub != "reject") || args.size() != 4) return usage(err, "action approve|reject ID TYPE --by NAME");
  if (o.by.empty()) {
    err << "casebusctl: action " << sub << " needs --by NAME: who decides (recorded with the decision)\n";
    return kUsage;
  }
  return control(o, {{"op", "action." + sub}, {"case_id", args[2]}, {"action", args[3]}, {"by", o.by}}, render_decision, out, err);
}

}  // namespace

int run(const Options& o, const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << "casebusctl: missing command (submit, stats, case, dlq, action, keygen); see --help\n";
    return kUsage;
  }
  const auto& cmd = args[0];
  if (o.limit && !(cmd == "dlq" && args.size() > 1 && args[1] == "list")) {
    err << "casebusctl: --limit applies to dlq list only\n";
    return kUsage;
  }
  if (!o.by.empty() && cmd != "action") {
    err << "casebusctl: --by applies to action approve|reject only\n";
    return kUsage;
  }
  if (!o.out_dir.empty() && cmd != "keygen") {
    err << "casebusctl: --out applies to keygen only\n";
    return kUsage;
  }
  if (cmd == "submit") return args.size() == 2 ? submit(o, args[1], in, out, err) : usage(err, "submit FILE|-");
  if (cmd == "stats") return args.size() == 1 ? stats(o, out, err) : usage(err, "stats");
  if (cmd == "case") return case_command(o, args, out, err);
  if (cmd == "dlq") return dlq_command(o, args, out, err);
  if (cmd == "keygen") return keygen(o, args, out, err);
  if (cmd == "action") return action_command(o, args, out, err);
  err << "casebusctl: unknown command \"" << cmd << "\" (submit, stats, case, dlq, action, keygen)\n";
  return kUsage;
}

}  // namespace ctl
