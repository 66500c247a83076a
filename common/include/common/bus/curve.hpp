#pragma once
// ZeroMQ CURVE on the bus (docs/security.md#curve): key pairs and key files, the settings of the
// two sides, and the broker's ZAP handler that admits only the public keys it was given.
//
// A link is encrypted and the server authenticated as soon as both ends have keys; the client is
// authenticated by the broker's authorized_keys file, one line per key and role:
//   agent <public-key> [comment]   may register as an agent (agent endpoint)
//   client <public-key> [comment]  may submit cases and control requests (client endpoint)
// The file is re-read when it changes, so keys are added and revoked without a restart.
#include "common/bus/socket.hpp"
#include "common/util/json.hpp"

#include <zmq.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>

namespace spdlog {
class logger;
}

namespace common::bus {

// Z85 text, 40 characters each.
struct KeyPair {
  std::string public_key;
  std::string secret_key;
};

KeyPair generate_key_pair();
// Whether text is a Z85-encoded 32-byte key.
bool valid_key(std::string_view z85);
// The public key that belongs to a secret key (both Z85). Throws on an invalid key.
std::string public_key_of(std::string_view secret_z85);

// Key files, as `casebusctl keygen` writes them: <name>.key, JSON {"public_key","secret_key"},
// mode 0600; <name>.pub, the public key and a newline. Returns the two paths. Refuses to overwrite.
std::pair<std::filesystem::path, std::filesystem::path> write_key_files(const std::filesystem::path& dir,
                                                                        const std::string& name, const KeyPair& keys);
// Reads a .key file. Throws std::invalid_argument naming the file and what is wrong: unreadable,
// readable by everyone (mode o+r: group read is allowed, for a service group), not JSON, a key
// missing or invalid, or a public key that does not match the secret one.
KeyPair read_key_file(const std::filesystem::path& path);

// A client side (agent, edge, casebusctl, ingest): "curve": {"server_public_key", "key_file"}.
struct CurveClientSettings {
  std::string server_public_key;
  std::string key_file;
  bool enabled() const { return !server_public_key.empty(); }
};
// Strict: unknown keys, a missing field or an invalid server key throw with the field's name.
void from_json(const nlohmann::json& j, CurveClientSettings& s);
void to_json(nlohmann::json& j, const CurveClientSettings& s);

// The broker: "curve": {"key_file", "authorized_keys"}.
struct CurveServerSettings {
  std::string key_file;
  std::string authorized_keys;
  bool enabled() const { return !key_file.empty(); }
};
void from_json(const nlohmann::json& j, CurveServerSettings& s);
void to_json(nlohmann::json& j, const CurveServerSettings& s);

// Client-side options from settings (reads the key file). Disabled settings give plaintext.
CurveOptions client_curve_options(const CurveClientSettings& s);

// authorized_keys, parsed. Throws std::invalid_argument naming the file and line.
struct AuthorizedKeys {
  std::unordered_set<std::string> agents, clients;  // 32-byte binary keys
  static AuthorizedKeys parse(std::string_view text, const std::string& source);
  static AuthorizedKeys read(const std::filesystem::path& path);
};

// The ZAP handler (RFC 27) on inproc://zeromq.zap.01 of ctx, in its own thread: admits a CURVE
// client when its public key is authorized for the socket's domain. Construct it before binding
// the server sockets; it stops and closes its socket when destroyed (before the context).
class Authenticator final {
 public:
  Authenticator(zmq::context_t& ctx, std::filesystem::path authorized_keys, std::shared_ptr<spdlog::logger> log);
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  std::uint64_t allowed() const { return allowed_.load(); }
  std::uint64_t denied() const { return denied_.load(); }
  std::size_t keys() const { return keys_.load(); }

 private:
  void run();
  void reload_if_changed();

  zmq::socket_t socket_;
  std::filesystem::path path_;
  std::shared_ptr<spdlog::logger> log_;
  AuthorizedKeys current_;
  std::filesystem::file_time_type mtime_{};
  std::uintmax_t size_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> allowed_{0}, denied_{0};
  std::atomic<std::size_t> keys_{0};
  std::thread thread_;
};

}  // namespace common::bus
