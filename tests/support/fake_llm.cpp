#include "fake_llm.hpp"

#include "process.hpp"
#include "tls.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>

namespace testsupport {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using nlohmann::json;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);

constexpr std::uint64_t kBodyLimit = 1024 * 1024;
constexpr std::uint32_t kHeaderLimit = 64 * 1024;
// Deadlines for a client that stops talking mid-request or stops reading, and for an idle
// keep-alive connection: longer than any test, so that only a broken client meets them.
constexpr std::chrono::seconds kIoTimeout{60};
// How long the destructor lets connections end on their own before it stops the io_context.
constexpr std::chrono::seconds kStopGrace{5};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

FakeReply default_reply() { return {200, FakeLlmServer::anthropic_tool_use(json{{"ok", true}})}; }

}  // namespace

struct FakeLlmServer::Impl {
  explicit Impl(bool tls) : use_tls(tls), tls_context(net::ssl::context::tls_server) {
    if (use_tls) {
      dir.emplace();
      const auto files = make_self_signed(dir->path());
      ca = files.certificate;
      tls_context.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                              net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
      tls_context.use_certificate_chain_file(files.certificate.string());
      tls_context.use_private_key_file(files.private_key.string(), net::ssl::context::pem);
    }
    const tcp::endpoint ep(net::ip::address_v4::loopback(), 0);
    acceptor.open(ep.protocol());
    acceptor.bind(ep);
    acceptor.listen(net::socket_base::max_listen_connections);
    port = acceptor.local_endpoint().port();
    net::co_spawn(io, accept_loop(), [this](std::exception_ptr e) { report(e, "accept loop"); });
    thread = std::thread([this] {
      try {
        io.run();
      } catch (...) {
        report(std::current_exception(), "io thread");
      }
      stopped.set_value();
    });
  }

  ~Impl() {
    net::post(io, [this] {
      stopping = true;
      beast::error_code ignored;
      acceptor.close(ignored);
      // Closing only posts the cancelled operations' completions: live is not changed meanwhile.
      for (auto& [id, close] : live) close();
    });
    // Every connection ends at once on a closed socket; the bound is for one that would not.
    if (stopped_future.wait_for(kStopGrace) != std::future_status::ready) io.stop();
    thread.join();
  }

  // A failure in the server is a failure of the test that uses it: reported through GoogleTest
  // (thread-safe), which shows it in that test's output, rather than to a logger nobody set up.
  static void report(std::exception_ptr e, const char* where) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      ADD_FAILURE() << "fake LLM server: " << where << " failed: " << ex.what();
    } catch (...) {
      ADD_FAILURE() << "fake LLM server: " << where << " failed with a non-standard exception";
    }
  }

  // Records the request and takes the next reply (any thread may be scripting meanwhile).
  FakeReply take(const http::request<http::string_body>& req) {
    SeenRequest seen;
    seen.method = std::string(req.method_string());
    seen.target = std::string(req.target());
    for (const auto& field : req) seen.headers[lower(field.name_string())] = std::string(field.value());
    seen.body = req.body();
    std::lock_guard lock(mutex);
    requests.push_back(std::move(seen));
    const FakeReply& r = replies.empty() ? fallback : replies[std::min(next_reply, replies.size() - 1)];
    ++next_reply;
    return r;
  }

  net::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kTuple);
      if (ec == net::error::operation_aborted || stopping) co_return;
      if (ec) {
        // Transient (EMFILE, ECONNABORTED): go on after a pause rather than spin.
        net::steady_timer pause(io, std::chrono::milliseconds(50));
        co_await pause.async_wait(kTuple);
        continue;
      }
      ++accepted;
      net::co_spawn(io, connection(std::move(socket)), [this](std::exception_ptr e) { report(e, "connection"); });
    }
  }

  net::awaitable<void> connection(tcp::socket socket) {
    if (use_tls) {
      beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), tls_context);
      co_await session(stream);
    } else {
      beast::tcp_stream stream(std::move(socket));
      co_await session(stream);
    }
  }

  // A connection's closer, registered for the destructor while the connection lives (io thread).
  struct Registration {
    Registration(Impl& impl, std::function<void()> close) : impl_(impl), id_(impl.next_connection++) {
      impl_.live.emplace(id_, std::move(close));
    }
    ~Registration() { impl_.live.erase(id_); }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    Impl& impl_;
    std::uint64_t id_;
  };

  template <class Stream>
  net::awaitable<void> session(Stream& stream) {
    constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
    auto& lowest = beast::get_lowest_layer(stream);
    net::steady_timer delay(io);
    Registration registration(*this, [&lowest, &delay] {
      lowest.close();
      delay.cancel();
    });
    if constexpr (kTls) {
      lowest.expires_after(kIoTimeout);
      auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::server, kTuple);
      if (ec) co_return;  // an untrusting client, a plain-text one, or stop
    }
    co_await serve(stream, delay);
    if (stopping || !lowest.socket().is_open()) co_return;
    if constexpr (kTls) {
      lowest.expires_after(std::chrono::seconds(2));
      co_await stream.async_shutdown(kTuple);  // the peer may well just close: any outcome will do
    } else {
      beast::error_code ignored;
      lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  // Requests on one connection, one at a time (keep-alive), until the client closes, asks to
  // close, sends something unreadable, or the script says reset.
  template <class Stream>
  net::awaitable<void> serve(Stream& stream, net::steady_timer& delay) {
    auto& lowest = beast::get_lowest_layer(stream);
    beast::flat_buffer buffer;  // outside the loop: it may already hold the next (pipelined) request
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(kHeaderLimit);
      parser.body_limit(kBodyLimit);
      lowest.expires_after(kIoTimeout);
      beast::error_code ec;
      std::tie(ec, std::ignore) = co_await http::async_read_header(stream, buffer, parser, kTuple);
      if (!ec && beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
        std::tie(ec, std::ignore) = co_await http::async_write(stream, go_on, kTuple);
      }
      if (!ec) std::tie(ec, std::ignore) = co_await http::async_read(stream, buffer, parser, kTuple);
      if (ec == http::error::end_of_stream || ec == http::error::partial_message || stopping) co_return;
      if (ec && ec.category() == beast::http::make_error_code(http::error::bad_target).category()) {
        const bool too_large = ec == http::error::body_limit;
        http::response<http::string_body> res{too_large ? http::status::payload_too_large : http::status::bad_request, 11};
        res.set(http::field::content_type, "application/json");
        res.body() = anthropic_error(too_large ? "request_too_large" : "invalid_request_error", ec.message());
        res.keep_alive(false);
        res.prepare_payload();
        co_await http::async_write(stream, res, kTuple);
        co_return;
      }
      if (ec) co_return;  // reset, timeout, or closed at stop

      auto req = parser.release();
      const FakeReply reply = take(req);
      if (reply.delay.count() > 0) {
        delay.expires_after(reply.delay);
        co_await delay.async_wait(kTuple);
        if (stopping) co_return;
      }
      if (reply.reset) {
        beast::error_code ignored;
        lowest.socket().set_option(net::socket_base::linger(true, 0), ignored);
        lowest.close();
        co_return;
      }
      http::response<http::string_body> res;
      res.version(req.version());
      res.result(static_cast<unsigned>(reply.status));
      res.set(http::field::server, "casebus-fake-llm");
      res.set(http::field::content_type, "application/json");
      for (const auto& [name, value] : reply.headers) res.set(name, value);
      res.keep_alive(req.keep_alive());
      res.body() = reply.body;
      res.prepare_payload();
      lowest.expires_after(kIoTimeout);
      auto [ew, nw] = co_await http::async_write(stream, res, kTuple);
      if (ew || !res.keep_alive()) co_return;
    }
  }

  // Declared before io: a coroutine frame the io_context destroys (the io.stop() path) still
  // unregisters itself from live and uses the TLS context and temporary directory.
  const bool use_tls;
  std::optional<TempDir> dir;
  std::filesystem::path ca;
  net::ssl::context tls_context;
  std::unordered_map<std::uint64_t, std::function<void()>> live;  // io thread only
  std::uint64_t next_connection = 0;                               // io thread only
  bool stopping = false;                                           // io thread only
  std::atomic<std::size_t> accepted{0};

  mutable std::mutex mutex;
  const FakeReply fallback = default_reply();
  std::vector<FakeReply> replies{fallback};  // under mutex
  std::size_t next_reply = 0;                // under mutex
  std::vector<SeenRequest> requests;         // under mutex

  std::promise<void> stopped;
  std::future<void> stopped_future = stopped.get_future();
  net::io_context io{1};
  tcp::acceptor acceptor{io};
  std::uint16_t port = 0;
  std::thread thread;
};

