#include "core.hpp"

#include "common/bus/socket.hpp"
#include "common/util/check.hpp"
#include "common/util/ids.hpp"
#include "common/util/json.hpp"
#include "common/util/log.hpp"

#include <algorithm>

namespace broker {

using common::Errc;
using common::Error;
using common::MonoTime;
using common::Now;
using common::make_error;
namespace bus = common::bus;
namespace cjson = common::json;

namespace {

double ms_between(MonoTime a, MonoTime b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

void append_ms(std::string& out, double ms) {
  out += fmt::format("{:.3f}", ms);
}

}  // namespace

Core::Core(CoreSettings settings, Store* store) : settings_(std::move(settings)), log_(common::log::get("broker")) {
  if (!settings_.workflows) settings_.workflows = std::make_shared<const Workflows>();
  if (!settings_.policy) settings_.policy = std::make_shared<const common::policy::Policy>(common::policy::default_config());
  if (!store) {
    StorageSettings memory;
    memory.mode = "memory";
    memory.max_ended_cases = 10000;
    own_store_ = Store::open(memory);
    store = own_store_.get();
  }
  store_ = store;
}

Core::~Core() = default;

// ---------------------------------------------------------------------------------------------
// Clients

void Core::on_client(std::string_view peer, bus::FrameViews frames, const Now& now, Outbox& out) {
  auto msg = bus::decode_client_message(frames);
  if (!msg) {
    ++counters_.malformed;
    const auto corr = bus::correlation_of(frames);
    log_->warn("malformed client message peer={} err={}", bus::hex(peer), msg.error().describe());
    if (!corr.empty()) {
      ++counters_.rejected;
      reject(peer, corr, msg.error(), out);
    } else {
      out.push_back({Side::kClient, std::string(peer), bus::encode_client_error(msg.error())});
    }
    return;
  }
  if (auto* s = std::get_if<bus::SubmitMsg>(&*msg)) {
    submit(peer, *s, now, out);
  } else if (auto* st = std::get_if<bus::StatsMsg>(&*msg)) {
    out.push_back({Side::kClient, std::string(peer), bus::encode_stats_reply(st->corr, stats_json())});
  } else if (auto* ctl = std::get_if<bus::ControlMsg>(&*msg)) {
    control(peer, ctl->corr, ctl->request, now, out);
  }
}

void Core::reject(std::string_view peer, std::string_view corr, const Error& e, Outbox& out) {
  out.push_back({Side::kClient, std::string(peer), bus::encode_rejected(corr, e)});
}

void Core::submit(std::string_view peer, const bus::SubmitMsg& m, const Now& now, Outbox& out) {
  if (!accepting_) {
    ++counters_.rejected;
    reject(peer, m.corr, make_error(Errc::kShuttingDown, "", "the broker is shutting down; submit again later"), out);
    return;
  }
  if (!store_->healthy()) {
    ++counters_.storage_refused;
    reject(peer, m.corr,
           make_error(Errc::kStorageUnavailable, "", "the broker cannot store new cases right now (" + store_->last_error() +
                                                         "); nothing was accepted, submit again later"),
           out);
    return;
  }
  auto env = codec_.decode(m.envelope);
  if (!env) {
    ++counters_.rejected;
    log_->debug("submission rejected peer={} err={}", bus::hex(peer), env.error().describe());
    reject(peer, m.corr, env.error(), out);
    return;
  }
  if (env->type != bus::EnvelopeType::kCase) {
    ++counters_.rejected;
    reject(peer, m.corr, make_error(Errc::kInvalidField, "type", "a submission must be of type \"case\""), out);
    return;
  }
  // The same idempotency key from the same tenant is the same case, across restarts, for as long
  // as the store keeps it: the submitter gets that case's id (and its final case when it has
  // ended), and a running case answers the newest submitter.
  // Only keyed submissions can be compared with an earlier one.
  const std::uint64_t hash = env->idempotency_key.empty() ? 0 : payload_hash(env->payload);
  if (!env->idempotency_key.empty()) {
    const auto reused = [&] {
      ++counters_.rejected;
      reject(peer, m.corr,
             make_error(Errc::kDuplicate, "idempotency_key", "this idempotency key was already used with a different payload"),
             out);
    };
    if (auto kit = keys_.find(idem_index(env->tenant, env->idempotency_key)); kit != keys_.end()) {
      auto cit = cases_.find(kit->second);
      if (cit != cases_.end()) {
        if (cit->second.payload_hash != hash) return reused();
        ++counters_.duplicates;
        reattach(cit->second, peer, m.corr, out);
        return;
      }
    }
    std::optional<Store::KeyHit> hit;
    try {
      hit = store_->find_key(env->tenant, env->idempotency_key);
    } catch (const std::exception& e) {
      ++counters_.storage_refused;
      log_->error("store read failed err={}", e.what());
      reject(peer, m.corr, make_error(Errc::kStorageUnavailable, "", "the case store cannot be read; submit again later"), out);
      return;
    }
    if (hit && hit->status == "active") {
      // Stored as running but no longer here: it ended in this very turn and its end is not
      // committed yet. Its final case is a moment away; a new case must not take its key.
      ++counters_.busy;
      reject(peer, m.corr, make_error(Errc::kBusy, "idempotency_key", "the case with this idempotency key is finishing; submit again"), out);
      return;
    }
    if (hit) {
      if (hit->payload_hash != hash) return reused();
      ++counters_.duplicates;
      out.push_back({Side::kClient, std::string(peer), bus::encode_accepted(m.corr, hit->case_id), true, hit->case_id});
      if (!hit->result.empty()) {
        out.push_back({Side::kClient, std::string(peer), bus::encode_result(m.corr, hit->result), true, hit->case_id});
      }
      return;
    }
  }
  common::WallMs deadline = env->deadline ? std::min(env->deadline, now.wall + settings_.max_deadline.count())
                                          : now.wall + settings_.default_deadline.count();
  if (deadline <= now.wall) {
    ++counters_.rejected;
    reject(peer, m.corr, make_error(Errc::kDeadlineExceeded, "deadline", "the deadline has already passed"), out);
    return;
  }
  if (env->created_at && env->created_at >= deadline) {
    ++counters_.rejected;
    reject(peer, m.corr, make_error(Errc::kInvalidField, "created_at", "must be earlier than the deadline"), out);
    return;
  }
  // A workflow case: the payload must be a valid case (docs/cases.md), and the workflow's start
  // routes choose the first agent kind (or end the case at once).
  std::unique_ptr<Flow> flow;
  const Route* start = nullptr;
  std::size_t start_index = 0;
  if (auto wit = settings_.workflows->find(env->to); wit != settings_.workflows->end()) {
    if (env->context != "{}") {
      ++counters_.rejected;
      reject(peer, m.corr, make_error(Errc::kInvalidField, "context", "must be empty for a workflow case: agents' results fill it"), out);
      return;
    }
    flow = std::make_unique<Flow>();
    flow->workflow = &wit->second;
    try {
      flow->payload_doc = nlohmann::json::parse(env->payload);
    } catch (const nlohmann::json::exception& e) {
      ++counters_.rejected;
      reject(peer, m.corr, make_error(Errc::kMalformed, "payload", e.what()), out);
      return;
    }
    auto payload = common::cases::parse_payload(flow->payload_doc);
    if (!payload) {
      ++counters_.rejected;
      log_->debug("workflow case rejected peer={} err={}", bus::hex(peer), payload.error().describe());
      reject(peer, m.corr, payload.error(), out);
      return;
    }
    flow->payload = std::move(*payload);
    flow->state = common::policy::initial_state(flow->payload);
    start = &choose(wit->second.start, flow->payload_doc, nullptr, flow->state.view(), start_index);
    env->to = start->to;  // empty when the start route ends the case
  }
  // Look up, don't create: a refused submission must leave nothing behind.
  const auto kit = kinds_.find(env->to);
  const std::size_t queued = kit == kinds_.end() ? 0 : kit->second.queued;
  if (queued >= settings_.queue_limit || cases_.size() >= settings_.max_cases) {
    ++counters_.busy;
    const bool queue_full = queued >= settings_.queue_limit;
    reject(peer, m.corr,
           make_error(Errc::kBusy, queue_full ? "to" : "",
                      queue_full ? "the queue for agent kind " + env->to + " is full; retry later"
                                 : "the broker holds its maximum number of cases; retry later"),
           out);
    return;
  }

  std::string id = common::new_case_id();
  Case c;
  c.id = id;
  c.tenant = std::move(env->tenant);
  c.trace = env->trace.empty() ? common::new_traceparent() : std::move(env->trace);
  c.idempotency_key = std::move(env->idempotency_key);
  c.ref = std::move(env->id);
  c.created_at = env->created_at ? env->created_at : now.wall;
  c.deadline_wall = deadline;
  c.deadline = now.mono + std::chrono::milliseconds(deadline - now.wall);
  c.payload = std::move(env->payload);
  if (env->context != "{}") {
    auto members = codec_.split_object(env->context);
    if (members) {
      // Duplicate keys: the last one wins, as in most JSON readers.
      for (auto& kv : *members) {
        std::erase_if(c.context, [&](const auto& e) { return e.first == kv.first; });
        c.context.push_back(std::move(kv));
      }
    }
  }
  c.client_peer = std::string(peer);
  c.corr = std::string(m.corr);
  c.to = std::move(env->to);
  c.flow = std::move(flow);
  c.payload_hash = hash;
  deadlines_.emplace(c.deadline, id);
  if (!c.idempotency_key.empty()) keys_[idem_index(c.tenant, c.idempotency_key)] = id;
  auto [it, inserted] = cases_.emplace(id, std::move(c));
  ++counters_.accepted;
  mark(it->second, kFull);
  unacked_.push_back({id, std::string(peer), std::string(m.corr)});
  out.push_back({Side::kClient, std::string(peer), bus::encode_accepted(m.corr, id), true, id});
  log_->debug("case accepted case_id={} tenant={} agent={}", id, it->second.tenant, it->second.to);
  if (start && !start->end.empty()) {
    it->second.phase = Phase::kNone;
    end_flow(it->second, start->end, start->reason.empty() ? fmt::format("start route {}", start_index) : start->reason, now, out);
    return;
  }
  enqueue(it->second, now, false);
  pump(it->second.to, now, out);
}

// ---------------------------------------------------------------------------------------------
// Queues and dispatch

void Core::enqueue(Case& c, const Now& now, bool front) {
  auto& kind = kinds_[c.to];
  c.phase = Phase::kQueued;
  c.token = next_token_++;
  c.enqueued_at = now.mono;
  c.task_id.clear();
  c.worker.clear();
  c.worker_name.clear();
  if (front) {
    kind.queue.emplace_front(c.id, c.token);
  } else {
    kind.queue.emplace_back(c.id, c.token);
  }
  ++kind.queued;
}

void Core::pump(const std::string& kind_name, const Now& now, Outbox& out) {
  if (holding_) return;
  auto kit = kinds_.find(kind_name);
  if (kit == kinds_.end()) return;
  Kind& kind = kit->second;
  // Entries of cases that ended while queued stay behind as stale; drop them before they pile up.
  if (kind.queue.size() > 2 * kind.queued + 64) {
    std::erase_if(kind.queue, [&](const auto& e) {
      auto cit = cases_.find(e.first);
      return cit == cases_.end() || cit->second.phase != Phase::kQueued || cit->second.token != e.second;
    });
  }
  while (kind.queued > 0 && !kind.queue.empty()) {
    // Least loaded worker of the kind (in-flight / capacity), round-robin among equals; never
    // one at capacity or draining.
    Worker* best = nullptr;
    std::size_t best_index = 0;
    const std::size_t n = kind.workers.size();
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (kind.rr + k) % n;
      auto& w = workers_.at(kind.workers[i]);
      const auto load = w.tasks.size();
      if (w.draining || load >= static_cast<std::size_t>(w.capacity)) continue;
      if (!best || load * static_cast<std::size_t>(best->capacity) < best->tasks.size() * static_cast<std::size_t>(w.capacity)) {
        best = &w;
        best_index = i;
      }
    }
    if (!best) return;
    auto [case_id, token] = std::move(kind.queue.front());
    kind.queue.pop_front();
    auto cit = cases_.find(case_id);
    if (cit == cases_.end() || cit->second.phase != Phase::kQueued || cit->second.token != token) continue;
    --kind.queued;
    kind.rr = (best_index + 1) % n;
    dispatch(cit->second, *best, now, out);
  }
  // Drop stale entries at the front so the deque does not hold dead weight.
  while (kind.queued == 0 && !kind.queue.empty()) kind.queue.pop_front();
}

void Core::dispatch(Case& c, Worker& w, const Now& now, Outbox& out) {
  bus::Envelope env;
  env.type = bus::EnvelopeType::kTask;
  env.id = c.id + '.' + std::to_string(c.hop) + '.' + std::to_string(c.attempt);
  env.case_id = c.id;
  env.tenant = c.tenant;
  env.to = c.to;
  env.attempt = c.attempt;
  env.created_at = c.created_at;
  env.deadline = c.deadline_wall;
  env.trace = c.trace;
  // Stable across attempts of one hop, so agents can deduplicate side effects.
  env.idempotency_key = c.id + '/' + std::to_string(c.hop);
  env.context = context_json(c);
  // Lend the payload to the envelope for encoding instead of copying it (it is kept for retries).
  env.payload = std::move(c.payload);
  std::string task = bus::encode(env);
  c.payload = std::move(env.payload);

  if (task.size() + 64 > settings_.max_message_bytes) {
    // The agent would be disconnected by its transport for this message: fail the case instead.
    c.phase = Phase::kRetryWait;  // neither queued nor dispatched: nothing to undo in finish()
    c.token = next_token_++;
    const auto e = make_error(Errc::kTooLarge, "payload",
                              fmt::format("the task for hop {} is {} bytes, over the {} byte limit", c.hop, task.size(),
                                          settings_.max_message_bytes));
    finish(c, &e, now, out);
    return;
  }
  c.phase = Phase::kDispatched;
  c.task_id = env.id;
  c.worker = w.peer;
  c.worker_name = w.name;
  c.dispatched_at = now.mono;
  const bool fresh = tasks_.emplace(env.id, TaskRecord{c.id, w.peer}).second;
  CASEBUS_CHECK(fresh, "task id dispatched twice: " + env.id);
  w.tasks.insert(env.id);
  ++counters_.dispatched;
  mark(c, kProgress);
  log_->debug("task dispatched case_id={} task_id={} tenant={} agent={} worker={} attempt={}", c.id, env.id, c.tenant,
              c.to, w.name, c.attempt);
  send_agent(w, bus::encode_task(task), now, out);
}

std::string Core::context_json(const Case& c) const {
  if (c.context.empty() && !c.flow) return "{}";
  std::string s = "{";
  for (std::size_t i = 0; i < c.context.size(); ++i) {
    if (i) s += ',';
    cjson::append_string(s, c.context[i].first);
    s += ':';
    s += c.context[i].second;
  }
  if (c.flow) {
    // What the policy has decided so far, for the agents downstream (the escalation agent lists
    // the pending actions). Written by the broker only: a workflow submission's context is empty.
    if (!c.context.empty()) s += ',';
    s += "\"policy\":";
    s += c.flow->state.context().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  s += '}';
  return s;
}

// ---------------------------------------------------------------------------------------------
// Agents

void Core::send_agent(Worker& w, bus::Frames frames, const Now& now, Outbox& out) {
  w.last_send = now.mono;
  out.push_back({Side::kAgent, w.peer, std::move(frames)});
}

void Core::on_agent(std::string_view peer, bus::FrameViews frames, const Now& now, Outbox& out) {
  auto msg = bus::decode_agent_message(frames);
  auto wit = workers_.find(std::string(peer));
  if (wit != workers_.end()) wit->second.last_recv = now.mono;
  if (!msg) {
    ++counters_.malformed;
    log_->warn("malformed agent message peer={} err={}", bus::hex(peer), msg.error().describe());
    out.push_back({Side::kAgent, std::string(peer), bus::encode_agent_error(msg.error())});
    return;
  }
  if (auto* ready = std::get_if<bus::ReadyMsg>(&*msg)) {
    if (wit != workers_.end()) {
      out.push_back({Side::kAgent, std::string(peer),
                     bus::encode_agent_error(make_error(Errc::kDuplicate, "ready", "already registered"))});
      return;
    }
    register_worker(peer, *ready, now, out);
    return;
  }
  if (wit == workers_.end()) {
    // Not registered (for example: this broker restarted). Ask it to register again; nothing it
    // says about tasks is known here.
    if (std::holds_alternative<bus::DoneMsg>(*msg) || std::holds_alternative<bus::FailMsg>(*msg)) ++counters_.late_answers;
    if (!std::holds_alternative<bus::DisconnectMsg>(*msg)) {
      out.push_back({Side::kAgent, std::string(peer), bus::encode_broker_disconnect("not registered")});
    }
    return;
  }
  Worker& w = wit->second;
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, bus::DoneMsg>) {
          on_done(w, m, now, out);
        } else if constexpr (std::is_same_v<T, bus::FailMsg>) {
          on_fail(w, m.task_id, make_error(Errc::kAgentError, m.code, m.message), m.retryable, now, out);
        } else if constexpr (std::is_same_v<T, bus::DrainMsg>) {
          w.draining = true;
          log_->info("agent draining agent={} worker={} in_flight={}", w.kind, w.name, w.tasks.size());
        } else if constexpr (std::is_same_v<T, bus::DisconnectMsg>) {
          remove_worker(w.peer, "disconnected", now, out);
        }
        // HeartbeatMsg: last_recv is already updated.
      },
      *msg);
}

