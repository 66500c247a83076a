#pragma once
// The broker's configuration (docs/configuration.md): one typed struct, read strictly from the
// merged config document (file, environment, flags) and validated before any socket opens.
#include "common/bus/curve.hpp"
#include "common/util/json.hpp"
#include "common/util/log.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <cstddef>
#include <cstdint>
#include <string>

namespace common::policy {
class Policy;
}

namespace broker {

struct Workflow;  // workflow.hpp
using Workflows = std::map<std::string, Workflow, std::less<>>;

// What the protocol state machine needs; no I/O settings here.
struct CoreSettings {
  std::chrono::milliseconds heartbeat_interval{1000};
  int heartbeat_liveness = 3;
  std::size_t queue_limit = 10000;  // waiting tasks per agent kind; past it submissions get "busy"
  std::size_t max_cases = 100000;   // active cases; past it submissions get "busy"
  int max_attempts = 5;             // per hop, requeues and retries included
  std::chrono::milliseconds retry_backoff_initial{100};
  std::chrono::milliseconds retry_backoff_max{10000};
  std::chrono::milliseconds default_deadline{30000};
  std::chrono::milliseconds max_deadline{24LL * 3600 * 1000};
  int max_hops = 8;
  std::size_t max_message_bytes = 1 << 20;  // what peers accept: larger tasks and results fail the case
  // Write each ended case's outcome and its approved actions to the outbox, for casebus-ingest to
  // publish to the core banking event bus (docs/event-bus.md#outbox). Off: nothing drains it.
  bool outbox = false;
  // The routing table (docs/workflow.md) and the action policy (docs/policy.md). A submission whose
  // "to" names a workflow is a workflow case; any other "to" is a plain agent kind.
  std::shared_ptr<const Workflows> workflows;
  std::shared_ptr<const common::policy::Policy> policy;
};

// The case store (docs/storage.md).
struct StorageSettings {
  std::string mode = "sqlite";  // sqlite (durable) | memory (lost on restart: tests and benchmarks)
  std::string state_dir = "/var/lib/casebus";  // holds broker.db (sqlite mode)
  std::chrono::seconds retention{7 * 86400};              // ended cases: done and discarded
  std::chrono::seconds dead_letter_retention{30 * 86400};  // dead letters not retried or discarded
  // Ended cases kept at most (oldest pruned first); 0: no cap. Memory mode caps at 10000 unless set.
  std::size_t max_ended_cases = 0;
};

struct Settings {
  std::string client_endpoint = "tcp://127.0.0.1:7101";
  std::string agent_endpoint = "tcp://127.0.0.1:7102";
  std::int64_t max_message_bytes = 1 << 20;
  std::chrono::milliseconds shutdown_grace{10000};
  // After handling a message, keep polling without sleeping for this long before blocking: an idle
  // vCPU that halts costs tens of microseconds to wake. Off by default: it lowers latency at low
  // load but costs throughput under load (docs/performance.md has both figures).
  std::chrono::microseconds busy_poll{0};
  CoreSettings core;
  StorageSettings storage;
  // CURVE on both endpoints (docs/security.md#curve); empty: plaintext.
  common::bus::CurveServerSettings curve;
  common::log::Settings log;
  nlohmann::json workflows_json;  // as configured, for --check-config
  nlohmann::json policy_json;
};

// Strict: unknown keys and out-of-range values throw with the JSON path in the message.
void from_json(const nlohmann::json& j, Settings& s);
nlohmann::json to_json(const Settings& s);

}  // namespace broker
