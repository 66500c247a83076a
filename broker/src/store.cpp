#include "store.hpp"

#include "common/util/log.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace broker {

namespace fs = std::filesystem;
using common::WallMs;

std::uint64_t payload_hash(std::string_view payload) noexcept {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : payload) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

namespace {

// Schema version 1 (docs/storage.md#schema). A later version adds a migration step in migrate().
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE cases (
  id           TEXT PRIMARY KEY,
  tenant       TEXT NOT NULL,
  idem_key     TEXT,
  status       TEXT NOT NULL,
  outcome      TEXT,
  agent        TEXT NOT NULL,
  hop          INTEGER NOT NULL,
  attempt      INTEGER NOT NULL,
  dispatched   INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  deadline_at  INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  finished_at  INTEGER,
  payload_hash INTEGER NOT NULL,
  client       BLOB,
  corr         BLOB,
  payload      TEXT,
  record       TEXT,
  result       TEXT,
  error        TEXT
);
CREATE UNIQUE INDEX cases_idem ON cases(tenant, idem_key) WHERE idem_key IS NOT NULL;
CREATE INDEX cases_active ON cases(created_at) WHERE status = 'active';
CREATE INDEX cases_dead ON cases(finished_at) WHERE status = 'dead';
CREATE INDEX cases_ended ON cases(finished_at) WHERE status IN ('done', 'discarded');
)sql";

// Schema version 2: the outbox (docs/event-bus.md#outbox). Also the migration from version 1.
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE outbox (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  case_id     TEXT NOT NULL,
  tenant      TEXT NOT NULL,
  kind        TEXT NOT NULL,
  body        TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  lease_owner TEXT,
  lease_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_lease ON outbox(lease_until, seq);
)sql";

constexpr const char* kColumns =
    "id, tenant, idem_key, status, outcome, agent, hop, attempt, dispatched, created_at, deadline_at, updated_at, "
    "finished_at, payload_hash, client, corr, payload, record, result, error";

// How long prune() may delete in one go, and how often it runs while nothing is left to prune.
constexpr int kPruneBatch = 2000;
constexpr WallMs kPruneEveryMs = 1'000;

std::string sqlite_message(const SQLite::Exception& e) {
  return fmt::format("{} (sqlite error {})", e.what(), e.getExtendedErrorCode());
}

}  // namespace

struct Store::Statements {
  explicit Statements(SQLite::Database& db)
      : insert(db, fmt::format("INSERT INTO cases ({}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", kColumns)),
        progress(db, "UPDATE cases SET agent=?2, hop=?3, attempt=?4, dispatched=?5, updated_at=?6 WHERE id=?1"),
        snapshot(db,
                 "UPDATE cases SET status='active', outcome=NULL, agent=?2, hop=?3, attempt=?4, dispatched=?5, updated_at=?6, "
                 "deadline_at=?7, client=?8, corr=?9, record=?10, finished_at=NULL, result=NULL, error=NULL WHERE id=?1"),
        // An ended case keeps its final case (which holds the payload); a dead letter also keeps
        // its payload and record, to be retried.
        finish(db,
               "UPDATE cases SET status=?2, outcome=?3, agent=?4, hop=?5, attempt=?6, dispatched=0, updated_at=?7, "
               "finished_at=?7, result=?8, error=?9, record=?10, payload=CASE WHEN ?2='dead' THEN payload END WHERE id=?1"),
        discard(db, "UPDATE cases SET status='discarded', updated_at=?2, finished_at=?2 WHERE id=?1 AND status='dead'"),
        find_key(db, "SELECT id, status, payload_hash, result FROM cases WHERE tenant=? AND idem_key=? AND idem_key IS NOT NULL"),
        get(db, fmt::format("SELECT {} FROM cases WHERE id=?", kColumns)),
        prune_ended(db,
                    "DELETE FROM cases WHERE rowid IN (SELECT rowid FROM cases WHERE status IN ('done', 'discarded') "
                    "AND finished_at < ? LIMIT ?)"),
        prune_dead(db,
                   "DELETE FROM cases WHERE rowid IN (SELECT rowid FROM cases WHERE status = 'dead' AND finished_at < ? "
                   "LIMIT ?)"),
        prune_count(db,
                    "DELETE FROM cases WHERE rowid IN (SELECT rowid FROM cases WHERE status IN ('done', 'discarded') "
                    "ORDER BY finished_at DESC LIMIT ? OFFSET ?)"),
        result(db, "UPDATE cases SET result=?2, updated_at=?3 WHERE id=?1 AND status='done'"),
        outbox_add(db, "INSERT INTO outbox (case_id, tenant, kind, body, created_at) VALUES (?,?,?,?,?)"),
        outbox_select(db, "SELECT seq, case_id, tenant, kind, body, created_at FROM outbox WHERE lease_until < ? ORDER BY seq LIMIT ?"),
        outbox_lease(db, "UPDATE outbox SET lease_owner=?2, lease_until=?3 WHERE seq=?1"),
        outbox_ack(db, "DELETE FROM outbox WHERE seq=? AND lease_owner=?"),
        begin(db, "BEGIN IMMEDIATE"),
        commit(db, "COMMIT") {}
  SQLite::Statement insert, progress, snapshot, finish, discard, find_key, get, prune_ended, prune_dead, prune_count,
      result, outbox_add, outbox_select, outbox_lease, outbox_ack, begin, commit;
};

