#pragma once
// The broker's case store (docs/storage.md): every accepted case and every change of its state, in
// an embedded SQLite database in WAL mode with synchronous=FULL.
//
// Writes are buffered as operations and applied in one transaction by commit(), which the broker
// calls once per turn of its event loop (group commit); the broker sends "accepted" and final
// results only after the commit that holds them. A failed commit keeps its operations for the
// next attempt, so nothing the broker already acknowledged is dropped while storage is down.
//
// Reads go straight to the database and see what has been committed.
#include "broker/settings.hpp"
#include "common/util/error.hpp"
#include "common/util/time.hpp"

#include <spdlog/logger.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace SQLite {
class Database;
class Statement;
}  // namespace SQLite

namespace broker {

inline constexpr int kStoreSchemaVersion = 2;

// One case as stored. Which fields a write carries depends on the operation (see Store).
struct StoredCase {
  std::string id, tenant, idempotency_key, agent;
  std::string status;   // active | done | dead | discarded
  std::string outcome;  // the final status once ended: resolved, escalated, rejected, completed, failed
  int hop = 1, attempt = 1;
  bool dispatched = false;  // a task was out with an agent at the last write
  common::WallMs created_at = 0, deadline_at = 0, updated_at = 0, finished_at = 0;
  std::uint64_t payload_hash = 0;  // FNV-1a of the payload, to spot a reused idempotency key
  std::string client, corr;  // routing id and correlation of whoever awaits the final case
  std::string payload;       // the case's payload (JSON text)
  std::string record;        // what resuming the case needs (JSON text, written by the core)
  std::string result;        // the final case once ended (JSON text)
  std::string error;         // the error of a dead letter (JSON text)
};

// A message for the core banking systems (docs/event-bus.md#outbox): written in the same
// transaction as the end of its case, removed once a publisher acknowledges it.
struct OutboxEntry {
  std::int64_t seq = 0;  // assigned by the store; increasing
  std::string case_id, tenant;
  std::string kind;  // outcome | action
  std::string body;  // JSON text
  common::WallMs created_at = 0;
};

struct DeadLetterRow {
  std::string case_id, tenant, agent;
  int attempt = 0;
  std::string error;  // JSON
  common::WallMs at = 0;
};

class Store final {
 public:
  // Opens (creating when needed) the database: <state_dir>/broker.db, or an in-memory database
  // when settings.mode is "memory". Takes an exclusive lock on the state directory, so that two
  // brokers never share one. Throws std::runtime_error naming the path and the reason.
  static std::unique_ptr<Store> open(const StorageSettings& settings);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  bool durable() const { return durable_; }
  const std::string& describe() const { return description_; }

  // ---- buffered writes (applied by commit)
  void insert(StoredCase c);  // a new case, in any status
  // Phase only: agent, hop, attempt, dispatched, updated_at.
  void progress(const StoredCase& c);
  // Everything that changes while a case is active: the phase plus status (active), deadline,
  // client, corr and record.
  void snapshot(StoredCase c);
  // The end of a case: status (done or dead), outcome, the phase, finished_at, result, error and
  // record (kept for dead letters, so they can be retried).
  void finish(StoredCase c);
  void discard(const std::string& id, common::WallMs at);
  // Forgets the buffered writes of these cases (their submissions were refused after a failed
  // commit: they never existed).
  void drop(const std::unordered_set<std::string>& ids);
  // Buffered like the writes above (dropped with its case when drop() names it).
  void outbox_add(OutboxEntry e);
  // Replaces the final case of an ended case (a person's decision on a pending action).
  void update_result(const std::string& id, std::string result, common::WallMs at);
  std::size_t pending() const { return ops_.size(); }

  // Applies the buffered writes in one transaction, and prunes ended cases past their retention
  // when due. On failure the writes stay buffered and healthy() turns false; call again later.
  common::Result<void> commit(common::WallMs now);
  bool healthy() const { return healthy_; }
  const std::string& last_error() const { return last_error_; }
  // Fault injection for tests: the database may not grow past this many pages (SQLITE_FULL
  // past it, like a full disk); 0 lifts the limit.
  void limit_pages(std::int64_t pages);

  // ---- reads (committed state)
  struct KeyHit {
    std::string case_id, status;
    std::uint64_t payload_hash = 0;
    std::string result;  // the final case when ended
  };
  std::optional<KeyHit> find_key(const std::string& tenant, const std::string& key);
  std::optional<StoredCase> get(const std::string& id);
  // Active cases, oldest first, for recovery.
  void load_active(const std::function<void(StoredCase&&)>& each);
  std::vector<DeadLetterRow> dead_letters(std::size_t limit);
  std::size_t dead_letter_count();

  // The outbox, for publishers (CONTROL outbox.claim / outbox.ack). claim leases up to limit
  // entries, oldest first, that no other publisher holds (or whose lease ran out) to owner until
  // now + lease_ms, in a transaction of its own; ack removes entries owner holds and returns how
  // many. Both throw std::runtime_error when the store cannot be written.
  std::vector<OutboxEntry> outbox_claim(const std::string& owner, std::size_t limit, std::size_t max_bytes,
                                        common::WallMs now, common::WallMs lease_ms);
  std::size_t outbox_ack(const std::string& owner, const std::vector<std::int64_t>& seqs);
  std::size_t outbox_count();

 private:
  enum class OpKind { kInsert, kProgress, kSnapshot, kFinish, kDiscard, kOutbox, kResult };
  struct Op {
    OpKind kind;
    StoredCase c;  // kOutbox: c.id is the entry's case id
    OutboxEntry outbox;
  };
  struct Statements;
  explicit Store(const StorageSettings& settings);
  void apply(const Op& op);
  void prune(common::WallMs now);
  static StoredCase read_row(SQLite::Statement& q);

  StorageSettings settings_;
  bool durable_ = false;
  std::string description_;
  int lock_fd_ = -1;
  std::unique_ptr<SQLite::Database> db_;
  std::unique_ptr<Statements> st_;
  std::vector<Op> ops_;
  bool healthy_ = true;
  std::string last_error_;
  common::WallMs next_prune_ = 0;
  std::shared_ptr<spdlog::logger> log_;
};

std::uint64_t payload_hash(std::string_view payload) noexcept;

}  // namespace broker
