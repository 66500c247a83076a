#include "server.hpp"

#include "cases.hpp"
#include "errors.hpp"
#include "limits.hpp"
#include "routes.hpp"

#include "common/bus/client.hpp"
#include "common/cases/payload.hpp"
#include "common/redact/redact.hpp"
#include "common/util/ids.hpp"
#include "common/util/log.hpp"
#include "common/util/time.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

namespace edge {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace bus = common::bus;
using tcp = net::ip::tcp;
using nlohmann::json;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);
// How long a request waits for the broker to accept its case before answering 503.
constexpr std::chrono::seconds kAcceptTimeout{5};
// How long a GET waits for the broker to look a case up: a client polls, so it may as well poll
// again rather than hold its connection (and this edge's) on a broker that does not answer.
constexpr std::chrono::seconds kLookupTimeout{2};

namespace {

Response json_response(unsigned version, bool keep_alive, http::status status, std::string body) {
  Response res{status, version};
  res.set(http::field::server, "casebus-edge");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

std::string error_body(std::string_view code, std::string_view message, std::string_view field = {}) {
  json e{{"code", code}, {"message", message}};
  if (!field.empty()) e["field"] = field;
  return json{{"error", e}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Every error value the edge answers with: the status, code and Retry-After from http_error
// (errors.hpp), the message and field from the caller.
Response error_response(unsigned version, bool keep_alive, const common::Error& e) {
  const HttpError h = http_error(e.code);
  auto res = json_response(version, keep_alive, static_cast<http::status>(h.status), error_body(h.code, e.message, e.field));
  if (h.retry_after.count() > 0) res.set(http::field::retry_after, std::to_string(h.retry_after.count()));
  return res;
}

common::Error key_reused() {
  return common::make_error(common::Errc::kDuplicate, "Idempotency-Key", "this Idempotency-Key was used with a different body");
}

// What a client is told about a submission the broker did not accept: the broker's own words
// where they are about the request (a field of the body), the edge's otherwise (the broker's
// speak of envelopes and storage engines).
common::Error refusal(const bus::Outcome& o) {
  using common::Errc;
  using common::make_error;
  const std::string later = "the broker did not accept the case; retry later";
  if (o.status != bus::Outcome::Status::kRejected) return make_error(Errc::kTimeout, "", later);
  switch (o.error.code) {
    case Errc::kBusy: return make_error(Errc::kBusy, "", "the broker is at capacity; retry later");
    case Errc::kStorageUnavailable:
      return make_error(Errc::kStorageUnavailable, "", "the broker cannot store the case right now; nothing was accepted; retry later");
    // The broker remembers keys across edge restarts, and per tenant like the edge.
    case Errc::kDuplicate: return key_reused();
    case Errc::kShuttingDown:
    case Errc::kTimeout:
    case Errc::kInternal: return make_error(o.error.code, "", later);
    default: return o.error;
  }
}

// "c-" and 32 lowercase hex digits (common::new_case_id).
bool valid_case_id(std::string_view id) {
  return id.size() == 34 && id.starts_with("c-") &&
         std::all_of(id.begin() + 2, id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// "wait=5" in a Prefer header (RFC 7240), bounded by max.
std::chrono::seconds prefer_wait(std::string_view prefer, std::chrono::seconds max) {
  const auto pos = prefer.find("wait=");
  if (pos == std::string_view::npos) return std::chrono::seconds(0);
  long v = 0;
  for (std::size_t i = pos + 5; i < prefer.size() && prefer[i] >= '0' && prefer[i] <= '9' && v < 100000; ++i) v = v * 10 + (prefer[i] - '0');
  return std::min(std::chrono::seconds(v), max);
}

common::bus::SocketOptions bus_options(const Settings& s) {
  common::bus::SocketOptions o;
  o.curve = common::bus::client_curve_options(s.curve);
  return o;
}

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Impl> {
  Impl(net::io_context& io_, zmq::context_t& ctx, Settings s)
      : io(io_),
        settings(std::move(s)),
        log(common::log::get("edge")),
        pool(settings.threads > 1 ? std::make_unique<net::io_context>(static_cast<int>(settings.threads)) : nullptr),
        acceptor(std::in_place, pool ? *pool : io),
        bus(std::in_place, io, ctx, settings.broker_endpoint, bus_options(settings)),
        auth(credentials(settings), settings.auth),
        cases(settings.max_cases, settings.case_retention, settings.idempotency_retention),
        tls(net::ssl::context::tls_server) {
    for (const auto& t : settings.tenants) limits.emplace(t.credentials.tenant, t.limits);
    if (!settings.tls_certificate.empty()) {
      tls.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 | net::ssl::context::no_sslv3 |
                      net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
      SSL_CTX_set_options(tls.native_handle(), SSL_OP_NO_RENEGOTIATION);
      tls.use_certificate_chain_file(settings.tls_certificate);
      tls.use_private_key_file(settings.tls_private_key, net::ssl::context::pem);
      use_tls = true;
    }
  }

  static std::vector<TenantCredentials> credentials(const Settings& s) {
    std::vector<TenantCredentials> out;
    for (const auto& t : s.tenants) out.push_back(t.credentials);
    return out;
  }

  // The core: the bus client and every piece of state (auth, limits, cases) live on `io`, one
  // thread. With threads > 1, connections (HTTP parsing, TLS) run on `pool` with that many
  // threads, and each request hops to the core and back (co_spawn).
  net::io_context& io;
  Settings settings;
  std::shared_ptr<spdlog::logger> log;
  std::unique_ptr<net::io_context> pool;  // before the acceptor: destroyed after it
  std::vector<std::thread> pool_threads;
  std::optional<tcp::acceptor> acceptor;
  std::optional<bus::BusClient> bus;  // reset when stopped: its socket must close before the context
  Authenticator auth;
  RateLimiter limiter;
  CaseTable cases;
  std::unordered_map<std::string, TenantLimits> limits;
  net::ssl::context tls;
  bool use_tls = false;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> connections{0};
  std::unordered_map<std::string, std::size_t> submitting;  // by tenant: sent, not yet accepted or refused
  std::mutex idle_mutex;
  std::function<void()> on_idle;  // set while stopping: posted to the core when the last connection closes

  // ---------------------------------------------------------------------------------------
  // Connections

  net::io_context& net_io() { return pool ? *pool : io; }

  // Stops the connection threads (on the core, after the grace period). The pool itself stays
  // until the server goes: a request still at the core may post its answer to it.
  void stop_pool() {
    if (!pool) return;
    pool->stop();
    for (auto& t : pool_threads) t.join();
    pool_threads.clear();
  }

  net::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (!stopping) {
      auto [ec, socket] = co_await acceptor->async_accept(kTuple);
      if (ec == net::error::operation_aborted || stopping) break;
      if (ec) {
        // Transient (EMFILE, ENFILE, ECONNABORTED): keep serving, but pause rather than spin on
        // an error that repeats at once, and say so once per pause.
        log->warn("accept failed err={} pause_ms=100", ec.message());
        net::steady_timer pause(acceptor->get_executor(), std::chrono::milliseconds(100));
        co_await pause.async_wait(kTuple);
        continue;
      }
      ++connections;
      net::co_spawn(net_io(), connection(std::move(socket)), [self](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            self->log->error("connection failed err={}", ex.what());
          }
        }
        if (--self->connections == 0) {
          std::lock_guard lock(self->idle_mutex);
          if (self->on_idle) net::post(self->io, self->on_idle);
        }
      });
    }
  }

  net::awaitable<void> connection(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    if (connections > settings.max_connections && use_tls) {
      // Over the cap with TLS: a plain-text answer would only look like a broken handshake.
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return;
    }
    if (connections > settings.max_connections) {
      // Over the cap: one short answer, then close, so that clients back off.
      stream.expires_after(std::chrono::seconds(2));
      auto res = json_response(11, false, http::status::service_unavailable,
                               error_body("too_many_connections", "the edge holds its maximum number of connections"));
      res.set(http::field::retry_after, "1");
      co_await http::async_write(stream, res, kTuple);
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return;
    }
    if (!use_tls) {
      co_await serve(stream);
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> tls_stream(std::move(stream), tls);
    beast::get_lowest_layer(tls_stream).expires_after(settings.read_timeout);
    auto [ec] = co_await tls_stream.async_handshake(net::ssl::stream_base::server, kTuple);
    if (ec) {
      log->debug("tls handshake failed err={}", ec.message());
      co_return;
    }
    co_await serve(tls_stream);
    beast::get_lowest_layer(tls_stream).expires_after(std::chrono::seconds(2));
    co_await tls_stream.async_shutdown(kTuple);
  }

  // Requests on one connection, one at a time (HTTP/1.1 keep-alive).
  template <class Stream>
  net::awaitable<void> serve(Stream& stream) {
    beast::flat_buffer buffer;
    auto& lowest = beast::get_lowest_layer(stream);
    while (!stopping) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(settings.max_header_bytes));
      parser.body_limit(settings.max_body_bytes);
      // Idle: waiting for the next request. Then the whole request (header and body) within the
      // read timeout, so that a client sending a byte at a time cannot hold the connection.
      beast::error_code ec0;
      if (buffer.size() == 0) {
        lowest.expires_after(settings.idle_timeout);
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), kTuple);
        buffer.commit(n);
        ec0 = ec;
      }
      if (!ec0) {
        lowest.expires_after(settings.read_timeout);
        auto [ec1, n1] = co_await http::async_read(stream, buffer, parser, kTuple);
        ec0 = ec1;
      }
      if (ec0 == http::error::end_of_stream || ec0 == net::error::eof || ec0 == net::error::connection_reset) co_return;
      if (ec0 == beast::error::timeout) {
        log->debug("connection timed out");
        co_return;
      }
      if (ec0) {
        const bool too_large = ec0 == http::error::body_limit;
        const bool header_large = ec0 == http::error::header_limit;
        auto res = json_response(11, false,
                                 too_large      ? http::status::payload_too_large
                                 : header_large ? http::status::request_header_fields_too_large
                                                : http::status::bad_request,
                                 too_large      ? error_body("too_large", fmt::format("the body is over {} bytes", settings.max_body_bytes))
                                 : header_large ? error_body("headers_too_large", fmt::format("the headers are over {} bytes", settings.max_header_bytes))
                                                : error_body("bad_request", "the request is not valid HTTP/1.1"));
        lowest.expires_after(std::chrono::seconds(2));
        co_await http::async_write(stream, res, kTuple);
        co_return;
      }
      Request req = parser.release();
      const auto started = Clock::now();
      const bool request_keep_alive = req.keep_alive();
      const std::string method(req.method_string());
      const auto target_len = req.target().size();
      // (No co_await inside a conditional expression: GCC 12 miscompiles it.)
      Response res;
      if (pool) {
        res = co_await net::co_spawn(io, handle_owned(std::move(req)), net::use_awaitable);
      } else {
        res = co_await handle(req);
      }
      res.keep_alive(res.keep_alive() && request_keep_alive && !stopping);
      log->debug("request method={} target_len={} status={} ms={:.3f}", method, target_len,
                 res.result_int(), std::chrono::duration<double, std::milli>(Clock::now() - started).count());
      lowest.expires_after(settings.read_timeout);
      auto [ew, nw] = co_await http::async_write(stream, res, kTuple);
      if (ew || !res.keep_alive()) co_return;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Requests

  // A request handed to the core: the coroutine owns it.
  net::awaitable<Response> handle_owned(Request req) { co_return co_await handle(req); }

  net::awaitable<Response> handle(Request& req) {
    const unsigned v = req.version();
    const bool ka = req.keep_alive();
    auto reply = [&](http::status s, std::string body) { return json_response(v, ka, s, std::move(body)); };
    const std::string_view target = req.target();
    const std::string_view path = target.substr(0, target.find('?'));

    if (path == "/healthz" || path == "/readyz") {
      if (req.method() != http::verb::get) {
        auto res = reply(http::status::method_not_allowed, error_body("method_not_allowed", "use GET"));
        res.set(http::field::allow, "GET");
        co_return res;
      }
      if (path == "/healthz") co_return reply(http::status::ok, R"({"status":"ok"})");
      co_return co_await readyz(v, ka);
    }

    const Route* route = find_route(path);
    const bool case_get = path.starts_with("/v1/cases/") && path.size() > 10;
    if (!route && !case_get) co_return reply(http::status::not_found, error_body("not_found", "no such resource"));
    if (route && req.method() != http::verb::post) {
      auto res = reply(http::status::method_not_allowed, error_body("method_not_allowed", "use POST"));
      res.set(http::field::allow, "POST");
      co_return res;
    }
    if (case_get && req.method() != http::verb::get) {
      auto res = reply(http::status::method_not_allowed, error_body("method_not_allowed", "use GET"));
      res.set(http::field::allow, "GET");
      co_return res;
    }

    // Who is calling, before anything looks at the body.
    AuthResult who;
    if (auto sig = req.find("X-Casebus-Signature"); sig != req.end()) {
      auto tenant = req.find("X-Casebus-Tenant");
      who = auth.verify_signature(tenant == req.end() ? std::string_view{} : std::string_view(tenant->value()), sig->value(),
                                  req.method_string(), path, req.body(), unix_now());
    } else if (auto authz = req.find(http::field::authorization); authz != req.end()) {
      who = auth.verify_bearer(authz->value());
    } else {
      who.error = AuthError::kMissing;
      who.message = "send X-Casebus-Tenant and X-Casebus-Signature, or Authorization: Bearer";
    }
    if (!who.ok()) {
      log->debug("request refused status={} code={}", who.error == AuthError::kOverloaded ? 503 : 401, to_string(*who.error));
      if (*who.error == AuthError::kOverloaded) {
        auto res = reply(http::status::service_unavailable, error_body(to_string(*who.error), who.message));
        res.set(http::field::retry_after, "1");
        co_return res;
      }
      auto res = reply(http::status::unauthorized, error_body(to_string(*who.error), who.message));
      res.set(http::field::www_authenticate, "Bearer");
      co_return res;
    }
    const TenantLimits& lim = limits.at(who.tenant);
    std::chrono::seconds retry_after{1};
    if (!limiter.take("t\n" + who.tenant, lim.rate_per_s, lim.burst, Clock::now(), retry_after)) {
      co_return too_many(v, ka, "rate_limited", "the tenant's request rate is over its limit", retry_after);
    }
    if (case_get) co_return co_await get_case(v, ka, std::string(path.substr(10)), who.tenant);

    // The body: JSON, then the route's shape, then the case schema, errors naming the field.
    auto built = build_case(*route, req.body());
    if (!built) co_return error_response(v, ka, built.error());
    if (route->kind == RouteKind::kValidate) co_return reply(http::status::ok, built->validation.dump());
    if (!limiter.take("c\n" + who.tenant + "\n" + built->customer_ref, lim.customer_rate_per_s, lim.customer_burst, Clock::now(),
                      retry_after)) {
      co_return too_many(v, ka, "rate_limited", "this customer's request rate is over its limit", retry_after);
    }
    if (cases.in_flight(who.tenant) + submitting[who.tenant] >= lim.max_in_flight) {
      co_return too_many(v, ka, "too_many_in_flight", "the tenant has its maximum number of cases in progress",
                         std::chrono::seconds(1));
    }
    std::string trace;
    if (auto tp = req.find("traceparent"); tp != req.end()) {
      trace = std::string(tp->value());
      if (!common::valid_traceparent(trace)) {
        co_return reply(http::status::bad_request, error_body("invalid_field", "not a W3C traceparent", "traceparent"));
      }
    } else {
      trace = common::new_traceparent();
    }
    std::string idempotency_key;
    if (auto ik = req.find("Idempotency-Key"); ik != req.end()) {
      idempotency_key = std::string(ik->value());
      if (idempotency_key.empty() || idempotency_key.size() > 256 ||
          std::any_of(idempotency_key.begin(), idempotency_key.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }) ||
          common::redact::redact(idempotency_key).total() > 0) {
        co_return reply(http::status::bad_request,
                        error_body("invalid_field", "1 to 256 bytes, no control characters, no personal numbers", "Idempotency-Key"));
      }
    }
    const std::chrono::seconds wait = route->waits ? prefer_wait(req[http::field::prefer], settings.max_wait) : settings.max_wait;
    co_return co_await submit(v, ka, who.tenant, std::move(*built), std::move(trace), std::move(idempotency_key), wait);
  }

  Response too_many(unsigned v, bool ka, std::string_view code, std::string_view message, std::chrono::seconds retry_after) {
    auto res = json_response(v, ka, http::status::too_many_requests, error_body(code, message));
    res.set(http::field::retry_after, std::to_string(retry_after.count()));
    return res;
  }

  Response shutting_down(unsigned v, bool ka) {
    auto res = json_response(v, ka, http::status::service_unavailable, error_body("shutting_down", "the edge is shutting down; retry later"));
    res.set(http::field::retry_after, "1");
    return res;
  }

  // Another tenant's case is answered exactly like one that does not exist, from memory or from
  // the broker.
  Response case_not_found(unsigned v, bool ka) {
    return error_response(v, ka, common::make_error(common::Errc::kNotFound, "", "no such case"));
  }

  // 200, not 202: the case exists (docs/api.md#get-v1casesid), wherever the edge learnt it.
  Response case_in_progress(unsigned v, bool ka, const std::string& id) {
    return json_response(v, ka, http::status::ok, json{{"case_id", id}, {"status", "in_progress"}}.dump());
  }

  // This process's memory first; the broker (its store) for a case that this process did not
  // submit or no longer holds: submitted through another edge instance, or before a restart.
  net::awaitable<Response> get_case(unsigned v, bool ka, std::string id, std::string tenant) {
    cases.expire(Clock::now());
    if (const auto* e = cases.find(id, tenant)) {
      if (e->finished) co_return json_response(v, ka, http::status::ok, e->final_json);
      co_return case_in_progress(v, ka, id);
    }
    if (!valid_case_id(id)) co_return case_not_found(v, ka);  // nothing to ask the broker about
    if (!bus) co_return shutting_down(v, ka);
    auto pending = std::make_shared<Pending>(io);
    // The tenant filter is the broker's: another tenant's case is not_found there as here.
    bus->control(json{{"op", "case.show"}, {"case_id", id}, {"tenant", tenant}}.dump(), kLookupTimeout,
                 [pending](bus::Outcome o) {
                   pending->refused = std::move(o);
                   pending->answered = true;
                   pending->signal.cancel();
                 });
    if (!pending->answered) {
      // The bus client's timeout ends this wait; the bound is for a client destroyed meanwhile
      // (stop), which calls no callback.
      pending->signal.expires_after(kLookupTimeout + std::chrono::seconds(1));
      co_await pending->signal.async_wait(kTuple);
    }
    co_return looked_up(v, ka, id, tenant, pending->refused.value_or(bus::Outcome{}));
  }

  // The broker's answer to case.show (docs/protocol.md#control) as a GET's answer.
  Response looked_up(unsigned v, bool ka, const std::string& id, const std::string& tenant, const bus::Outcome& o) {
    using common::Errc;
    using common::make_error;
    using Status = bus::Outcome::Status;
    if (o.status == Status::kTimeout) {
      return error_response(v, ka, make_error(Errc::kTimeout, "", "the broker did not answer in time; retry later"));
    }
    if (o.status == Status::kRejected) {
      switch (o.error.code) {
        case Errc::kNotFound: return case_not_found(v, ka);
        case Errc::kStorageUnavailable:
        case Errc::kBusy:
        case Errc::kShuttingDown:
          return error_response(v, ka, make_error(o.error.code, "", "the broker cannot look the case up right now; retry later"));
        default: break;
      }
      log->warn("case lookup refused case_id={} tenant={} err={}", id, tenant, o.error.describe());
    } else if (o.status == Status::kReply) {
      try {
        const auto j = json::parse(o.body);
        const auto state = j.at("state").get<std::string>();
        const json& c = j.at("case");
        // Asked for this tenant's case: an answer about another case or tenant is never shown.
        if (!c.is_object() || c.value("case_id", std::string()) != id || c.value("tenant", std::string()) != tenant) {
          log->error("case lookup answered with another case case_id={} tenant={}", id, tenant);
          return case_not_found(v, ka);
        }
        log->debug("case looked up at the broker case_id={} tenant={} state={}", id, tenant, state);
        if (state == "active") return case_in_progress(v, ka, id);
        if (state == "ended" || state == "dead_letter" || state == "discarded") {
          return json_response(v, ka, http::status::ok, c.dump(-1, ' ', false, json::error_handler_t::replace));
        }
        log->warn("case lookup answered an unknown state case_id={} tenant={} state={}", id, tenant, state);
      } catch (const json::exception& e) {
        log->warn("case lookup answer unreadable case_id={} tenant={} err={}", id, tenant, e.what());
      }
    }
    return error_response(v, ka, make_error(Errc::kInternal, "", "the broker's answer could not be used; retry later"));
  }

  // Shared between a request and the bus callbacks, which may outlive the request.
  struct Pending {
    explicit Pending(net::io_context& io) : signal(io) { signal.expires_at(net::steady_timer::time_point::max()); }
    net::steady_timer signal;  // cancelled to wake the request
    bool answered = false;     // accepted, rejected or timed out
    bool settled = false;      // the tenant's count and the Idempotency-Key are settled
    std::string case_id;
    std::optional<bus::Outcome> refused;
  };

  net::awaitable<Response> submit(unsigned v, bool ka, const std::string& tenant, BuiltCase built, std::string trace,
                                  std::string idempotency_key, std::chrono::seconds wait) {
    const auto now = Clock::now();
    if (!idempotency_key.empty()) {
      std::string existing;
      switch (cases.claim(tenant, idempotency_key, built.digest, now, existing)) {
        case CaseTable::Claim::kNew:
          break;
        case CaseTable::Claim::kInProgress: {
          auto res = json_response(v, ka, http::status::conflict,
                                   error_body("in_progress", "a request with this Idempotency-Key is being submitted"));
          res.set(http::field::retry_after, "1");
          co_return res;
        }
        case CaseTable::Claim::kFull:
          co_return error_response(v, ka, common::make_error(common::Errc::kBusy, "", "too many Idempotency-Keys in progress; retry later"));
        case CaseTable::Claim::kConflict:
          co_return error_response(v, ka, key_reused());
        case CaseTable::Claim::kExisting:
          if (!cases.find(existing, tenant)) {
            // The key outlived the case's retention: say which case it was, not that it is coming.
            co_return json_response(v, ka, http::status::ok,
                                    json{{"case_id", existing}, {"status", "unknown"},
                                         {"message", "this Idempotency-Key's case is older than case_retention_s"}}
                                        .dump());
          }
          co_return co_await await_final(v, ka, tenant, existing, trace, wait);
      }
    }
    // The case's deadline travels with it: a submission that sat in a queue while the broker was
    // away is refused as expired instead of becoming a case the caller gave up on.
    std::string deadline;
    common::append_rfc3339(deadline, common::wall_now_ms() + settings.case_deadline.count());
    json envelope{{"v", 1},          {"type", "case"},       {"tenant", tenant},
                  {"to", settings.workflow}, {"trace", trace}, {"deadline", deadline},
                  {"payload", std::move(built.payload)}};
    if (!idempotency_key.empty()) envelope["idempotency_key"] = idempotency_key;
    auto pending = std::make_shared<Pending>(io);
    auto self = shared_from_this();
    if (!bus || stopping) co_return shutting_down(v, ka);
    ++submitting[tenant];
    // Whatever happens to the submission, the callbacks settle the tenant's count and the
    // Idempotency-Key, even after this request has given up waiting.
    // Callbacks hold the server weakly: the bus client they live in belongs to it.
    std::weak_ptr<Impl> weak = self;
    auto settle = [weak, pending, tenant, key = idempotency_key](const std::string& case_id) {
      auto self = weak.lock();
      if (!self || pending->settled) return;
      pending->settled = true;
      if (auto it = self->submitting.find(tenant); it != self->submitting.end() && it->second > 0 && --it->second == 0) {
        self->submitting.erase(it);
      }
      if (key.empty()) return;
      if (case_id.empty()) {
        self->cases.release(tenant, key);
      } else {
        self->cases.bind(tenant, key, case_id);
      }
    };
    bus->submit(
        envelope.dump(-1, ' ', false, json::error_handler_t::replace), settings.case_deadline + std::chrono::seconds(5),
        [weak, pending, tenant, settle](bus::Outcome o) {
          auto self = weak.lock();
          if (!self) return;
          const std::string id = o.case_id.empty() ? pending->case_id : o.case_id;
          if (o.status == bus::Outcome::Status::kCompleted) {
            self->cases.finished(o.case_id.empty() ? pending->case_id : o.case_id, std::move(o.body), Clock::now());
          } else if (!pending->case_id.empty()) {
            // Accepted, but no final case in time: tell whoever asks later.
            self->cases.finished(pending->case_id,
                                 json{{"case_id", pending->case_id}, {"status", "unknown"},
                                      {"error", {{"code", "timeout"}, {"message", "the broker did not send the final case in time"}}}}
                                     .dump(),
                                 Clock::now());
          } else if (!pending->answered) {
            pending->refused = std::move(o);
          }
          settle(o.status == bus::Outcome::Status::kCompleted ? id : pending->case_id);  // no-op when already settled
          pending->answered = true;
          pending->signal.cancel();
        },
        [weak, pending, tenant, settle](const std::string& case_id) {
          auto self = weak.lock();
          if (!self) return;
          pending->case_id = case_id;
          pending->answered = true;
          self->cases.accepted(case_id, tenant, Clock::now());
          settle(case_id);
          pending->signal.cancel();
        });
    // The callbacks may already have run (a full send queue fails at once): wait only if not.
    if (!pending->answered) {
      pending->signal.expires_after(kAcceptTimeout);
      co_await pending->signal.async_wait(kTuple);
    }
    if (pending->refused || pending->case_id.empty()) {
      // Refused (the key is released), or not accepted in time (the key stays claimed, "in
      // progress", until the bus settles it).
      co_return error_response(v, ka, refusal(pending->refused.value_or(bus::Outcome{})));
    }
    co_return co_await await_final(v, ka, tenant, pending->case_id, trace, wait);
  }

  // 200 with the final case when it is there within wait, else 202 with where to look.
  net::awaitable<Response> await_final(unsigned v, bool ka, std::string tenant, std::string case_id, std::string trace,
                                       std::chrono::seconds wait) {
    if (wait.count() > 0) {
      auto timer = std::make_shared<net::steady_timer>(io, wait);
      const auto id = cases.wait(case_id, [timer] { timer->cancel(); });
      if (id != 0) {
        co_await timer->async_wait(kTuple);
        cases.cancel_wait(case_id, id);
      }
    }
    const auto* e = cases.find(case_id, tenant);
    Response res;
    if (e && e->finished) {
      res = json_response(v, ka, http::status::ok, e->final_json);
    } else {
      res = json_response(v, ka, http::status::accepted, json{{"case_id", case_id}, {"status", "in_progress"}}.dump());
      res.set(http::field::location, "/v1/cases/" + case_id);
    }
    res.set("traceparent", trace);
    res.set("X-Casebus-Case-Id", case_id);
    co_return res;
  }

  // Readiness answers are reused for a second: probes (and anyone else) cannot turn into a
  // stream of stats requests to the broker.
  std::optional<std::pair<http::status, std::string>> ready_cache;
  Clock::time_point ready_at{};

  net::awaitable<Response> readyz(unsigned v, bool ka) {
    if (ready_cache && Clock::now() - ready_at < std::chrono::seconds(1)) {
      co_return json_response(v, ka, ready_cache->first, ready_cache->second);
    }
    auto res = co_await readyz_uncached(v, ka);
    ready_cache.emplace(res.result(), res.body());
    ready_at = Clock::now();
    co_return res;
  }

  net::awaitable<Response> readyz_uncached(unsigned v, bool ka) {
    auto pending = std::make_shared<Pending>(io);
    if (!bus) co_return json_response(v, ka, http::status::service_unavailable, json{{"ready", false}, {"broker", "stopping"}}.dump());
    bus->stats(std::chrono::seconds(1), [pending](bus::Outcome o) {
      pending->refused = std::move(o);
      pending->answered = true;
      pending->signal.cancel();
    });
    if (!pending->answered) co_await pending->signal.async_wait(kTuple);
    json missing = json::array();
    if (!pending->refused || pending->refused->status != bus::Outcome::Status::kReply) {
      co_return json_response(v, ka, http::status::service_unavailable,
                              json{{"ready", false}, {"broker", "unreachable"}}.dump());
    }
    try {
      const auto stats = json::parse(pending->refused->body);
      const auto& kinds = stats.at("kinds");
      for (const auto& k : settings.required_agent_kinds) {
        auto it = kinds.find(k);
        if (it == kinds.end() || it->at("workers").get<int>() == 0) missing.push_back(k);
      }
    } catch (const json::exception&) {
      co_return json_response(v, ka, http::status::service_unavailable, json{{"ready", false}, {"broker", "bad stats"}}.dump());
    }
    const bool ready = missing.empty();
    co_return json_response(v, ka, ready ? http::status::ok : http::status::service_unavailable,
                            json{{"ready", ready}, {"broker", "reachable"}, {"missing_agent_kinds", missing}}.dump());
  }
};

Server::Server(net::io_context& io, zmq::context_t& ctx, Settings settings)
    : impl_(std::make_shared<Impl>(io, ctx, std::move(settings))) {}

Server::~Server() = default;

std::uint16_t Server::start() {
  auto& i = *impl_;
  const tcp::endpoint ep(net::ip::make_address(i.settings.listen_address), i.settings.listen_port);
  i.acceptor->open(ep.protocol());
  i.acceptor->set_option(net::socket_base::reuse_address(true));
  i.acceptor->bind(ep);
  i.acceptor->listen(net::socket_base::max_listen_connections);
  auto self = impl_;
  net::co_spawn(i.net_io(), i.accept_loop(), [self](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        self->log->error("accept loop failed err={}", ex.what());
      }
    }
  });
  if (i.pool) {
    for (std::size_t t = 0; t < i.settings.threads; ++t) {
      i.pool_threads.emplace_back([pool = i.pool.get()] {
        auto guard = net::make_work_guard(*pool);  // until stop_pool(): the pool may be idle
        pool->run();
      });
    }
  }
  return i.acceptor->local_endpoint().port();
}