Store::Store(const StorageSettings& settings) : settings_(settings), log_(common::log::get("broker")) {}

std::unique_ptr<Store> Store::open(const StorageSettings& settings) {
  std::unique_ptr<Store> s(new Store(settings));
  std::string path = ":memory:";
  if (settings.mode == "sqlite") {
    s->durable_ = true;
    std::error_code ec;
    fs::create_directories(settings.state_dir, ec);
    if (ec) throw std::runtime_error("cannot create state directory " + settings.state_dir + ": " + ec.message());
    const auto lock_path = (fs::path(settings.state_dir) / "broker.lock").string();
    s->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd_ < 0) throw std::runtime_error("cannot open " + lock_path + ": " + std::strerror(errno));
    if (::flock(s->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      throw std::runtime_error("state directory " + settings.state_dir + " is in use by another broker (" + lock_path +
                               " is locked)");
    }
    path = (fs::path(settings.state_dir) / "broker.db").string();
  }
  try {
    s->db_ = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX);
    auto& db = *s->db_;
    if (s->durable_) {
      // WAL: readers do not block the writer, and a commit is one sequential append + fsync.
      // FULL: the WAL is synced at every commit, so an acknowledged case survives power loss too.
      std::string mode = db.execAndGet("PRAGMA journal_mode=WAL").getString();
      if (mode != "wal") throw std::runtime_error("cannot switch " + path + " to WAL mode (got " + mode + ")");
      db.exec("PRAGMA synchronous=FULL");
    } else {
      db.exec("PRAGMA journal_mode=MEMORY");
      db.exec("PRAGMA synchronous=OFF");
    }
    db.exec("PRAGMA foreign_keys=OFF");
    db.exec("PRAGMA temp_store=MEMORY");
    // Large rows (payload, record, result) in few pages; the page cache sized for a busy broker.
    db.exec("PRAGMA cache_size=-65536");
    const int version = db.execAndGet("PRAGMA user_version").getInt();
    if (version > kStoreSchemaVersion) {
      throw std::runtime_error(fmt::format("{} has schema version {}, newer than this broker's {}; upgrade the broker",
                                           path, version, kStoreSchemaVersion));
    }
    if (version < kStoreSchemaVersion) {
      // A new database gets every step; an older one the steps it lacks, in one transaction.
      SQLite::Transaction t(db);
      if (version < 1) db.exec(kSchemaV1);
      if (version < 2) db.exec(kSchemaV2);
      db.exec(fmt::format("PRAGMA user_version={}", kStoreSchemaVersion));
      t.commit();
      if (version > 0) s->log_->info("store migrated path={} from_version={} to_version={}", path, version, kStoreSchemaVersion);
    }
    s->st_ = std::make_unique<Statements>(db);
  } catch (const SQLite::Exception& e) {
    throw std::runtime_error("cannot open case store " + path + ": " + sqlite_message(e));
  }
  s->description_ = s->durable_ ? "sqlite " + path : "memory (not durable: cases are lost when the broker stops)";
  return s;
}

