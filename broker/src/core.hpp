#pragma once
// The broker's protocol state machine, free of I/O: it takes (peer, frames, now) and appends the
// messages to send to an Outbox. Tests drive it directly with injected time.
//
// What it owns: cases and their hop-by-hop workflow, a bounded queue per agent kind, the workers
// of each kind with their capacity (credit) and in-flight tasks, heartbeats and liveness, retries
// with backoff, deadlines, dead letters and counters. docs/protocol.md is the contract.
#include "broker/settings.hpp"
#include "common/bus/envelope.hpp"
#include "common/bus/protocol.hpp"
#include "common/cases/payload.hpp"
#include "common/policy/policy.hpp"
#include "store.hpp"
#include "workflow.hpp"
#include "common/util/time.hpp"

#include <spdlog/logger.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace broker {

enum class Side { kClient, kAgent };

struct OutMessage {
  Side side;
  std::string peer;  // ROUTER routing id
  common::bus::Frames frames;
  // Only after the store has committed what this message reports (ACCEPTED, a final case, a
  // dead-letter operation's answer). case_id: the case it is about, if any.
  bool after_commit = false;
  std::string case_id;
};
using Outbox = std::vector<OutMessage>;

struct Counters {
  std::uint64_t accepted = 0;
  std::uint64_t completed = 0;      // cases that reached a final result
  std::uint64_t failed = 0;         // of those, how many failed (dead-lettered)
  std::uint64_t dispatched = 0;     // tasks sent to agents
  std::uint64_t requeued = 0;       // tasks taken back from a lost or leaving worker
  std::uint64_t retried = 0;        // retryable failures scheduled again
  std::uint64_t dead_lettered = 0;
  std::uint64_t busy = 0;           // submissions refused because a bound was reached
  std::uint64_t rejected = 0;       // submissions refused for any other reason
  std::uint64_t late_answers = 0;   // DONE/FAIL for a task no longer in flight (ignored)
  std::uint64_t malformed = 0;      // undecodable messages from clients or agents
  std::uint64_t undeliverable = 0;  // answers to a client that was gone
  std::uint64_t workers_expired = 0;
  // Workflow cases by how they ended, and agent results the policy refused.
  std::uint64_t resolved = 0;
  std::uint64_t escalated = 0;
  std::uint64_t rejected_by_workflow = 0;
  std::uint64_t policy_violations = 0;
  // Durability.
  std::uint64_t recovered = 0;        // active cases taken back from the store at start
  std::uint64_t duplicates = 0;       // submissions answered with the case their idempotency key names
  std::uint64_t storage_refused = 0;  // submissions refused because the store could not be written
};

class Core final {
 public:
  // store: where cases live (docs/storage.md); null for an in-memory store of its own (tests).
  explicit Core(CoreSettings settings, Store* store = nullptr);
  ~Core();

  // Takes back every active case of the store (at start, before serving): a case whose task was
  // out with an agent goes again with attempt + 1. Returns how many.
  std::size_t recover(const common::Now& now, Outbox& out);
  // Hands every case changed since the last call to the store as writes (once per loop turn,
  // before Store::commit).
  void persist(const common::Now& now);
  bool dirty() const { return !dirty_.empty(); }
  // After Store::commit: succeeded, or failed. On failure the submissions accepted since the last
  // commit are refused (storage_unavailable) and forgotten; returns their case ids, whose held
  // messages must not be sent.
  void on_committed();
  std::unordered_set<std::string> on_commit_failed(const common::Error& error, const common::Now& now, Outbox& out);

  void on_client(std::string_view peer, common::bus::FrameViews frames, const common::Now& now, Outbox& out);
  void on_agent(std::string_view peer, common::bus::FrameViews frames, const common::Now& now, Outbox& out);
  // Timers: heartbeats, liveness, retries, deadlines. Call when now >= next_wakeup().
  void on_tick(const common::Now& now, Outbox& out);
  // A send to this peer failed with EHOSTUNREACH: the peer is gone.
  void on_unreachable(Side side, std::string_view peer, const common::Now& now, Outbox& out);
  common::MonoTime next_wakeup() const;

