// The durable side of the core (docs/storage.md): what goes to the store and when, recovery at
// start, idempotent resubmission, and the control requests (case lookup, dead letters).
#include "core.hpp"

#include "common/bus/socket.hpp"
#include "common/util/check.hpp"
#include "common/util/json.hpp"
#include "common/util/log.hpp"

namespace broker {

using common::Errc;
using common::Error;
using common::Now;
using common::make_error;
using nlohmann::json;
namespace bus = common::bus;
namespace cjson = common::json;

namespace {

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

const char* op_hint(const json& reply) {
  return reply.contains("dead_letters") ? "; ask for fewer with limit" : "";
}

}  // namespace

void Core::mark(Case& c, std::uint8_t what) {
  if (c.dirty == 0) dirty_.push_back(c.id);
  c.dirty |= what;
}

std::size_t Core::tasks_in_flight() const {
  std::size_t n = 0;
  for (const auto& [id, t] : tasks_) n += t.case_id.empty() ? 0 : 1;
  return n;
}

std::string Core::record_json(const Case& c) const {
  std::string s;
  s.reserve(256 + c.last_result.size() + c.trail.size() * 160);
  cjson::ObjectWriter w(s);
  w.string("ref", c.ref).string("trace", c.trace).raw("last_result", c.last_result);
  // The context in order (a JSON object would not keep it).
  w.key("context") += '[';
  for (std::size_t i = 0; i < c.context.size(); ++i) {
    if (i) s += ',';
    s += '[';
    cjson::append_string(s, c.context[i].first);
    s += ',';
    s += c.context[i].second;
    s += ']';
  }
  s += ']';
  w.key("trail");
  append_trail(s, c.trail);
  if (c.flow) {
    const auto& f = *c.flow;
    w.raw("flow", dump(json{{"workflow", f.workflow->name},
                            {"status", f.status},
                            {"reason", f.reason},
                            {"state", common::policy::state_to_json(f.state)}}));
  }
  w.close();
  return s;
}

StoredCase Core::stored_row(const Case& c, common::WallMs now, bool with_payload, bool with_record) const {
  StoredCase r;
  r.id = c.id;
  r.tenant = c.tenant;
  r.idempotency_key = c.idempotency_key;
  r.agent = c.to;
  r.status = "active";
  r.hop = c.hop;
  r.attempt = c.attempt;
  r.dispatched = c.phase == Phase::kDispatched;
  r.created_at = c.created_at;
  r.deadline_at = c.deadline_wall;
  r.updated_at = now;
  r.payload_hash = c.payload_hash;
  r.client = c.client_peer;
  r.corr = c.corr;
  if (with_payload) r.payload = c.payload;
  if (with_record) r.record = record_json(c);
  return r;
}

void Core::persist(const Now& now) {
  for (const auto& id : dirty_) {
    auto it = cases_.find(id);
    if (it == cases_.end()) continue;  // ended: finish() wrote it
    Case& c = it->second;
    if (c.dirty == 0) continue;
    if (!c.stored) {
      store_->insert(stored_row(c, now.wall, true, true));
      c.stored = true;
    } else if (c.dirty & kFull) {
      store_->snapshot(stored_row(c, now.wall, false, true));
    } else {
      store_->progress(stored_row(c, now.wall, false, false));
    }
    c.dirty = 0;
  }
  dirty_.clear();
}

void Core::on_committed() {
  unacked_.clear();
  decided_.clear();
}

std::unordered_set<std::string> Core::on_commit_failed(const Error& error, const Now& now, Outbox& out) {
  std::unordered_set<std::string> gone;
  const auto refusal = make_error(Errc::kStorageUnavailable, "",
                                  "the broker could not store the case (" + error.message + "); nothing was accepted, submit again later");
  for (auto& u : unacked_) {
    gone.insert(u.case_id);
    ++counters_.storage_refused;
    if (counters_.accepted > 0) --counters_.accepted;
    out.push_back({Side::kClient, u.peer, bus::encode_rejected(u.corr, refusal)});
    if (auto it = cases_.find(u.case_id); it != cases_.end()) {
      log_->warn("case refused, store write failed case_id={} tenant={}", u.case_id, it->second.tenant);
      release(it->second, now, out);
    }
  }
  unacked_.clear();
  store_->drop(gone);
  return gone;
}

void Core::reattach(Case& c, std::string_view peer, std::string_view corr, Outbox& out) {
  c.client_peer = std::string(peer);
  c.corr = std::string(corr);
  mark(c, kFull);
  log_->debug("submission matched a running case case_id={} tenant={}", c.id, c.tenant);
  out.push_back({Side::kClient, std::string(peer), bus::encode_accepted(corr, c.id), true, c.id});
}

common::Result<Core::Case> Core::restore(const StoredCase& r, const Now& now) {
  Case c;
  c.id = r.id;
  c.tenant = r.tenant;
  c.idempotency_key = r.idempotency_key;
  c.created_at = r.created_at;
  c.deadline_wall = r.deadline_at;
  c.deadline = now.mono + std::chrono::milliseconds(r.deadline_at - now.wall);
  c.payload = r.payload;
  c.payload_hash = r.payload_hash;
  c.client_peer = r.client;
  c.corr = r.corr;
  c.to = r.agent;
  c.hop = r.hop;
  c.attempt = r.attempt;
  c.stored = true;
  c.phase = Phase::kNone;
  c.enqueued_at = c.dispatched_at = now.mono;  // no times survive a restart: the trail shows 0 ms
  if (r.dispatched) c.task_id = r.id + '.' + std::to_string(r.hop) + '.' + std::to_string(r.attempt);  // the attempt that was out
  try {
    const auto rec = json::parse(r.record);
    c.ref = rec.at("ref").get<std::string>();
    c.trace = rec.at("trace").get<std::string>();
    c.last_result = dump(rec.at("last_result"));
    for (const auto& kv : rec.at("context")) c.context.emplace_back(kv.at(0).get<std::string>(), dump(kv.at(1)));
    for (const auto& h : rec.at("trail")) {
      Hop hop;
      hop.hop = h.at("hop").get<int>();
      hop.agent = h.at("agent").get<std::string>();
      hop.worker = h.at("worker").get<std::string>();
      hop.task_id = h.at("task_id").get<std::string>();
      hop.attempt = h.at("attempt").get<int>();
      hop.outcome = h.at("outcome").get<std::string>();
      hop.queued_ms = h.at("queued_ms").get<double>();
      hop.run_ms = h.at("ms").get<double>();
      if (auto e = h.find("error"); e != h.end()) hop.error_json = dump(*e);
      if (auto e = h.find("summary"); e != h.end()) hop.summary = e->get<std::string>();
      if (auto e = h.find("route"); e != h.end()) hop.route = e->get<std::string>();
      if (auto e = h.find("violations"); e != h.end()) hop.violations_json = dump(*e);
      if (auto e = h.find("model_call"); e != h.end()) hop.model_call_json = dump(*e);
      c.trail.push_back(std::move(hop));
    }
    if (auto fl = rec.find("flow"); fl != rec.end()) {
      const auto name = fl->at("workflow").get<std::string>();
      auto wit = settings_.workflows->find(name);
      if (wit == settings_.workflows->end()) {
        return make_error(Errc::kInvalidField, "workflow", "workflow " + name + " is no longer configured");
      }
      auto f = std::make_unique<Flow>();
      f->workflow = &wit->second;
      f->payload_doc = json::parse(c.payload);
      auto payload = common::cases::parse_payload(f->payload_doc);
      if (!payload) return payload.error();
      f->payload = std::move(*payload);
      f->state = common::policy::state_from_json(fl->at("state"));
      f->status = fl->at("status").get<std::string>();
      f->reason = fl->at("reason").get<std::string>();
      c.flow = std::move(f);
    }
  } catch (const std::exception& e) {
    return make_error(Errc::kInternal, "record", std::string("the stored case cannot be read: ") + e.what());
  }
  return c;
}

Core::Case& Core::admit(Case&& c) {
  deadlines_.emplace(c.deadline, c.id);
  if (!c.idempotency_key.empty()) keys_[idem_index(c.tenant, c.idempotency_key)] = c.id;
  auto [it, inserted] = cases_.emplace(c.id, std::move(c));
  CASEBUS_CHECK(inserted, "case restored twice: " + it->first);
  return it->second;
}

std::size_t Core::recover(const Now& now, Outbox& out) {
  std::vector<StoredCase> rows;
  store_->load_active([&](StoredCase&& r) { rows.push_back(std::move(r)); });
  std::size_t requeued = 0, unreadable = 0;
  for (auto& row : rows) {
    auto restored = restore(row, now);
    if (!restored) {
      // Cannot be resumed (its workflow is gone, or the record does not read): a dead letter,
      // with the reason, for a person to look at.
      ++unreadable;
      log_->error("stored case cannot be resumed case_id={} tenant={} err={}", row.id, row.tenant, restored.error().describe());
      row.status = "dead";
      row.outcome = "failed";
      row.finished_at = now.wall;
      row.updated_at = now.wall;
      row.error = restored.error().to_json();
      json result{{"v", 1}, {"type", "case_result"}, {"case_id", row.id}, {"tenant", row.tenant}, {"status", "failed"},
                  {"error", json::parse(row.error)}};
      row.result = dump(result);
      store_->finish(std::move(row));
      ++counters_.dead_lettered;
      continue;
    }
    const bool was_out = row.dispatched;
    Case& c = admit(std::move(*restored));
    ++counters_.recovered;
    if (was_out) {
      // The task may have run, or not: it goes again, as attempt + 1, under the usual limits. The
      // agent's answer to the old attempt, if it ever comes, is ignored.
      ++requeued;
      ++counters_.requeued;
      retry_or_dead_letter(c, make_error(Errc::kAgentError, "broker", "the broker restarted while the task was out"), true,
                           true, now, out);
    } else {
      enqueue(c, now, false);
    }
  }
  log_->info("cases recovered cases={} requeued={} unreadable={}", rows.size() - unreadable, requeued, unreadable);
  return rows.size() - unreadable;
}

// ---------------------------------------------------------------------------------------------
// The outbox (docs/event-bus.md#outbox): what the core banking systems act on. No customer text:
// ids, statuses, the intent and risk, and the actions with their amounts.

namespace {

// An approved_action outbox message (docs/event-bus.md): by the policy (approver empty) or by a
// person. action_id is <case id>:<position in approved_actions>, for consumers to deduplicate on.
json approved_action_message(const std::string& case_id, const std::string& tenant, const std::string& idempotency_key,
                             const std::string& customer_ref, std::size_t position, const json& action,
                             const std::string& approver, const std::string& when) {
  json a{{"v", 1},
         {"type", "approved_action"},
         {"action_id", case_id + ":" + std::to_string(position)},
         {"case_id", case_id},
         {"tenant", tenant},
         {"action", action},
         {"approved_by", approver.empty() ? "policy" : "person"},
         {"approved_at", when}};
  if (!approver.empty()) a["approver"] = approver;
  if (!idempotency_key.empty()) a["idempotency_key"] = idempotency_key;
  if (!customer_ref.empty()) a["customer_ref"] = customer_ref;
  return a;
}

}  // namespace

void Core::write_outbox(const Case& c, const std::string& outcome, const common::Error* error, common::WallMs at) {
  std::string when;
  common::append_rfc3339(when, at);
  json approved = json::array(), pending = json::array();
  json msg{{"v", 1}, {"type", "case_outcome"}, {"case_id", c.id}, {"tenant", c.tenant}, {"status", outcome}};
  if (!c.idempotency_key.empty()) msg["idempotency_key"] = c.idempotency_key;
  if (!c.ref.empty()) msg["ref"] = c.ref;
  if (c.flow) {
    const auto& st = c.flow->state;
    msg["workflow"] = c.flow->workflow->name;
    msg["kind"] = std::string(common::cases::to_string(c.flow->payload.kind));
    if (!c.flow->payload.customer_ref.empty()) msg["customer_ref"] = c.flow->payload.customer_ref;
    if (st.intent) msg["intent"] = *st.intent;
    if (st.risk_level) msg["risk_level"] = *st.risk_level;
    if (st.payment_decision) msg["payment_decision"] = *st.payment_decision;
    for (const auto& a : st.approved) approved.push_back(common::policy::to_json(a));
    for (const auto& a : st.pending) pending.push_back(common::policy::to_json(a));
    if (st.review.is_object()) {
      json review = json::object();
      for (const char* k : {"queue", "priority", "sla_deadline"}) {
        if (auto it = st.review.find(k); it != st.review.end()) review[k] = *it;
      }
      msg["review"] = std::move(review);
    }
  }
  msg["approved_actions"] = approved;
  msg["pending_actions"] = pending;
  if (error) msg["error"] = {{"code", std::string(common::to_string(error->code))}, {"field", error->field}};
  msg["finished_at"] = when;
  store_->outbox_add({0, c.id, c.tenant, "outcome", dump(msg), at});
  // One entry per approved action, with an id the executing system can deduplicate on.
  const std::string customer_ref = c.flow ? c.flow->payload.customer_ref : "";
  for (std::size_t i = 0; i < approved.size(); ++i) {
    const json a = approved_action_message(c.id, c.tenant, c.idempotency_key, customer_ref, i + 1, approved[i], "", when);
    store_->outbox_add({0, c.id, c.tenant, "action", dump(a), at});
  }
}

// A person's decision on an action the policy held for approval (docs/policy.md#a-persons-decision).
// The final case as stored changes (the action moves from pending_actions to approved_actions or
// rejected_actions, with who decided and when); an approval goes to the outbox. The reply waits for
// the commit.
void Core::decide(const std::string& op, const std::string& case_id, const std::string& tenant, const std::string& action,
                  const std::string& by, const common::Now& now, const std::function<void(const json&)>& reply,
                  const std::function<void(const Error&)>& fail) {
  if (cases_.count(case_id)) {
    return fail(make_error(Errc::kNotFound, "case_id", "case " + case_id + " is still in progress; decide once it has ended"));
  }
  auto row = store_->get(case_id);
  if (!row || row->status != "done" || row->result.empty() || (!tenant.empty() && row->tenant != tenant)) {
    return fail(make_error(Errc::kNotFound, "case_id", "no ended case " + case_id));
  }
  if (decided_.count(case_id)) {
    return fail(make_error(Errc::kBusy, "case_id", "another decision on case " + case_id + " is being stored; try again"));
  }
  json result = json::parse(row->result);
  auto pending = result.find("pending_actions");
  if (pending == result.end() || !pending->is_array()) {
    return fail(make_error(Errc::kNotFound, "action", "case " + case_id + " has no actions awaiting approval"));
  }
  auto it = std::find_if(pending->begin(), pending->end(), [&](const json& a) { return a.value("type", "") == action; });
  if (it == pending->end()) {
    return fail(make_error(Errc::kNotFound, "action", "case " + case_id + " has no pending " + action + " action"));
  }
  std::string when;
  common::append_rfc3339(when, now.wall);
  json decided = *it;
  pending->erase(it);
  decided["decided_by"] = by;
  decided["decided_at"] = when;
  const bool approve = op == "action.approve";
  auto& list = result[approve ? "approved_actions" : "rejected_actions"];
  if (!list.is_array()) list = json::array();
  list.push_back(decided);
  store_->update_result(case_id, dump(result), now.wall);
  decided_.insert(case_id);
  log_->info("action {} case_id={} tenant={} action={} by={}", approve ? "approved" : "rejected", case_id, row->tenant, action, by);
  std::string action_id;
  if (approve) {
    action_id = case_id + ":" + std::to_string(list.size());
    if (settings_.outbox) {
      const json a = approved_action_message(case_id, row->tenant, row->idempotency_key, "", list.size(), decided, by, when);
      store_->outbox_add({0, case_id, row->tenant, "action", dump(a), now.wall});
    }
  }
  json r{{"case_id", case_id}, {"decision", approve ? "approved" : "rejected"}, {"action", decided}};
  if (!action_id.empty()) r["action_id"] = action_id;
  reply(r);
}

// ---------------------------------------------------------------------------------------------
// Control requests (docs/protocol.md#control): one JSON object in, one JSON object out.

void Core::control(std::string_view peer, std::string_view corr, std::string_view request, const Now& now, Outbox& out) {
  const auto fail = [&](const Error& e) {
    out.push_back({Side::kClient, std::string(peer), bus::encode_rejected(corr, e)});
  };
  const auto reply = [&](const json& j, bool after_commit) {
    std::string text = dump(j);
    if (text.size() + 64 > settings_.max_message_bytes) {
      // The client's transport would drop the connection for it.
      return fail(make_error(Errc::kTooLarge, "", fmt::format("the answer is {} bytes, over the {} byte limit{}", text.size(),
                                                              settings_.max_message_bytes, op_hint(j))));
    }
    out.push_back({Side::kClient, std::string(peer), bus::encode_control_reply(corr, text), after_commit, {}});
  };
  json req;
  try {
    req = json::parse(request);
  } catch (const json::exception&) {
    return fail(make_error(Errc::kMalformed, "request", "the control request is not JSON"));
  }
  std::string op, case_id, tenant, owner, action, by;
  std::int64_t limit = 100, lease_ms = 30000;
  std::vector<std::int64_t> seqs;
  try {
    if (!req.is_object()) throw cjson::FieldError{"request", "must be a JSON object"};
    cjson::StrictObject o(req, "");
    op = cjson::string_at(o.need("op"), "op", 32);
    if (const auto* v = o.find("case_id")) case_id = cjson::string_at(*v, "case_id", 128);
    if (const auto* v = o.find("tenant")) tenant = cjson::string_at(*v, "tenant", 128);
    if (const auto* v = o.find("limit")) limit = static_cast<std::int64_t>(cjson::number_at(*v, "limit", 1, 1000));
    if (const auto* v = o.find("owner")) owner = cjson::string_at(*v, "owner", 128);
    if (const auto* v = o.find("action")) action = cjson::string_at(*v, "action", 64);
    if (const auto* v = o.find("by")) by = cjson::string_at(*v, "by", 128);
    if (const auto* v = o.find("lease_ms")) lease_ms = static_cast<std::int64_t>(cjson::number_at(*v, "lease_ms", 1000, 600000));
    if (const auto* v = o.find("seqs")) {
      if (!v->is_array() || v->size() > 1000) throw cjson::FieldError{"seqs", "must be an array of at most 1000 sequence numbers"};
      for (const auto& x : *v) {
        if (!x.is_number_integer()) throw cjson::FieldError{"seqs", "must be an array of integers"};
        seqs.push_back(x.get<std::int64_t>());
      }
    }
    o.done();
  } catch (const cjson::FieldError& e) {
    return fail(make_error(Errc::kInvalidField, e.field, e.message));
  }
  static constexpr std::string_view kOps[] = {"case.show",    "dlq.list",   "dlq.show",       "dlq.retry",    "dlq.discard",
                                              "outbox.claim", "outbox.ack", "action.approve", "action.reject"};
  constexpr const char* kOpList =
      "case.show, dlq.list, dlq.show, dlq.retry, dlq.discard, outbox.claim, outbox.ack, action.approve, action.reject";
  if (std::find(std::begin(kOps), std::end(kOps), op) == std::end(kOps)) {
    return fail(make_error(Errc::kInvalidField, "op", "unknown op \"" + op + "\" (" + kOpList + ")"));
  }
  if (op.starts_with("outbox.")) {
    if (!settings_.outbox) return fail(make_error(Errc::kNotFound, "op", "the outbox is off (broker setting outbox.enabled)"));
    if (owner.empty()) return fail(make_error(Errc::kInvalidField, "owner", "required for " + op));
    try {
      if (op == "outbox.claim") {
        json items = json::array();
        const auto budget = settings_.max_message_bytes > 4096 ? settings_.max_message_bytes - 4096 : 1024;
        for (auto& e : store_->outbox_claim(owner, static_cast<std::size_t>(limit), budget, now.wall, lease_ms)) {
          items.push_back({{"seq", e.seq}, {"kind", e.kind}, {"case_id", e.case_id}, {"tenant", e.tenant},
                           {"body", json::parse(e.body)}});
        }
        return reply({{"items", std::move(items)}, {"lease_ms", lease_ms}}, false);
      }
      if (seqs.empty()) return fail(make_error(Errc::kInvalidField, "seqs", "required for outbox.ack"));
      const auto n = store_->outbox_ack(owner, seqs);
      return reply({{"acked", n}}, false);
    } catch (const std::exception& e) {
      log_->error("outbox request failed op={} err={}", op, e.what());
      return fail(make_error(Errc::kStorageUnavailable, "", "the case store cannot be written right now"));
    }
  }
  if (op.starts_with("action.")) {
    if (case_id.empty()) return fail(make_error(Errc::kInvalidField, "case_id", "required for " + op));
    if (action.empty()) return fail(make_error(Errc::kInvalidField, "action", "required for " + op + ": the pending action's type"));
    if (by.empty()) return fail(make_error(Errc::kInvalidField, "by", "required for " + op + ": who decides"));
    try {
      return decide(op, case_id, tenant, action, by, now, [&](const json& j) { reply(j, true); }, fail);
    } catch (const std::exception& e) {
      log_->error("store read failed op={} err={}", op, e.what());
      return fail(make_error(Errc::kStorageUnavailable, "", "the case store cannot be read right now"));
    }
  }
  const bool needs_id = op != "dlq.list";
  if (needs_id && case_id.empty()) return fail(make_error(Errc::kInvalidField, "case_id", "required for " + op));
  try {
    if (op == "dlq.list") {
      json list = json::array();
      for (const auto& d : store_->dead_letters(static_cast<std::size_t>(limit))) {
        std::string at;
        common::append_rfc3339(at, d.at);
        list.push_back({{"case_id", d.case_id}, {"tenant", d.tenant}, {"agent", d.agent}, {"attempt", d.attempt},
                        {"error", json::parse(d.error)}, {"at", at}});
      }
      return reply({{"dead_letters", std::move(list)}, {"total", store_->dead_letter_count()}}, false);
    }
    if (op == "case.show" || op == "dlq.show") {
      if (auto it = cases_.find(case_id); it != cases_.end() && (tenant.empty() || it->second.tenant == tenant)) {
        if (op == "dlq.show") return fail(make_error(Errc::kNotFound, "case_id", "case " + case_id + " is active, not a dead letter"));
        const Case& c = it->second;
        auto view = json::parse(case_result_json(c, nullptr, now, true));
        view["status"] = "active";
        view.erase("finished_at");
        return reply({{"state", "active"}, {"agent", c.to}, {"hop", c.hop}, {"attempt", c.attempt},
                      {"phase", c.phase == Phase::kDispatched ? "dispatched" : c.phase == Phase::kRetryWait ? "retry_wait" : "queued"},
                      {"case", std::move(view)}},
                     false);
      }
      auto row = store_->get(case_id);
      if (!row || row->status == "active" || (!tenant.empty() && row->tenant != tenant) ||
          (op == "dlq.show" && row->status != "dead")) {
        return fail(make_error(Errc::kNotFound, "case_id",
                               op == "dlq.show" ? "no dead letter " + case_id : "no case " + case_id + " (unknown, or pruned)"));
      }
      const std::string state = row->status == "done" ? "ended" : row->status == "dead" ? "dead_letter" : "discarded";
      json j{{"state", state}, {"agent", row->agent}, {"hop", row->hop}, {"attempt", row->attempt},
             {"case", row->result.empty() ? json(nullptr) : json::parse(row->result)}};
      if (!row->error.empty()) j["error"] = json::parse(row->error);
      return reply(j, false);
    }
    if (op == "dlq.retry" || op == "dlq.discard") {
      if (cases_.count(case_id)) return fail(make_error(Errc::kNotFound, "case_id", "case " + case_id + " is active, not a dead letter"));
      auto row = store_->get(case_id);
      if (!row || row->status != "dead") return fail(make_error(Errc::kNotFound, "case_id", "no dead letter " + case_id));
      if (op == "dlq.discard") {
        store_->discard(case_id, now.wall);
        log_->info("dead letter discarded case_id={} tenant={}", case_id, row->tenant);
        return reply({{"case_id", case_id}, {"state", "discarded"}}, true);
      }
      if (!accepting_) return fail(make_error(Errc::kShuttingDown, "", "the broker is shutting down"));
      auto restored = restore(*row, now);
      if (!restored) return fail(restored.error());
      // Again from the hop that failed, with fresh attempts and a fresh deadline. Nobody awaits
      // the final case: it is stored (case.show) and logged.
      Case c = std::move(*restored);
      c.attempt = 1;
      c.deadline_wall = now.wall + settings_.default_deadline.count();
      c.deadline = now.mono + settings_.default_deadline;
      c.client_peer.clear();
      c.corr.clear();
      if (c.flow) c.flow->status.clear();
      Case& live = admit(std::move(c));
      mark(live, kFull);
      log_->info("dead letter retried case_id={} tenant={} agent={} hop={}", live.id, live.tenant, live.to, live.hop);
      const std::string kind = live.to;
      enqueue(live, now, false);
      pump(kind, now, out);
      return reply({{"case_id", case_id}, {"state", "active"}}, true);
    }
  } catch (const std::exception& e) {
    log_->error("store read failed op={} err={}", op, e.what());
    return fail(make_error(Errc::kStorageUnavailable, "", "the case store cannot be read right now"));
  }
  fail(make_error(Errc::kInvalidField, "op", "unknown op \"" + op + "\" (" + kOpList + ")"));
}

}  // namespace broker