void Core::register_worker(std::string_view peer, const bus::ReadyMsg& m, const Now& now, Outbox& out) {
  Worker w;
  w.peer = std::string(peer);
  w.kind = m.kind;
  w.name = m.worker;
  w.capacity = m.capacity;
  w.last_recv = now.mono;
  auto [it, inserted] = workers_.emplace(w.peer, std::move(w));
  kinds_[m.kind].workers.push_back(it->first);
  log_->info("agent joined agent={} worker={} capacity={} peer={}", m.kind, m.worker, m.capacity, bus::hex(peer));
  send_agent(it->second,
             bus::encode_welcome({static_cast<int>(settings_.heartbeat_interval.count()), settings_.heartbeat_liveness}),
             now, out);
  pump(m.kind, now, out);
}

void Core::remove_worker(std::string peer, const char* why, const Now& now, Outbox& out) {
  auto wit = workers_.find(peer);
  if (wit == workers_.end()) return;
  Worker w = std::move(wit->second);
  workers_.erase(wit);
  auto& kind = kinds_[w.kind];
  std::erase(kind.workers, peer);
  kind.rr = 0;
  log_->info("agent left agent={} worker={} reason={} requeue={}", w.kind, w.name, why, w.tasks.size());
  // Marked so that pump() below and requeues cannot hand tasks back to it.
  for (const auto& task_id : w.tasks) {
    auto tit = tasks_.find(task_id);
    if (tit == tasks_.end()) continue;
    const std::string case_id = std::move(tit->second.case_id);
    tasks_.erase(tit);
    auto cit = cases_.find(case_id);
    if (cit == cases_.end()) continue;  // orphaned: its case already ended
    Case& c = cit->second;
    ++counters_.requeued;
    retry_or_dead_letter(c, make_error(Errc::kAgentError, "worker", std::string("worker ") + why), true, true, now, out);
  }
  pump(w.kind, now, out);
  forget_kind_if_idle(w.kind);
}