  // Shutdown: refuse new submissions. With a durable store nothing new is dispatched either: the
  // tasks out with agents finish, and the rest stays stored for the next start. fail_all ends
  // what is left of an in-memory broker when the grace period is over.
  void stop_accepting() {
    accepting_ = false;
    holding_ = store_->durable();
  }
  void fail_all(common::Errc code, const std::string& message, const common::Now& now, Outbox& out);

  std::size_t active_cases() const { return cases_.size(); }
  // Tasks out with agents whose case still waits for them.
  std::size_t tasks_in_flight() const;
  std::size_t worker_count() const { return workers_.size(); }
  const Counters& counters() const { return counters_; }
  Store& store() { return *store_; }
  std::string stats_json() const;
  nlohmann::json outbox_stats() const;
  // Adds the app's own sections (the CURVE authenticator's counters) to every stats reply.
  void set_stats_extension(std::function<void(nlohmann::json&)> f) { stats_extension_ = std::move(f); }

 private:
  struct Hop {
    int hop = 0;
    std::string agent, worker, task_id;
    int attempt = 0;
    std::string outcome;  // done, failed, retry, requeued, deadline_exceeded
    double queued_ms = 0, run_ms = 0;
    std::string error_json;  // empty when none
    // Workflow cases: what the result said (no customer text), where the case went next, and the
    // policy's objections (a JSON array) when the result was refused.
    std::string summary, route, violations_json;
    std::string model_call_json;  // what the answer cost (DONE_META), checked; empty when none
  };
  // The workflow part of a case: its parsed payload and what the policy has decided so far.
  struct Flow {
    const Workflow* workflow = nullptr;
    nlohmann::json payload_doc;
    common::cases::Payload payload;
    common::policy::CaseState state;
    std::string status;  // resolved | escalated | rejected once ended
    std::string reason;
  };
  enum class Phase { kNone, kQueued, kDispatched, kRetryWait };
  struct Case {
    std::string id, tenant, trace, idempotency_key, ref;
    common::WallMs created_at = 0, deadline_wall = 0;
    common::MonoTime deadline;
    std::string payload;
    std::vector<std::pair<std::string, std::string>> context;
    std::vector<Hop> trail;
    std::string client_peer, corr;
    std::string to;
    int hop = 1;
    int attempt = 1;
    Phase phase = Phase::kQueued;
    std::uint64_t token = 0;  // identifies the live queue/retry entry; stale ones are skipped
    common::MonoTime enqueued_at, dispatched_at;
    std::string task_id, worker, worker_name;  // while dispatched (peer and instance name)
    std::string last_result = "null";
    std::unique_ptr<Flow> flow;  // null for a plain (single kind, "next"-driven) case
    // Durability: whether the store has (or is about to have) the case, and what changed since
    // the last write (kProgress: the phase only; kFull: the record too).
    std::uint64_t payload_hash = 0;
    bool stored = false;
    std::uint8_t dirty = 0;
  };
  static constexpr std::uint8_t kProgress = 1, kFull = 2;
  struct Worker {
    std::string peer, kind, name;
    int capacity = 1;
    std::unordered_set<std::string> tasks;
    common::MonoTime last_recv, last_send;
    bool draining = false;
    std::uint64_t served = 0;
  };
  struct Kind {
    std::deque<std::pair<std::string, std::uint64_t>> queue;  // (case id, token)
    std::size_t queued = 0;                                   // live entries in queue
    std::vector<std::string> workers;                         // peers
    std::size_t rr = 0;
  };
  struct TaskRecord {
    std::string case_id;  // empty once the case has ended (the task is orphaned)
    std::string worker;
  };

