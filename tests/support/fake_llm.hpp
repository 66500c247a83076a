#pragma once
// A scripted fake language-model server for tests of the providers' HTTP(S) client: it stands in
// for the Anthropic Messages API (POST /v1/messages) and OpenAI-compatible chat completions (POST
// /v1/chat/completions), answers every request, whatever its target, with the next scripted reply,
// and records what it received.
//
// HTTP/1.1 with keep-alive (and 100-continue) on 127.0.0.1 at an ephemeral port, optionally over
// TLS with a throwaway self-signed certificate. It runs on its own thread with its own io_context,
// so that a test can drive its client's io_context as it likes; many connections are served at
// once, and a reply's delay holds back only its own connection. Request bodies are limited to
// 1 MiB (413 and close beyond that); such a request is not recorded and takes no reply.
//
// Beast stays in fake_llm.cpp: including this header costs a test next to nothing.
#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace testsupport {

// One scripted answer. An aggregate: {429, body, {{"retry-after", "1"}}}, {200, body, {}, 300ms}.
struct FakeReply {
  int status = 200;
  std::string body;                                          // sent as is, content-type application/json
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, e.g. {"retry-after", "1"}
  std::chrono::milliseconds delay{0};                        // before answering (a timer: other connections go on)
  // Read the request, then drop the connection without answering: close with SO_LINGER 0, so
  // that the client sees a TCP reset (over TLS too: no close_notify).
  bool reset = false;
};

// A request as the server read it.
struct SeenRequest {
  std::string method, target;                  // "POST", "/v1/messages"
  std::map<std::string, std::string> headers;  // names in lower case; a repeated header keeps its last value
  std::string body;
};

// Thread-safe: every member may be called from any thread while the server runs.
class FakeLlmServer final {
 public:
  // Binds 127.0.0.1:0 and starts serving before returning. tls: HTTPS with a fresh self-signed
  // certificate for 127.0.0.1 (ca_file), in a temporary directory the server owns. Throws when it
  // cannot bind or set up TLS.
  explicit FakeLlmServer(bool tls = false);
  // Stops accepting, closes every connection (a request waiting out its delay gets no answer) and
  // joins the thread, within a few seconds at worst.
  ~FakeLlmServer();
  FakeLlmServer(const FakeLlmServer&) = delete;
  FakeLlmServer& operator=(const FakeLlmServer&) = delete;

  std::string base_url() const;            // "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT"
  std::string endpoint() const;            // "127.0.0.1:PORT", for tests/support/http_client.hpp
  std::filesystem::path ca_file() const;   // the certificate to trust (tls), else empty

  // Replaces the script: replies in order, one per request (over all connections, in the order
  // the requests were read), the last one repeating once the script runs out. Before any script,
  // and for an empty one: 200 with anthropic_tool_use({"ok": true}).
  void script(std::vector<FakeReply> replies);
  std::vector<SeenRequest> requests() const;  // a copy, in the order read
  std::size_t request_count() const;
  std::size_t connections_accepted() const;   // to check keep-alive reuse

  // Bodies in the providers' shapes (model "fake-model").
  // {"type":"message", "content":[{"type":"tool_use","name":"record_result","input":input}], "stop_reason":"tool_use", "usage":...}
  static std::string anthropic_tool_use(const nlohmann::json& input, int input_tokens = 100, int output_tokens = 20);
  // {"type":"message", "content":[{"type":"text","text":text}], "stop_reason":"end_turn", "usage":...}
  static std::string anthropic_text(const std::string& text, int input_tokens = 100, int output_tokens = 20);
  // {"type":"error","error":{"type":type,"message":message}}
  static std::string anthropic_error(const std::string& type, const std::string& message);
  // {"object":"chat.completion", "choices":[{"message":{"role":"assistant","content":content},"finish_reason":"stop"}], "usage":...}
  static std::string openai_message(const std::string& content, int prompt_tokens = 100, int completion_tokens = 20);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace testsupport