Core::Case* Core::release_task(Worker& w, std::string_view task_id, Outbox& out, const Now& now) {
  const std::string id(task_id);
  auto tit = tasks_.find(id);
  if (tit == tasks_.end() || tit->second.worker != w.peer) {
    ++counters_.late_answers;
    log_->debug("late answer ignored task_id={} worker={}", task_id, w.name);
    return nullptr;
  }
  const std::string case_id = std::move(tit->second.case_id);
  tasks_.erase(tit);
  w.tasks.erase(id);
  ++w.served;
  pump(w.kind, now, out);  // the slot is free again
  if (case_id.empty()) {
    ++counters_.late_answers;
    return nullptr;
  }
  auto cit = cases_.find(case_id);
  if (cit == cases_.end() || cit->second.task_id != id) {
    ++counters_.late_answers;
    return nullptr;
  }
  return &cit->second;
}

// What an agent says its answer cost: model, calls, tokens, time. Recorded in the trail as checked
// here (known keys, sane types), never trusted for anything else; a bad one is dropped and logged.
std::string Core::model_call_of(std::string_view meta, const Case& c) const {
  try {
    const auto j = nlohmann::json::parse(meta);
    cjson::StrictObject o(j, "meta");
    nlohmann::json out = nlohmann::json::object();
    if (const auto* v = o.find("model")) out["model"] = cjson::string_at(*v, "meta.model", 128);
    for (const char* key : {"model_calls", "input_tokens", "output_tokens", "model_ms"}) {
      if (const auto* v = o.find(key)) out[key] = static_cast<std::int64_t>(cjson::number_at(*v, std::string("meta.") + key, 0, 1e12));
    }
    o.done();
    return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const cjson::FieldError& e) {
    log_->warn("answer metadata dropped case_id={} agent={} field={}", c.id, c.to, e.field);
  } catch (const nlohmann::json::exception&) {
    log_->warn("answer metadata dropped case_id={} agent={} field=meta", c.id, c.to);
  }
  return {};
}