std::string Server::status_line() const {
  const auto& i = *impl_;
  return std::string(i.stopping ? "stopping: " : "serving: ") + std::to_string(i.connections.load()) + " connections, " +
         std::to_string(i.cases.size()) + " cases tracked";
}

void Server::stop(std::chrono::milliseconds grace, std::function<void()> on_stopped) {
  auto& i = *impl_;
  i.stopping = true;
  // The acceptor belongs to the connection threads' executor.
  net::post(i.acceptor->get_executor(), [self = impl_] {
    beast::error_code ignored;
    if (self->acceptor) self->acceptor->close(ignored);
  });
  auto done = std::make_shared<std::function<void()>>(std::move(on_stopped));
  auto fire = [done, self = impl_] {
    if (*done) {
      auto f = std::move(*done);
      *done = nullptr;
      self->stop_pool();
      self->bus.reset();  // closes the bus socket: the ZeroMQ context can terminate
      f();
    }
  };
  std::lock_guard lock(i.idle_mutex);
  if (i.connections == 0) {
    net::post(i.io, fire);
    return;
  }
  i.on_idle = fire;
  auto timer = std::make_shared<net::steady_timer>(i.io, grace);
  timer->async_wait([timer, fire](const beast::error_code&) { fire(); });
}

}  // namespace edge
