#pragma once
// The HTTP(S) side of a language-model provider: asynchronous completion calls on the caller's
// io_context (one thread, no thread per call), many in flight at once, each bounded by the task's
// deadline and cancellable. Keep-alive connections are pooled; HTTPS verifies the server's
// certificate (the system's trust store, or ca_file) and host name, with SNI. Failed attempts are
// retried (retryable_status, connection failures) with full-jitter backoff that honours
// Retry-After, as long as the deadline allows. The API key is sent, never logged.
#include "common/llm/provider.hpp"
#include "common/util/time.hpp"

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <string>

namespace common::llm {

struct ProviderSettings {
  std::string provider = "anthropic";                 // anthropic | openai (OpenAI-compatible)
  std::string base_url = "https://api.anthropic.com";  // http:// only for on-prem servers on a trusted network
  std::string model;
  std::string api_key;  // resolved at load (api_key_env / api_key_file); empty: none sent (openai only)
  std::string ca_file;  // PEM trust store instead of the system's (a private CA)
  int max_attempts = 4;
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{8000};
  std::size_t max_idle_connections = 64;
  std::size_t max_response_bytes = 4 << 20;
};

// Strict, like every config section: unknown keys and bad values throw std::invalid_argument
// naming the key. Keys: provider, base_url, model, api_key_env (default ANTHROPIC_API_KEY for
// anthropic, none for openai), api_key_file, ca_file, max_attempts, backoff_initial_ms,
// backoff_max_ms, max_idle_connections. The key itself is never part of a config file.
void from_json(const nlohmann::json& j, ProviderSettings& s);

struct CallStats {
  int attempts = 0;
  int last_status = 0;                  // the last HTTP status (0: none)
  std::chrono::milliseconds latency{0};  // from the call to its outcome, waits included
};

class Provider final {
 public:
  using Callback = std::function<void(CallResult<Completion>, const CallStats&)>;

  // Throws std::invalid_argument for a base_url it cannot use, std::runtime_error for TLS setup.
  Provider(boost::asio::io_context& io, ProviderSettings settings);
  ~Provider();
  Provider(const Provider&) = delete;
  Provider& operator=(const Provider&) = delete;

  // One completion. `done` is called exactly once, on the io_context: the Completion, or the last
  // CallError (Errc::kTimeout when the deadline ended it, kCancelled after cancel()).
  std::uint64_t complete(CompletionRequest request, MonoTime deadline, Callback done);
  void cancel(std::uint64_t call);
  std::size_t in_flight() const;
  const ProviderSettings& settings() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace common::llm