void Core::on_done(Worker& w, const bus::DoneMsg& m, const Now& now, Outbox& out) {
  // Validated before the slot is released (release_task dispatches waiting work).
  auto result = codec_.decode_result(m.result_json);
  Case* c = release_task(w, m.task_id, out, now);
  if (!c) return;
  if (!result) {
    log_->warn("invalid result case_id={} task_id={} agent={} worker={} err={}", c->id, m.task_id, w.kind, w.name,
               result.error().code);
    retry_or_dead_letter(*c, result.error(), true, false, now, out);
    return;
  }
  Hop h{c->hop, c->to, w.name, c->task_id, c->attempt, "done", ms_between(c->enqueued_at, c->dispatched_at),
        ms_between(c->dispatched_at, now.mono), {}, {}, {}, {}, {}};
  if (!m.meta_json.empty()) h.model_call_json = model_call_of(m.meta_json, *c);
  if (c->flow) {
    on_flow_result(*c, std::move(h), std::move(result->json), now, out);
    return;
  }
  c->trail.push_back(std::move(h));
  // The context keeps the latest result per agent kind.
  auto existing = std::find_if(c->context.begin(), c->context.end(), [&](auto& kv) { return kv.first == c->to; });
  if (existing != c->context.end()) c->context.erase(existing);
  c->context.emplace_back(c->to, result->json);
  c->last_result = std::move(result->json);
  log_->debug("task done case_id={} task_id={} agent={} worker={} next={}", c->id, m.task_id, w.kind, w.name,
              result->next.value_or("-"));
  if (!result->next) {
    finish(*c, nullptr, now, out);
    return;
  }
  if (c->hop >= settings_.max_hops) {
    const auto e = make_error(Errc::kHopLimit, "next", fmt::format("the case reached the hop limit of {}", settings_.max_hops));
    finish(*c, &e, now, out);
    return;
  }
  // No queue bound here: the bound applies to new submissions, and an accepted case is never
  // dropped for lack of room.
  ++c->hop;
  c->attempt = 1;
  c->to = std::move(*result->next);
  mark(*c, kFull);
  enqueue(*c, now, false);
  pump(c->to, now, out);
}

