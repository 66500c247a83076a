// The provider's HTTP(S) transport (common/llm/client.hpp). All Beast and TLS code of the
// providers is in this one translation unit.
#include "common/llm/client.hpp"

#include "common/llm/anthropic.hpp"
#include "common/llm/openai.hpp"
#include "common/util/json.hpp"
#include "common/util/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cstdlib>
#include <deque>
#include <fstream>
#include <random>
#include <sstream>
#include <unordered_map>

namespace common::llm {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using net::ip::tcp;
using nlohmann::json;

namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

struct Url {
  bool tls = true;
  std::string host, port, base_path;
};

Url parse_url(const std::string& url) {
  Url u;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    u.tls = false;
    rest = url.substr(7);
  } else {
    throw std::invalid_argument("base_url must start with https:// or http://");
  }
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) u.base_path = rest.substr(slash);
  while (!u.base_path.empty() && u.base_path.back() == '/') u.base_path.pop_back();
  const auto colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    u.host = authority.substr(0, colon);
    u.port = authority.substr(colon + 1);
  } else {
    u.host = authority;
    u.port = u.tls ? "443" : "80";
  }
  if (u.host.empty() || u.port.empty() || u.port.find_first_not_of("0123456789") != std::string::npos) {
    throw std::invalid_argument("base_url has no usable host and port: " + url);
  }
  return u;
}

CallError transport_error(Errc code, std::string field, std::string message, bool retryable) {
  CallError e;
  e.error = make_error(code, std::move(field), std::move(message));
  e.retryable = retryable;
  return e;
}

}  // namespace

void from_json(const json& j, ProviderSettings& s) {
  common::json::reject_unknown_keys(j, {"provider", "base_url", "model", "api_key_env", "api_key_file", "ca_file", "max_attempts",
                                        "backoff_initial_ms", "backoff_max_ms", "max_idle_connections"});
  common::json::get_optional(j, "provider", s.provider);
  if (s.provider != "anthropic" && s.provider != "openai") throw std::invalid_argument("provider must be \"anthropic\" or \"openai\"");
  if (s.provider == "openai" && !j.contains("base_url")) s.base_url = "http://127.0.0.1:8000";
  common::json::get_optional(j, "base_url", s.base_url);
  (void)parse_url(s.base_url);
  common::json::get_optional(j, "model", s.model);
  if (s.model.empty()) throw std::invalid_argument("model must be set");
  common::json::get_optional(j, "ca_file", s.ca_file);
  auto bounded = [&](const char* key, auto& out, long long min, long long max) {
    if (auto it = j.find(key); it != j.end()) {
      const auto v = common::json::integer_at(*it, key);
      if (v < min || v > max) throw std::invalid_argument(fmt::format("{} must be between {} and {}", key, min, max));
      out = static_cast<std::decay_t<decltype(out)>>(v);
    }
  };
  bounded("max_attempts", s.max_attempts, 1, 10);
  std::int64_t ms = s.backoff_initial.count();
  bounded("backoff_initial_ms", ms, 1, 60000);
  s.backoff_initial = std::chrono::milliseconds(ms);
  ms = s.backoff_max.count();
  bounded("backoff_max_ms", ms, 1, 600000);
  s.backoff_max = std::chrono::milliseconds(ms);
  bounded("max_idle_connections", s.max_idle_connections, 0, 10000);
  // The key: from a file (systemd credentials, a mounted secret) or an environment variable.
  std::string key_file, key_env = s.provider == "anthropic" ? "ANTHROPIC_API_KEY" : "";
  common::json::get_optional(j, "api_key_file", key_file);
  common::json::get_optional(j, "api_key_env", key_env);
  if (!key_file.empty()) {
    std::ifstream f(key_file);
    if (!f) throw std::invalid_argument("api_key_file: cannot read " + key_file);
    std::stringstream ss;
    ss << f.rdbuf();
    s.api_key = trimmed(ss.str());
  } else if (!key_env.empty()) {
    const char* v = std::getenv(key_env.c_str());
    s.api_key = v ? trimmed(v) : "";
  }
  if (s.provider == "anthropic" && s.api_key.empty()) {
    throw std::invalid_argument("no API key for the anthropic provider: set " +
                                (key_file.empty() ? "the environment variable " + key_env : "api_key_file"));
  }
}

// ---------------------------------------------------------------------------------------------

struct Provider::Impl : std::enable_shared_from_this<Impl> {
  struct Connection {
    std::unique_ptr<beast::tcp_stream> plain;
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
    beast::flat_buffer buffer;
    beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  };
  struct Call {
    std::uint64_t id = 0;
    CompletionRequest request;
    MonoTime deadline, started;
    Callback done;
    bool cancelled = false;
    Connection* active = nullptr;           // while an exchange runs
    net::steady_timer* waiting = nullptr;   // while a backoff runs
  };
  struct Reply {
    int status = 0;
    std::string body, retry_after;
  };