  void submit(std::string_view peer, const common::bus::SubmitMsg& m, const common::Now& now, Outbox& out);
  void reject(std::string_view peer, std::string_view corr, const common::Error& e, Outbox& out);
  void enqueue(Case& c, const common::Now& now, bool front);
  void pump(const std::string& kind, const common::Now& now, Outbox& out);
  void dispatch(Case& c, Worker& w, const common::Now& now, Outbox& out);
  void on_done(Worker& w, const common::bus::DoneMsg& m, const common::Now& now, Outbox& out);
  void on_fail(Worker& w, std::string_view task_id, const common::Error& error, bool retryable,
               const common::Now& now, Outbox& out);
  // Takes the task out of flight; returns its case when the case is still waiting for it.
  Case* release_task(Worker& w, std::string_view task_id, Outbox& out, const common::Now& now);
  void retry_or_dead_letter(Case& c, const common::Error& error, bool retryable, bool requeue,
                            const common::Now& now, Outbox& out);
  void finish(Case& c, const common::Error* error, const common::Now& now, Outbox& out);
  // Takes an ending case out of every queue, timer and index, and erases it.
  void release(Case& c, const common::Now& now, Outbox& out);
  // The outbox entries of an ended case (docs/event-bus.md#outbox), buffered with its last write.
  // CONTROL action.approve / action.reject: a person decides on a pending action of an ended case.
  void decide(const std::string& op, const std::string& case_id, const std::string& tenant, const std::string& action,
              const std::string& by, const common::Now& now, const std::function<void(const nlohmann::json&)>& reply,
              const std::function<void(const common::Error&)>& fail);
  void write_outbox(const Case& c, const std::string& outcome, const common::Error* error, common::WallMs at);
  void register_worker(std::string_view peer, const common::bus::ReadyMsg& m, const common::Now& now, Outbox& out);
  void remove_worker(std::string peer, const char* why, const common::Now& now, Outbox& out);
  void send_agent(Worker& w, common::bus::Frames frames, const common::Now& now, Outbox& out);
  // Workflow cases.
  void on_flow_result(Case& c, Hop hop, std::string result_json, const common::Now& now, Outbox& out);
  // Sends a case whose agent failed for good to the workflow's review node; false when it cannot.
  bool divert_failure(Case& c, const common::Error& error, const common::Now& now, Outbox& out);
  void next_hop(Case& c, const std::string& kind, const common::Now& now, Outbox& out);
  void end_flow(Case& c, std::string status, std::string reason, const common::Now& now, Outbox& out);
  std::string context_json(const Case& c) const;
  std::string case_result_json(const Case& c, const common::Error* error, const common::Now& now, bool full) const;
  void forget_kind_if_idle(const std::string& kind);
  std::string model_call_of(std::string_view meta, const Case& c) const;
  // Durability.
  void mark(Case& c, std::uint8_t what);
  StoredCase stored_row(const Case& c, common::WallMs now, bool with_payload, bool with_record) const;
  std::string record_json(const Case& c) const;
  // Rebuilds a case from its stored row; an Error when the row cannot be resumed.
  common::Result<Case> restore(const StoredCase& row, const common::Now& now);
  Case& admit(Case&& c);  // a restored case back into the indexes (not yet queued)
  void reattach(Case& c, std::string_view peer, std::string_view corr, Outbox& out);
  void control(std::string_view peer, std::string_view corr, std::string_view request, const common::Now& now, Outbox& out);
  std::string idem_index(const std::string& tenant, const std::string& key) const { return tenant + '\n' + key; }
  void append_trail(std::string& s, const std::vector<Hop>& trail) const;

  CoreSettings settings_;
  std::shared_ptr<spdlog::logger> log_;
  common::bus::EnvelopeCodec codec_;
  bool accepting_ = true;
  std::uint64_t next_token_ = 1;
  common::MonoTime next_tick_{};

  std::unordered_map<std::string, Case> cases_;
  std::unordered_map<std::string, Worker> workers_;
  std::unordered_map<std::string, Kind> kinds_;
  std::unordered_map<std::string, TaskRecord> tasks_;
  std::set<std::tuple<common::MonoTime, std::string, std::uint64_t>> retries_;
  // Cases by deadline; an entry leaves when its case ends, so the set is bounded by active cases.
  std::set<std::pair<common::MonoTime, std::string>> deadlines_;
  Counters counters_;
  std::function<void(nlohmann::json&)> stats_extension_;
  // Ended cases with a person's decision waiting for the commit: a second one waits its turn.
  std::unordered_set<std::string> decided_;
  std::unique_ptr<Store> own_store_;
  Store* store_ = nullptr;
  bool holding_ = false;  // shutting down with a durable store: dispatch nothing new
  std::vector<std::string> dirty_;  // cases with writes to hand to the store
  struct Unacked {
    std::string case_id, peer, corr;
  };
  std::vector<Unacked> unacked_;  // accepted since the last commit
  std::unordered_map<std::string, std::string> keys_;  // tenant + idempotency key -> active case
};

}  // namespace broker