void Core::on_fail(Worker& w, std::string_view task_id, const Error& error, bool retryable, const Now& now, Outbox& out) {
  Case* c = release_task(w, task_id, out, now);
  if (!c) return;
  // Agent-supplied text may echo customer data: only its code at info, the message at debug.
  log_->info("task failed case_id={} task_id={} agent={} worker={} attempt={} retryable={} code={}", c->id, task_id,
             w.kind, w.name, c->attempt, retryable, error.field);
  log_->debug("task failure detail task_id={} message={}", task_id, error.message);
  retry_or_dead_letter(*c, error, retryable, false, now, out);
}

void Core::retry_or_dead_letter(Case& c, const Error& error, bool retryable, bool requeue, const Now& now, Outbox& out) {
  mark(c, kFull);
  const std::string outcome = requeue ? "requeued" : (retryable ? "retry" : "failed");
  c.trail.push_back(Hop{c.hop, c.to, c.worker_name, c.task_id, c.attempt, outcome, ms_between(c.enqueued_at, c.dispatched_at),
                        ms_between(c.dispatched_at, now.mono), error.to_json(), {}, {}, {}});
  if (!retryable) {
    if (divert_failure(c, error, now, out)) return;
    finish(c, &error, now, out);
    return;
  }
  if (c.attempt >= settings_.max_attempts) {
    const auto e = make_error(Errc::kMaxAttempts, c.to,
                              fmt::format("gave up after {} attempts; last error: {}", c.attempt, error.describe()));
    if (divert_failure(c, e, now, out)) return;
    finish(c, &e, now, out);
    return;
  }
  ++c.attempt;
  if (requeue) {
    // A lost worker is not the task's fault: straight back to the front of the queue.
    enqueue(c, now, true);
    pump(c.to, now, out);
    return;
  }
  ++counters_.retried;
  const std::chrono::milliseconds backoff = std::min<std::chrono::milliseconds>(
      settings_.retry_backoff_max, settings_.retry_backoff_initial * (1LL << std::min(c.attempt - 2, 20)));
  c.phase = Phase::kRetryWait;
  c.token = next_token_++;
  c.task_id.clear();
  c.worker.clear();
  c.worker_name.clear();
  retries_.emplace(now.mono + backoff, c.id, c.token);
}

void Core::finish(Case& c, const Error* error, const Now& now, Outbox& out) {
  ++counters_.completed;
  // A workflow case that could not finish has had no review: nothing in it stays approved.
  if (error && c.flow) c.flow->state.withhold_approvals();
  if (error) {
    ++counters_.failed;
    ++counters_.dead_lettered;
    log_->warn("case dead-lettered case_id={} tenant={} agent={} attempt={} err={} field={}", c.id, c.tenant, c.to,
               c.attempt, error->code, error->field);
  } else if (c.flow) {
    auto& n = c.flow->status == "resolved" ? counters_.resolved : c.flow->status == "escalated" ? counters_.escalated
                                                                                               : counters_.rejected_by_workflow;
    ++n;
    log_->info("case ended case_id={} tenant={} workflow={} status={} hops={} pending_actions={} violations={}", c.id, c.tenant,
               c.flow->workflow->name, c.flow->status, c.trail.size(), c.flow->state.pending.size(),
               c.flow->state.violations.size());
  } else {
    log_->debug("case completed case_id={} tenant={} hops={}", c.id, c.tenant, c.hop);
  }
  std::string result = case_result_json(c, error, now, true);
  bool reduced = false;
  if (result.size() + 64 > settings_.max_message_bytes) {
    // Too large for the client's transport: send the outcome without payload, context and result,
    // reported failed (and counted failed).
    if (!error) ++counters_.failed;
    log_->warn("final case too large case_id={} tenant={} bytes={}", c.id, c.tenant, result.size());
    const auto e = make_error(Errc::kTooLarge, "result",
                              fmt::format("the final case is {} bytes, over the {} byte limit; payload, context and "
                                          "result are left out",
                                          result.size(), settings_.max_message_bytes));
    result = case_result_json(c, error ? error : &e, now, false);
    reduced = true;
  }
  // The end of the case, as the client sees it, in the same commit as everything before it; a
  // dead letter keeps its record so that it can be retried.
  {
    StoredCase row = stored_row(c, now.wall, !c.stored && error, error != nullptr);
    row.status = error ? "dead" : "done";
    row.outcome = error || reduced ? "failed" : (c.flow ? c.flow->status : "completed");
    row.dispatched = false;
    row.finished_at = now.wall;
    row.result = result;
    if (error) row.error = error->to_json();
    const std::string outcome = row.outcome;
    if (c.stored) {
      store_->finish(std::move(row));
    } else {
      store_->insert(std::move(row));
    }
    if (settings_.outbox) write_outbox(c, outcome, error, now.wall);
  }
  if (!c.client_peer.empty()) {
    out.push_back({Side::kClient, c.client_peer, bus::encode_result(c.corr, result), true, c.id});
  }
  release(c, now, out);  // c is dangling from here on
}