Store::~Store() {
  st_.reset();
  db_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void Store::insert(StoredCase c) {
  ops_.push_back({OpKind::kInsert, std::move(c)});
}

void Store::progress(const StoredCase& c) {
  Op op{OpKind::kProgress, {}};
  op.c.id = c.id;
  op.c.agent = c.agent;
  op.c.hop = c.hop;
  op.c.attempt = c.attempt;
  op.c.dispatched = c.dispatched;
  op.c.updated_at = c.updated_at;
  ops_.push_back(std::move(op));
}

void Store::snapshot(StoredCase c) {
  ops_.push_back({OpKind::kSnapshot, std::move(c)});
}

void Store::finish(StoredCase c) {
  ops_.push_back({OpKind::kFinish, std::move(c)});
}

void Store::discard(const std::string& id, WallMs at) {
  Op op{OpKind::kDiscard, {}};
  op.c.id = id;
  op.c.finished_at = at;
  ops_.push_back(std::move(op));
}

void Store::outbox_add(OutboxEntry e) {
  Op op{OpKind::kOutbox, {}, std::move(e)};
  op.c.id = op.outbox.case_id;
  ops_.push_back(std::move(op));
}

void Store::update_result(const std::string& id, std::string result, WallMs at) {
  Op op{OpKind::kResult, {}, {}};
  op.c.id = id;
  op.c.result = std::move(result);
  op.c.updated_at = at;
  ops_.push_back(std::move(op));
}

void Store::drop(const std::unordered_set<std::string>& ids) {
  std::erase_if(ops_, [&](const Op& op) { return ids.count(op.c.id) > 0; });
}

namespace {

void bind_text_or_null(SQLite::Statement& q, int i, const std::string& v) {
  if (v.empty()) {
    q.bind(i);
  } else {
    q.bindNoCopy(i, v);
  }
}

void bind_blob_or_null(SQLite::Statement& q, int i, const std::string& v) {
  if (v.empty()) {
    q.bind(i);
  } else {
    q.bindNoCopy(i, v.data(), static_cast<int>(v.size()));
  }
}

// Runs a write statement once and makes it ready for the next use.
void run(SQLite::Statement& q) {
  try {
    q.exec();
  } catch (...) {
    q.tryReset();
    q.clearBindings();
    throw;
  }
  q.reset();
  q.clearBindings();
}

}  // namespace

void Store::apply(const Op& op) {
  const auto& c = op.c;
  switch (op.kind) {
    case OpKind::kInsert: {
      auto& q = st_->insert;
      q.bindNoCopy(1, c.id);
      q.bindNoCopy(2, c.tenant);
      bind_text_or_null(q, 3, c.idempotency_key);
      q.bindNoCopy(4, c.status);
      bind_text_or_null(q, 5, c.outcome);
      q.bindNoCopy(6, c.agent);
      q.bind(7, c.hop);
      q.bind(8, c.attempt);
      q.bind(9, c.dispatched ? 1 : 0);
      q.bind(10, static_cast<std::int64_t>(c.created_at));
      q.bind(11, static_cast<std::int64_t>(c.deadline_at));
      q.bind(12, static_cast<std::int64_t>(c.updated_at));
      if (c.finished_at) {
        q.bind(13, static_cast<std::int64_t>(c.finished_at));
      } else {
        q.bind(13);
      }
      q.bind(14, static_cast<std::int64_t>(c.payload_hash));
      bind_blob_or_null(q, 15, c.client);
      bind_blob_or_null(q, 16, c.corr);
      bind_text_or_null(q, 17, c.payload);
      bind_text_or_null(q, 18, c.record);
      bind_text_or_null(q, 19, c.result);
      bind_text_or_null(q, 20, c.error);
      run(q);
      return;
    }
    case OpKind::kProgress: {
      auto& q = st_->progress;
      q.bindNoCopy(1, c.id);
      q.bindNoCopy(2, c.agent);
      q.bind(3, c.hop);
      q.bind(4, c.attempt);
      q.bind(5, c.dispatched ? 1 : 0);
      q.bind(6, static_cast<std::int64_t>(c.updated_at));
      run(q);
      return;
    }
    case OpKind::kSnapshot: {
      auto& q = st_->snapshot;
      q.bindNoCopy(1, c.id);
      q.bindNoCopy(2, c.agent);
      q.bind(3, c.hop);
      q.bind(4, c.attempt);
      q.bind(5, c.dispatched ? 1 : 0);
      q.bind(6, static_cast<std::int64_t>(c.updated_at));
      q.bind(7, static_cast<std::int64_t>(c.deadline_at));
      bind_blob_or_null(q, 8, c.client);
      bind_blob_or_null(q, 9, c.corr);
      bind_text_or_null(q, 10, c.record);
      run(q);
      return;
    }
    case OpKind::kFinish: {
      auto& q = st_->finish;
      q.bindNoCopy(1, c.id);
      q.bindNoCopy(2, c.status);
      bind_text_or_null(q, 3, c.outcome);
      q.bindNoCopy(4, c.agent);
      q.bind(5, c.hop);
      q.bind(6, c.attempt);
      q.bind(7, static_cast<std::int64_t>(c.finished_at));
      bind_text_or_null(q, 8, c.result);
      bind_text_or_null(q, 9, c.error);
      bind_text_or_null(q, 10, c.record);
      run(q);
      return;
    }
    case OpKind::kDiscard: {
      auto& q = st_->discard;
      q.bindNoCopy(1, c.id);
      q.bind(2, static_cast<std::int64_t>(c.finished_at));
      run(q);
      return;
    }
    case OpKind::kResult: {
      auto& q = st_->result;
      q.bindNoCopy(1, c.id);
      q.bindNoCopy(2, c.result);
      q.bind(3, static_cast<std::int64_t>(c.updated_at));
      run(q);
      return;
    }
    case OpKind::kOutbox: {
      auto& q = st_->outbox_add;
      const auto& o = op.outbox;
      q.bindNoCopy(1, o.case_id);
      q.bindNoCopy(2, o.tenant);
      q.bindNoCopy(3, o.kind);
      q.bindNoCopy(4, o.body);
      q.bind(5, static_cast<std::int64_t>(o.created_at));
      run(q);
      return;
    }
  }
}

std::vector<OutboxEntry> Store::outbox_claim(const std::string& owner, std::size_t limit, std::size_t max_bytes, WallMs now,
                                             WallMs lease_ms) {
  std::vector<OutboxEntry> out;
  try {
    SQLite::Transaction t(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    auto& q = st_->outbox_select;
    q.bind(1, static_cast<std::int64_t>(now));
    q.bind(2, static_cast<std::int64_t>(limit));
    std::size_t bytes = 0;
    while (q.executeStep()) {
      OutboxEntry e;
      e.seq = q.getColumn(0).getInt64();
      e.case_id = q.getColumn(1).getString();
      e.tenant = q.getColumn(2).getString();
      e.kind = q.getColumn(3).getString();
      e.body = q.getColumn(4).getString();
      e.created_at = q.getColumn(5).getInt64();
      bytes += e.body.size() + e.case_id.size() + e.tenant.size() + 64;
      // Always at least one, so that progress is made; the caller's reply limit decides the rest.
      if (!out.empty() && bytes > max_bytes) break;
      out.push_back(std::move(e));
    }
    q.reset();
    auto& u = st_->outbox_lease;
    for (const auto& e : out) {
      u.bind(1, static_cast<std::int64_t>(e.seq));
      u.bindNoCopy(2, owner);
      u.bind(3, static_cast<std::int64_t>(now + lease_ms));
      run(u);
    }
    t.commit();
  } catch (const SQLite::Exception& e) {
    st_->outbox_select.tryReset();
    throw std::runtime_error("outbox claim failed: " + sqlite_message(e));
  }
  return out;
}

std::size_t Store::outbox_ack(const std::string& owner, const std::vector<std::int64_t>& seqs) {
  std::size_t n = 0;
  try {
    SQLite::Transaction t(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    auto& q = st_->outbox_ack;
    for (const auto seq : seqs) {
      q.bind(1, static_cast<std::int64_t>(seq));
      q.bindNoCopy(2, owner);
      run(q);
      n += static_cast<std::size_t>(db_->getChanges());
    }
    t.commit();
  } catch (const SQLite::Exception& e) {
    throw std::runtime_error("outbox ack failed: " + sqlite_message(e));
  }
  return n;
}

std::size_t Store::outbox_count() {
  return static_cast<std::size_t>(db_->execAndGet("SELECT count(*) FROM outbox").getInt64());
}

void Store::prune(WallMs now) {
  int deleted = 0;
  auto batch = [&](SQLite::Statement& q, WallMs before) {
    q.bind(1, static_cast<std::int64_t>(before));
    q.bind(2, kPruneBatch);
    run(q);
    deleted += db_->getChanges();
  };
  batch(st_->prune_ended, now - std::chrono::duration_cast<std::chrono::milliseconds>(settings_.retention).count());
  batch(st_->prune_dead, now - std::chrono::duration_cast<std::chrono::milliseconds>(settings_.dead_letter_retention).count());
  if (settings_.max_ended_cases > 0) {
    auto& q = st_->prune_count;
    q.bind(1, kPruneBatch);
    q.bind(2, static_cast<std::int64_t>(settings_.max_ended_cases));
    run(q);
    deleted += db_->getChanges();
  }
  // More left: come back on the next commit rather than holding this one up.
  next_prune_ = deleted >= kPruneBatch ? now : now + kPruneEveryMs;
  if (deleted > 0) log_->debug("store pruned cases={}", deleted);
}

common::Result<void> Store::commit(WallMs now) {
  const bool prune_due = now >= next_prune_ && healthy_;
  if (ops_.empty() && !prune_due && healthy_) return {};
  try {
    st_->begin.exec();
    st_->begin.reset();
    try {
      for (const auto& op : ops_) apply(op);
      // After a failure with nothing left to write, a real write tells whether storage is back.
      if (!healthy_ && ops_.empty()) db_->exec(fmt::format("PRAGMA user_version={}", kStoreSchemaVersion));
      if (prune_due) prune(now);
      st_->commit.exec();
      st_->commit.reset();
    } catch (...) {
      st_->commit.tryReset();
      // A failed COMMIT may leave the transaction open (SQLITE_BUSY, SQLITE_FULL): roll it back so
      // the next attempt starts clean. The writes stay in ops_.
      if (sqlite3_get_autocommit(db_->getHandle()) == 0) sqlite3_exec(db_->getHandle(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  } catch (const SQLite::Exception& e) {
    st_->begin.tryReset();
    const bool was_healthy = healthy_;
    healthy_ = false;
    last_error_ = sqlite_message(e);
    if (was_healthy) log_->error("store write failed, refusing new cases until it recovers err={} pending_writes={}", last_error_, ops_.size());
    return common::make_error(common::Errc::kStorageUnavailable, "", "the case store cannot be written: " + last_error_);
  }
  ops_.clear();
  if (!healthy_) log_->warn("store writable again, accepting cases");
  healthy_ = true;
  last_error_.clear();
  return {};
}

void Store::limit_pages(std::int64_t pages) {
  db_->exec(fmt::format("PRAGMA max_page_count={}", pages > 0 ? pages : 4294967294LL));
}

StoredCase Store::read_row(SQLite::Statement& q) {
  StoredCase c;
  auto text = [&](int i) { return q.getColumn(i).isNull() ? std::string() : q.getColumn(i).getString(); };
  c.id = text(0);
  c.tenant = text(1);
  c.idempotency_key = text(2);
  c.status = text(3);
  c.outcome = text(4);
  c.agent = text(5);
  c.hop = q.getColumn(6).getInt();
  c.attempt = q.getColumn(7).getInt();
  c.dispatched = q.getColumn(8).getInt() != 0;
  c.created_at = q.getColumn(9).getInt64();
  c.deadline_at = q.getColumn(10).getInt64();
  c.updated_at = q.getColumn(11).getInt64();
  c.finished_at = q.getColumn(12).isNull() ? 0 : q.getColumn(12).getInt64();
  c.payload_hash = static_cast<std::uint64_t>(q.getColumn(13).getInt64());
  c.client = text(14);
  c.corr = text(15);
  c.payload = text(16);
  c.record = text(17);
  c.result = text(18);
  c.error = text(19);
  return c;
}

std::optional<Store::KeyHit> Store::find_key(const std::string& tenant, const std::string& key) {
  auto& q = st_->find_key;
  q.bindNoCopy(1, tenant);
  q.bindNoCopy(2, key);
  std::optional<KeyHit> hit;
  try {
    if (q.executeStep()) {
      hit.emplace();
      hit->case_id = q.getColumn(0).getString();
      hit->status = q.getColumn(1).getString();
      hit->payload_hash = static_cast<std::uint64_t>(q.getColumn(2).getInt64());
      if (!q.getColumn(3).isNull()) hit->result = q.getColumn(3).getString();
    }
  } catch (...) {
    q.tryReset();
    q.clearBindings();
    throw;
  }
  q.reset();
  q.clearBindings();
  return hit;
}

std::optional<StoredCase> Store::get(const std::string& id) {
  auto& q = st_->get;
  q.bindNoCopy(1, id);
  std::optional<StoredCase> row;
  try {
    if (q.executeStep()) row = read_row(q);
  } catch (...) {
    q.tryReset();
    q.clearBindings();
    throw;
  }
  q.reset();
  q.clearBindings();
  return row;
}

void Store::load_active(const std::function<void(StoredCase&&)>& each) {
  SQLite::Statement q(*db_, fmt::format("SELECT {} FROM cases WHERE status = 'active' ORDER BY created_at", kColumns));
  while (q.executeStep()) each(read_row(q));
}

std::vector<DeadLetterRow> Store::dead_letters(std::size_t limit) {
  SQLite::Statement q(*db_,
                      "SELECT id, tenant, agent, attempt, error, finished_at FROM cases WHERE status = 'dead' "
                      "ORDER BY finished_at DESC LIMIT ?");
  q.bind(1, static_cast<std::int64_t>(limit));
  std::vector<DeadLetterRow> out;
  while (q.executeStep()) {
    DeadLetterRow r;
    r.case_id = q.getColumn(0).getString();
    r.tenant = q.getColumn(1).getString();
    r.agent = q.getColumn(2).getString();
    r.attempt = q.getColumn(3).getInt();
    r.error = q.getColumn(4).isNull() ? "null" : q.getColumn(4).getString();
    r.at = q.getColumn(5).getInt64();
    out.push_back(std::move(r));
  }
  return out;
}

std::size_t Store::dead_letter_count() {
  return static_cast<std::size_t>(db_->execAndGet("SELECT count(*) FROM cases WHERE status = 'dead'").getInt64());
}

}  // namespace broker
