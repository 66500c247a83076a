#pragma once
// casebus-edge's configuration (docs/api.md#configuration): one typed struct read strictly from the
// merged config document and validated before any socket opens.
#include "auth.hpp"

#include "common/bus/curve.hpp"
#include "common/util/json.hpp"
#include "common/util/log.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace edge {

struct TenantLimits {
  double rate_per_s = 50;            // token bucket per tenant: sustained requests per second
  double burst = 100;                //   and the bucket's size
  double customer_rate_per_s = 2;    // per (tenant, customer_ref)
  double customer_burst = 10;
  std::size_t max_in_flight = 1000;  // cases of the tenant waiting at the broker through this edge
};

struct Tenant {
  TenantCredentials credentials;
  TenantLimits limits;
};

struct Settings {
  std::string listen_address = "127.0.0.1";
  std::uint16_t listen_port = 8080;  // 0 picks a free port (tests); the bound one goes out with READY=1
  std::string broker_endpoint = "tcp://127.0.0.1:7101";
  common::bus::CurveClientSettings curve;  // CURVE to the broker (docs/security.md#curve)
  // Threads for connections (HTTP parsing, TLS). The bus client and all state stay on the main
  // thread; 1 runs everything there.
  std::size_t threads = 1;
  std::string workflow = "banking";  // what POST /v1/cases submits to
  std::vector<std::string> required_agent_kinds = {"classifier", "fraud_reviewer", "response_drafter", "escalation"};
  std::string tls_certificate, tls_private_key;  // both or neither: PEM files; TLS when set

  std::size_t max_body_bytes = 64 * 1024;
  std::size_t max_header_bytes = 8 * 1024;
  std::chrono::milliseconds read_timeout{10000};  // a whole request, once its first byte arrived
  std::chrono::milliseconds idle_timeout{30000};  // waiting for the next request on a connection
  std::size_t max_connections = 1024;
  std::chrono::seconds max_wait{30};              // the largest Prefer: wait honoured
  std::chrono::milliseconds case_deadline{30000};  // deadline of every case submitted
  std::chrono::seconds case_retention{3600};      // how long GET /v1/cases/{id} knows a finished case
  std::size_t max_cases = 100000;                 // cases remembered for GET and idempotency
  std::chrono::seconds idempotency_retention{86400};
  AuthSettings auth;
  std::vector<Tenant> tenants;
  common::log::Settings log;
};

// Strict: unknown keys and bad values throw std::invalid_argument naming the key.
void from_json(const nlohmann::json& j, Settings& s);
// Without secrets (they are replaced by "***"), for --check-config.
nlohmann::json to_json(const Settings& s);

}  // namespace edge