  Impl(net::io_context& io_, ProviderSettings s)
      : io(io_), settings(std::move(s)), url(parse_url(settings.base_url)), tls(net::ssl::context::tls_client),
        resolver(io_), log(common::log::get("llm")), rng(std::random_device{}()) {
    target = url.base_path + (settings.provider == "anthropic" ? "/v1/messages" : "/v1/chat/completions");
    if (url.tls) {
      tls.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 | net::ssl::context::no_sslv3 |
                      net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
      tls.set_verify_mode(net::ssl::verify_peer);
      if (settings.ca_file.empty()) {
        tls.set_default_verify_paths();
      } else {
        tls.load_verify_file(settings.ca_file);
      }
    }
  }

  net::io_context& io;
  ProviderSettings settings;
  Url url;
  std::string target;
  net::ssl::context tls;
  tcp::resolver resolver;
  std::shared_ptr<spdlog::logger> log;
  std::mt19937_64 rng;
  std::deque<std::unique_ptr<Connection>> idle;
  std::unordered_map<std::uint64_t, std::shared_ptr<Call>> calls;
  std::uint64_t next_id = 1;

  std::string body_for(const CompletionRequest& r) const {
    return settings.provider == "anthropic" ? anthropic::request_body(settings.model, r) : openai::request_body(settings.model, r);
  }
  CallResult<Completion> parse(const Reply& r) const {
    return settings.provider == "anthropic" ? anthropic::parse_response(r.status, r.body, r.retry_after)
                                            : openai::parse_response(r.status, r.body, r.retry_after);
  }

  net::awaitable<std::unique_ptr<Connection>> connect(Call& call) {
    auto c = std::make_unique<Connection>();
    const auto [rec, endpoints] = co_await resolver.async_resolve(url.host, url.port, kTuple);
    if (rec) throw beast::system_error(rec);
    if (url.tls) {
      c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io, tls);
      // SNI, and the certificate must name the host.
      if (!SSL_set_tlsext_host_name(c->tls->native_handle(), url.host.c_str())) {
        throw beast::system_error(beast::error_code(static_cast<int>(::ERR_get_error()), net::error::get_ssl_category()));
      }
      c->tls->set_verify_callback(net::ssl::host_name_verification(url.host));
    } else {
      c->plain = std::make_unique<beast::tcp_stream>(io);
    }
    c->lowest().expires_at(call.deadline);
    call.active = c.get();
    const auto [ec, ep] = co_await c->lowest().async_connect(endpoints, kTuple);
    if (ec) throw beast::system_error(ec);
    if (c->tls) {
      const auto [hec] = co_await c->tls->async_handshake(net::ssl::stream_base::client, kTuple);
      if (hec) throw beast::system_error(hec);
    }
    co_return c;
  }

  template <class Stream>
  net::awaitable<Reply> exchange(Stream& stream, Connection& c, const http::request<http::string_body>& req, bool& keep) {
    const auto [wec, wn] = co_await http::async_write(stream, req, kTuple);
    if (wec) throw beast::system_error(wec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(settings.max_response_bytes);
    const auto [rec, rn] = co_await http::async_read(stream, c.buffer, parser, kTuple);
    if (rec) throw beast::system_error(rec);
    auto res = parser.release();
    keep = res.keep_alive();
    Reply r;
    r.status = static_cast<int>(res.result_int());
    if (auto it = res.find("retry-after"); it != res.end()) r.retry_after = std::string(it->value());
    r.body = std::move(res.body());
    co_return r;
  }

  // One HTTP exchange: a pooled connection if there is one (a fresh one if the pooled one turns
  // out to be closed), else a new one.
  net::awaitable<Reply> attempt(Call& call, const std::string& body) {
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, url.host);
    req.set(http::field::user_agent, "casebus/" CASEBUS_VERSION);
    req.set(http::field::content_type, "application/json");
    if (settings.provider == "anthropic") {
      req.set("x-api-key", settings.api_key);
      req.set("anthropic-version", anthropic::kVersion);
    } else if (!settings.api_key.empty()) {
      req.set(http::field::authorization, "Bearer " + settings.api_key);
    }
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    for (int round = 0; round < 2; ++round) {
      std::unique_ptr<Connection> c;
      const bool pooled = !idle.empty() && round == 0;
      if (pooled) {
        c = std::move(idle.front());
        idle.pop_front();
      } else {
        c = co_await connect(call);
      }
      call.active = c.get();
      c->lowest().expires_at(call.deadline);
      bool keep = false;
      try {
        // Not a ?: around co_await: GCC 12 miscompiles that.
        Reply r;
        if (c->tls) {
          r = co_await exchange(*c->tls, *c, req, keep);
        } else {
          r = co_await exchange(*c->plain, *c, req, keep);
        }
        call.active = nullptr;
        if (keep && idle.size() < settings.max_idle_connections && !call.cancelled) {
          c->lowest().expires_never();
          idle.push_back(std::move(c));
        }
        co_return r;
      } catch (const beast::system_error& e) {
        call.active = nullptr;
        // A keep-alive connection the server had closed: once more on a new one.
        if (pooled && !call.cancelled && MonoClock::now() < call.deadline &&
            (e.code() == http::error::end_of_stream || e.code() == net::error::connection_reset ||
             e.code() == net::error::eof || e.code() == net::error::broken_pipe)) {
          continue;
        }
        throw;
      }
    }
    throw beast::system_error(net::error::connection_aborted);
  }

  net::awaitable<void> run(std::shared_ptr<Call> call) {
    CallStats stats;
    std::optional<CallError> last;
    const std::string body = body_for(call->request);
    for (int n = 1; n <= settings.max_attempts && !call->cancelled; ++n) {
      if (n > 1) {
        const auto wait = backoff(n, last->retry_after, std::uniform_real_distribution<double>(0, 1)(rng), settings.backoff_initial,
                                  settings.backoff_max);
        if (MonoClock::now() + wait >= call->deadline) break;  // no time for another attempt
        net::steady_timer timer(io, wait);
        call->waiting = &timer;
        co_await timer.async_wait(kTuple);
        call->waiting = nullptr;
        if (call->cancelled) break;
      }
      if (MonoClock::now() >= call->deadline) break;
      ++stats.attempts;
      try {
        const Reply reply = co_await attempt(*call, body);
        stats.last_status = reply.status;
        auto parsed = parse(reply);
        log->debug("model call call={} attempt={} status={} ms={}", call->id, n, reply.status,
                   std::chrono::duration_cast<std::chrono::milliseconds>(MonoClock::now() - call->started).count());
        if (parsed) {
          finish(call, std::move(parsed), stats);
          co_return;
        }
        last = std::move(parsed.error());
        if (!last->retryable) break;
      } catch (const beast::system_error& e) {
        call->active = nullptr;
        if (call->cancelled) break;
        const bool timed_out = e.code() == beast::error::timeout || MonoClock::now() >= call->deadline;
        // A certificate the trust store does not accept will not be accepted on the next try either.
        const bool tls_refused = e.code().category() == net::error::get_ssl_category();
        last = transport_error(timed_out ? Errc::kTimeout : Errc::kAgentError, timed_out ? "deadline" : tls_refused ? "tls" : "connection",
                               timed_out    ? "the model provider did not answer before the deadline"
                               : tls_refused ? "the model provider's TLS handshake failed: " + e.code().message()
                                             : "cannot reach the model provider: " + e.code().message(),
                               !timed_out && !tls_refused);
        log->debug("model call call={} attempt={} failed err={}", call->id, n, e.code().message());
        if (timed_out || tls_refused) break;
      }
    }
    if (call->cancelled) {
      finish(call, transport_error(Errc::kCancelled, "", "the call was cancelled", false), stats);
    } else if (last && !(last->retryable && MonoClock::now() >= call->deadline)) {
      finish(call, std::move(*last), stats);
    } else {
      finish(call, transport_error(Errc::kTimeout, "deadline", "the model provider did not answer before the deadline", false), stats);
    }
  }

  void finish(const std::shared_ptr<Call>& call, CallResult<Completion> r, CallStats stats) {
    if (!calls.erase(call->id)) return;
    stats.latency = std::chrono::duration_cast<std::chrono::milliseconds>(MonoClock::now() - call->started);
    auto done = std::move(call->done);
    done(std::move(r), stats);
  }
};