FakeLlmServer::FakeLlmServer(bool tls) : impl_(std::make_unique<Impl>(tls)) {}

FakeLlmServer::~FakeLlmServer() = default;

std::string FakeLlmServer::base_url() const { return (impl_->use_tls ? "https://" : "http://") + endpoint(); }

std::string FakeLlmServer::endpoint() const { return "127.0.0.1:" + std::to_string(impl_->port); }

std::filesystem::path FakeLlmServer::ca_file() const { return impl_->ca; }

void FakeLlmServer::script(std::vector<FakeReply> replies) {
  std::lock_guard lock(impl_->mutex);
  impl_->replies = std::move(replies);
  impl_->next_reply = 0;
}

std::vector<SeenRequest> FakeLlmServer::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests;
}

std::size_t FakeLlmServer::request_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests.size();
}

std::size_t FakeLlmServer::connections_accepted() const { return impl_->accepted; }

std::string FakeLlmServer::anthropic_tool_use(const nlohmann::json& input, int input_tokens, int output_tokens) {
  return json{{"id", "msg_fake"},
              {"type", "message"},
              {"role", "assistant"},
              {"model", "fake-model"},
              {"content", json::array({{{"type", "tool_use"}, {"id", "toolu_fake"}, {"name", "record_result"}, {"input", input}}})},
              {"stop_reason", "tool_use"},
              {"usage", {{"input_tokens", input_tokens}, {"output_tokens", output_tokens}}}}
      .dump();
}

std::string FakeLlmServer::anthropic_text(const std::string& text, int input_tokens, int output_tokens) {
  return json{{"id", "msg_fake"},
              {"type", "message"},
              {"role", "assistant"},
              {"model", "fake-model"},
              {"content", json::array({{{"type", "text"}, {"text", text}}})},
              {"stop_reason", "end_turn"},
              {"usage", {{"input_tokens", input_tokens}, {"output_tokens", output_tokens}}}}
      .dump();
}

std::string FakeLlmServer::anthropic_error(const std::string& type, const std::string& message) {
  return json{{"type", "error"}, {"error", {{"type", type}, {"message", message}}}}.dump();
}

std::string FakeLlmServer::openai_message(const std::string& content, int prompt_tokens, int completion_tokens) {
  return json{{"id", "chatcmpl-fake"},
              {"object", "chat.completion"},
              {"model", "fake-model"},
              {"choices", json::array({{{"index", 0},
                                        {"message", {{"role", "assistant"}, {"content", content}}},
                                        {"finish_reason", "stop"}}})},
              {"usage", {{"prompt_tokens", prompt_tokens},
                         {"completion_tokens", completion_tokens},
                         {"total_tokens", prompt_tokens + completion_tokens}}}}
      .dump();
}

}  // namespace testsupport