void Core::release(Case& c, const Now& now, Outbox& out) {
  // A task still out with an agent is orphaned: the slot stays counted until the agent answers
  // (so capacity holds), and the agent is told to stop.
  if (c.phase == Phase::kDispatched && !c.task_id.empty()) {
    if (auto tit = tasks_.find(c.task_id); tit != tasks_.end()) {
      tit->second.case_id.clear();
      if (auto wit = workers_.find(tit->second.worker); wit != workers_.end()) {
        send_agent(wit->second, bus::encode_cancel(c.task_id), now, out);
      }
    }
  }
  if (c.phase == Phase::kQueued) --kinds_[c.to].queued;
  deadlines_.erase({c.deadline, c.id});
  if (!c.idempotency_key.empty()) {
    if (auto kit = keys_.find(idem_index(c.tenant, c.idempotency_key)); kit != keys_.end() && kit->second == c.id) {
      keys_.erase(kit);
    }
  }
  const std::string kind = c.to;
  cases_.erase(c.id);
  forget_kind_if_idle(kind);
}

void Core::forget_kind_if_idle(const std::string& kind) {
  auto it = kinds_.find(kind);
  if (it != kinds_.end() && it->second.workers.empty() && it->second.queued == 0) kinds_.erase(it);
}

std::string Core::case_result_json(const Case& c, const Error* error, const Now& now, bool full) const {
  std::string s;
  s.reserve(512 + c.payload.size() + c.last_result.size() * 2 + c.trail.size() * 160);
  cjson::ObjectWriter w(s);
  w.integer("v", 1).raw("type", "\"case_result\"").string("case_id", c.id).string("tenant", c.tenant);
  if (error) {
    w.raw("status", "\"failed\"");
  } else {
    w.string("status", c.flow ? c.flow->status : "completed");
  }
  if (error) w.raw("error", error->to_json());
  if (c.flow) {
    // The outcome a bank acts on (docs/workflow.md#the-final-case).
    const auto& f = *c.flow;
    const auto& st = f.state;
    nlohmann::json o = nlohmann::json::object();
    o["workflow"] = f.workflow->name;
    if (!f.reason.empty()) o["reason"] = f.reason;
    o["intent"] = st.intent ? nlohmann::json(*st.intent) : nlohmann::json(nullptr);
    o["confidence"] = st.confidence ? nlohmann::json(*st.confidence) : nlohmann::json(nullptr);
    o["risk"] = st.risk_level ? nlohmann::json{{"level", *st.risk_level}, {"score", st.risk_score.value_or(0)}} : nlohmann::json(nullptr);
    if (st.payment_decision) o["payment_decision"] = *st.payment_decision;
    nlohmann::json approved = nlohmann::json::array(), pending = nlohmann::json::array(), violations = nlohmann::json::array();
    for (const auto& a : st.approved) approved.push_back(common::policy::to_json(a));
    for (const auto& a : st.pending) pending.push_back(common::policy::to_json(a));
    for (const auto& v : st.violations) violations.push_back(common::policy::to_json(v));
    o["approved_actions"] = std::move(approved);
    o["pending_actions"] = std::move(pending);
    o["reply"] = st.reply ? nlohmann::json(*st.reply) : nlohmann::json(nullptr);
    // Shortened for the client's transport (see finish()): the review item and the violation
    // details go; their counts stay.
    o["review"] = full ? st.review : nlohmann::json(nullptr);
    if (!full) o["violations_omitted"] = violations.size();
    o["violations"] = full ? std::move(violations) : nlohmann::json::array();
    for (auto it = o.begin(); it != o.end(); ++it) {
      w.raw(it.key(), it.value().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
  }
  if (!c.ref.empty()) w.string("ref", c.ref);
  if (!c.idempotency_key.empty()) w.string("idempotency_key", c.idempotency_key);
  w.string("trace", c.trace);
  common::append_rfc3339(w.key("created_at") += '"', c.created_at);
  s += '"';
  common::append_rfc3339(w.key("finished_at") += '"', now.wall);
  s += '"';
  if (full) w.raw("payload", c.payload).raw("context", context_json(c)).raw("result", c.last_result);
  w.key("trail");
  append_trail(s, c.trail);
  w.close();
  return s;
}

void Core::append_trail(std::string& s, const std::vector<Hop>& trail) const {
  s += '[';
  for (std::size_t i = 0; i < trail.size(); ++i) {
    const auto& h = trail[i];
    if (i) s += ',';
    cjson::ObjectWriter hop(s);
    hop.integer("hop", h.hop).string("agent", h.agent).string("worker", h.worker).string("task_id", h.task_id);
    hop.integer("attempt", h.attempt).string("outcome", h.outcome);
    append_ms(hop.key("queued_ms"), h.queued_ms);
    append_ms(hop.key("ms"), h.run_ms);
    if (!h.error_json.empty()) hop.raw("error", h.error_json);
    if (!h.summary.empty()) hop.string("summary", h.summary);
    if (!h.route.empty()) hop.string("route", h.route);
    if (!h.violations_json.empty()) hop.raw("violations", h.violations_json);
    if (!h.model_call_json.empty()) hop.raw("model_call", h.model_call_json);
    hop.close();
  }
  s += ']';
}

// ---------------------------------------------------------------------------------------------
// Workflows

void Core::on_flow_result(Case& c, Hop hop, std::string result_json, const Now& now, Outbox& out) {
  Flow& f = *c.flow;
  const Workflow& wf = *f.workflow;
  nlohmann::json result;
  try {
    result = nlohmann::json::parse(result_json);
  } catch (const nlohmann::json::exception&) {
    result = nullptr;  // decode_result accepted it, so this does not happen; the schema refuses null
  }
  const auto verdict = settings_.policy->apply(c.to, result, f.payload, f.state);
  hop.summary = verdict.summary;
  std::string next;       // next agent kind, or
  std::string end, reason;  // how the case ends
  if (verdict.ok()) {
    auto existing = std::find_if(c.context.begin(), c.context.end(), [&](auto& kv) { return kv.first == c.to; });
    if (existing != c.context.end()) c.context.erase(existing);
    // The document the policy checked, re-serialised: with duplicate keys, a reader that takes the
    // first one would otherwise see a value nobody checked.
    result_json = result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    c.context.emplace_back(c.to, result_json);
    c.last_result = std::move(result_json);
    std::size_t index = 0;
    const Route& r = choose(wf.nodes.at(c.to), f.payload_doc, result, f.state.view(), index);
    next = r.to;
    end = r.end;
    reason = r.reason.empty() ? fmt::format("{} route {}", c.to, index) : r.reason;
    // Nothing that awaits a person's approval, or that broke the policy, may end quietly as
    // resolved.
    if (end == "resolved" && (!f.state.pending.empty() || !f.state.violations.empty())) {
      reason = f.state.pending.empty() ? "policy violations need review" : "actions await approval";
      if (c.to != wf.on_violation) {
        next = wf.on_violation;
        end.clear();
      } else {
        end = "escalated";
      }
    }
  } else {
    counters_.policy_violations += verdict.violations.size();
    nlohmann::json list = nlohmann::json::array();
    for (const auto& v : verdict.violations) {
      list.push_back(common::policy::to_json(v));
      log_->warn("result refused case_id={} task_id={} tenant={} agent={} worker={} code={} field={}", c.id, hop.task_id, c.tenant,
                 c.to, hop.worker, v.code, v.field);
      f.state.violations.push_back(v);
    }
    hop.violations_json = list.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    hop.summary = "refused by policy";
    // A refused result is never acted on, and nothing in the case stays approved.
    f.state.withhold_approvals();
    reason = "policy violation by " + c.to;
    if (c.to != wf.on_violation) {
      next = wf.on_violation;
    } else {
      end = "escalated";
      f.state.reply = settings_.policy->config().fallback_reply;  // the agent's own reply was refused
      f.state.review = nullptr;
    }
  }
  hop.route = next.empty() ? "end " + end : next;
  c.trail.push_back(std::move(hop));
  if (!next.empty()) {
    next_hop(c, next, now, out);
  } else {
    end_flow(c, std::move(end), std::move(reason), now, out);
  }
}

bool Core::divert_failure(Case& c, const Error& error, const Now& now, Outbox& out) {
  if (!c.flow || c.to == c.flow->workflow->on_violation || c.hop >= settings_.max_hops) return false;
  // A failed agent leaves the case to a person, with nothing approved.
  auto& f = *c.flow;
  f.state.violations.push_back(common::policy::Violation{c.to, "agent_failed", error.field, error.describe()});
  f.state.withhold_approvals();
  if (!c.trail.empty()) c.trail.back().route = f.workflow->on_violation;
  log_->warn("agent failed, case diverted case_id={} tenant={} agent={} to={} err={}", c.id, c.tenant, c.to,
             f.workflow->on_violation, error.code);
  next_hop(c, f.workflow->on_violation, now, out);
  return true;
}

void Core::next_hop(Case& c, const std::string& kind, const Now& now, Outbox& out) {
  if (c.hop >= settings_.max_hops) {
    const auto e = make_error(Errc::kHopLimit, "next", fmt::format("the case reached the hop limit of {}", settings_.max_hops));
    finish(c, &e, now, out);
    return;
  }
  // No queue bound here: the bound applies to new submissions, and an accepted case is never
  // dropped for lack of room.
  ++c.hop;
  c.attempt = 1;
  c.to = kind;
  mark(c, kFull);
  enqueue(c, now, false);
  pump(c.to, now, out);
}

void Core::end_flow(Case& c, std::string status, std::string reason, const Now& now, Outbox& out) {
  auto& f = *c.flow;
  f.status = std::move(status);
  f.reason = std::move(reason);
  if (f.status == "escalated" && !f.state.reply) f.state.reply = settings_.policy->config().fallback_reply;
  finish(c, nullptr, now, out);
}

// ---------------------------------------------------------------------------------------------
// Time

void Core::on_tick(const Now& now, Outbox& out) {
  // Deadlines: earliest first; entries of cases that have ended are skipped.
  while (!deadlines_.empty() && deadlines_.begin()->first <= now.mono) {
    const std::string id = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    auto cit = cases_.find(id);
    if (cit == cases_.end()) continue;
    Case& c = cit->second;
    const auto e = make_error(Errc::kDeadlineExceeded, "deadline",
                              fmt::format("the case passed its deadline at hop {} ({}) attempt {}", c.hop, c.to, c.attempt));
    if (c.phase == Phase::kDispatched) {
      c.trail.push_back(Hop{c.hop, c.to, c.worker_name, c.task_id, c.attempt,
                            "deadline_exceeded", ms_between(c.enqueued_at, c.dispatched_at),
                            ms_between(c.dispatched_at, now.mono), e.to_json(), {}, {}, {}});
    }
    finish(c, &e, now, out);
  }
  // Retries whose backoff is over.
  while (!retries_.empty() && std::get<0>(*retries_.begin()) <= now.mono) {
    auto [at, id, token] = *retries_.begin();
    retries_.erase(retries_.begin());
    auto cit = cases_.find(id);
    if (cit == cases_.end() || cit->second.phase != Phase::kRetryWait || cit->second.token != token) continue;
    enqueue(cit->second, now, false);
    pump(cit->second.to, now, out);
  }
  if (now.mono < next_tick_) return;
  next_tick_ = now.mono + settings_.heartbeat_interval / 2;
  // Heartbeats and liveness.
  const auto expiry = settings_.heartbeat_interval * settings_.heartbeat_liveness;
  std::vector<std::string> expired;
  for (auto& [peer, w] : workers_) {
    if (now.mono - w.last_recv > expiry) {
      expired.push_back(peer);
    } else if (now.mono - w.last_send >= settings_.heartbeat_interval / 2) {
      send_agent(w, bus::encode_broker_heartbeat(), now, out);
    }
  }
  for (const auto& peer : expired) workers_.at(peer).draining = true;
  for (const auto& peer : expired) {
    ++counters_.workers_expired;
    log_->warn("agent expired worker={} peer={} silent_ms={}", workers_.at(peer).name, bus::hex(peer),
               std::chrono::duration_cast<std::chrono::milliseconds>(now.mono - workers_.at(peer).last_recv).count());
    remove_worker(peer, "expired", now, out);
  }
}

MonoTime Core::next_wakeup() const {
  MonoTime t = next_tick_;
  if (!deadlines_.empty()) t = std::min(t, deadlines_.begin()->first);
  if (!retries_.empty()) t = std::min(t, std::get<0>(*retries_.begin()));
  return t;
}

void Core::on_unreachable(Side side, std::string_view peer, const Now& now, Outbox& out) {
  if (side == Side::kClient) {
    ++counters_.undeliverable;
    log_->warn("client gone, answer undeliverable peer={}", bus::hex(peer));
    return;
  }
  remove_worker(std::string(peer), "unreachable", now, out);
}

void Core::fail_all(Errc code, const std::string& message, const Now& now, Outbox& out) {
  std::vector<std::string> ids;
  ids.reserve(cases_.size());
  for (const auto& [id, c] : cases_) ids.push_back(id);
  const auto e = make_error(code, "", message);
  for (const auto& id : ids) {
    if (auto it = cases_.find(id); it != cases_.end()) finish(it->second, &e, now, out);
  }
}

nlohmann::json Core::outbox_stats() const {
  if (!settings_.outbox) return {{"enabled", false}};
  std::int64_t pending = -1;  // -1: the store cannot be read
  try {
    pending = static_cast<std::int64_t>(store_->outbox_count());
  } catch (const std::exception&) {
  }
  return {{"enabled", true}, {"pending", pending}};
}

std::string Core::stats_json() const {
  nlohmann::json kinds = nlohmann::json::object();
  for (const auto& [name, k] : kinds_) {
    std::size_t capacity = 0, in_flight = 0;
    for (const auto& peer : k.workers) {
      const auto& w = workers_.at(peer);
      capacity += static_cast<std::size_t>(w.capacity);
      in_flight += w.tasks.size();
    }
    kinds[name] = {{"queued", k.queued}, {"workers", k.workers.size()}, {"capacity", capacity}, {"in_flight", in_flight}};
  }
  nlohmann::json workers = nlohmann::json::array();
  for (const auto& [peer, w] : workers_) {
    workers.push_back({{"worker", w.name}, {"kind", w.kind}, {"capacity", w.capacity}, {"in_flight", w.tasks.size()},
                       {"served", w.served}, {"draining", w.draining}, {"peer", bus::hex(peer)}});
  }
  std::sort(workers.begin(), workers.end(), [](const auto& a, const auto& b) {
    return std::tie(a.at("kind").template get_ref<const std::string&>(), a.at("worker").template get_ref<const std::string&>()) <
           std::tie(b.at("kind").template get_ref<const std::string&>(), b.at("worker").template get_ref<const std::string&>());
  });
  const auto& c = counters_;
  std::int64_t dead_letters = -1;  // -1: the store cannot be read
  try {
    dead_letters = static_cast<std::int64_t>(store_->dead_letter_count());
  } catch (const std::exception&) {
  }
  auto j = nlohmann::json{{"kinds", kinds},
                        {"workers", workers},
                        {"cases_active", cases_.size()},
                        {"in_flight", tasks_.size()},
                        {"dead_letters", dead_letters},
                        {"storage",
                         {{"mode", store_->durable() ? "sqlite" : "memory"},
                          {"healthy", store_->healthy()},
                          {"pending_writes", store_->pending()},
                          {"last_error", store_->last_error()}}},
                        {"outbox", outbox_stats()},
                        {"accepting", accepting_},
                        {"counters",
                         {{"accepted", c.accepted},
                          {"completed", c.completed},
                          {"failed", c.failed},
                          {"dispatched", c.dispatched},
                          {"requeued", c.requeued},
                          {"retried", c.retried},
                          {"dead_lettered", c.dead_lettered},
                          {"busy", c.busy},
                          {"rejected", c.rejected},
                          {"late_answers", c.late_answers},
                          {"malformed", c.malformed},
                          {"undeliverable", c.undeliverable},
                          {"workers_expired", c.workers_expired},
                          {"resolved", c.resolved},
                          {"escalated", c.escalated},
                          {"rejected_by_workflow", c.rejected_by_workflow},
                          {"policy_violations", c.policy_violations},
                          {"recovered", c.recovered},
                          {"duplicates", c.duplicates},
                          {"storage_refused", c.storage_refused}}}};
  if (stats_extension_) stats_extension_(j);
  return j.dump();
}

}  // namespace broker