Provider::Provider(net::io_context& io, ProviderSettings settings) : impl_(std::make_shared<Impl>(io, std::move(settings))) {}

Provider::~Provider() {
  // Calls still running finish as cancelled when their coroutine resumes; their callbacks are dropped.
  for (auto& [id, call] : impl_->calls) {
    call->cancelled = true;
    call->done = [](CallResult<Completion>, const CallStats&) {};
    if (call->active) call->active->lowest().cancel();
    if (call->waiting) call->waiting->cancel();
  }
}

std::uint64_t Provider::complete(CompletionRequest request, MonoTime deadline, Callback done) {
  auto call = std::make_shared<Impl::Call>();
  call->id = impl_->next_id++;
  call->request = std::move(request);
  call->deadline = deadline;
  call->started = MonoClock::now();
  call->done = std::move(done);
  impl_->calls.emplace(call->id, call);
  net::co_spawn(impl_->io, impl_->run(call), [impl = impl_, call](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      impl->log->error("model call failed unexpectedly call={} err={}", call->id, ex.what());
      impl->finish(call, transport_error(Errc::kInternal, "", std::string("model call failed: ") + ex.what(), false), {});
    }
  });
  return call->id;
}

void Provider::cancel(std::uint64_t id) {
  auto it = impl_->calls.find(id);
  if (it == impl_->calls.end()) return;
  auto& call = it->second;
  call->cancelled = true;
  if (call->active) call->active->lowest().cancel();
  if (call->waiting) call->waiting->cancel();
}

std::size_t Provider::in_flight() const {
  return impl_->calls.size();
}

const ProviderSettings& Provider::settings() const {
  return impl_->settings;
}

}  // namespace common::llm
