#include "common/bus/curve.hpp"

#include "common/util/log.hpp"

#include <sys/stat.h>

#include <fstream>
#include <future>
#include <sstream>
#include <zmq_addon.hpp>

namespace common::bus {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kZ85KeyLength = 40;
constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";

void require_curve() {
  if (!zmq_has("curve")) throw std::runtime_error("this libzmq was built without CURVE support");
}

std::string decode_key(std::string_view z85) {
  if (z85.size() != kZ85KeyLength) return {};
  const std::string text(z85);  // zmq_z85_decode wants a terminated string
  std::string out(32, '\0');
  if (zmq_z85_decode(reinterpret_cast<std::uint8_t*>(out.data()), text.c_str()) == nullptr) return {};
  return out;
}

// The first characters of a public key: enough to tell keys apart in a log line.
std::string fingerprint(const std::string& binary_key) {
  char z85[kZ85KeyLength + 1] = {};
  zmq_z85_encode(z85, reinterpret_cast<const std::uint8_t*>(binary_key.data()), binary_key.size());
  return std::string(z85, 8);
}

std::string read_file(const fs::path& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument(std::string(what) + " " + path.string() + " cannot be read");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

KeyPair generate_key_pair() {
  require_curve();
  char pub[kZ85KeyLength + 1] = {}, sec[kZ85KeyLength + 1] = {};
  if (zmq_curve_keypair(pub, sec) != 0) throw std::runtime_error("zmq_curve_keypair failed");
  return {pub, sec};
}

bool valid_key(std::string_view z85) {
  return !decode_key(z85).empty();
}

std::string public_key_of(std::string_view secret_z85) {
  require_curve();
  if (!valid_key(secret_z85)) throw std::invalid_argument("not a Z85 CURVE key");
  const std::string secret(secret_z85);
  char pub[kZ85KeyLength + 1] = {};
  if (zmq_curve_public(pub, secret.c_str()) != 0) throw std::runtime_error("zmq_curve_public failed");
  return pub;
}

std::pair<fs::path, fs::path> write_key_files(const fs::path& dir, const std::string& name, const KeyPair& keys) {
  if (name.empty() || name.size() > 64 || name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != std::string::npos ||
      name.front() == '.') {
    throw std::invalid_argument("key name must be 1-64 characters of A-Z a-z 0-9 _ . - (not starting with .)");
  }
  const auto key_path = dir / (name + ".key");
  const auto pub_path = dir / (name + ".pub");
  if (fs::exists(key_path) || fs::exists(pub_path)) {
    throw std::invalid_argument(key_path.string() + " or " + pub_path.string() + " exists already: not overwriting a key");
  }
  const std::string secret = nlohmann::json{{"public_key", keys.public_key}, {"secret_key", keys.secret_key}}.dump() + "\n";
  {
    // Created 0600 from the start: the secret is never readable by others, not even briefly.
    const mode_t old = ::umask(077);
    std::ofstream out(key_path, std::ios::binary | std::ios::trunc);
    ::umask(old);
    if (!out || !(out << secret) || !out.flush()) throw std::runtime_error("cannot write " + key_path.string());
  }
  fs::permissions(key_path, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  std::ofstream pub(pub_path, std::ios::binary | std::ios::trunc);
  if (!pub || !(pub << keys.public_key << "\n") || !pub.flush()) throw std::runtime_error("cannot write " + pub_path.string());
  return {key_path, pub_path};
}

KeyPair read_key_file(const fs::path& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) throw std::invalid_argument("key file " + path.string() + " cannot be read");
  if ((st.st_mode & S_IROTH) != 0) {
    throw std::invalid_argument("key file " + path.string() + " is readable by everyone: chmod o-rwx it");
  }
  const auto text = read_file(path, "key file");
  KeyPair k;
  try {
    const auto j = nlohmann::json::parse(text);
    json::reject_unknown_keys(j, {"public_key", "secret_key"});
    k.public_key = j.at("public_key").get<std::string>();
    k.secret_key = j.at("secret_key").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    // Never quote the file: it holds a secret.
    throw std::invalid_argument("key file " + path.string() + " is not a casebusctl keygen key file (" +
                                std::to_string(e.id) + ")");
  }
  if (!valid_key(k.secret_key)) throw std::invalid_argument("key file " + path.string() + ": secret_key is not a Z85 CURVE key");
  if (!valid_key(k.public_key)) throw std::invalid_argument("key file " + path.string() + ": public_key is not a Z85 CURVE key");
  if (public_key_of(k.secret_key) != k.public_key) {
    throw std::invalid_argument("key file " + path.string() + ": public_key does not belong to secret_key");
  }
  return k;
}

void from_json(const nlohmann::json& j, CurveClientSettings& s) {
  if (!j.is_object()) throw std::invalid_argument("curve must be an object");
  json::reject_unknown_keys(j, {"server_public_key", "key_file"});
  json::get_optional(j, "server_public_key", s.server_public_key);
  json::get_optional(j, "key_file", s.key_file);
  if (s.server_public_key.empty() && s.key_file.empty()) return;  // plaintext
  if (!valid_key(s.server_public_key)) throw std::invalid_argument("curve.server_public_key must be a 40-character Z85 CURVE key");
  if (s.key_file.empty()) throw std::invalid_argument("curve.key_file must name this peer's key file (casebusctl keygen)");
}

void to_json(nlohmann::json& j, const CurveClientSettings& s) {
  j = nlohmann::json{{"server_public_key", s.server_public_key}, {"key_file", s.key_file}};
}

void from_json(const nlohmann::json& j, CurveServerSettings& s) {
  if (!j.is_object()) throw std::invalid_argument("curve must be an object");
  json::reject_unknown_keys(j, {"key_file", "authorized_keys"});
  json::get_optional(j, "key_file", s.key_file);
  json::get_optional(j, "authorized_keys", s.authorized_keys);
  if (s.key_file.empty() && s.authorized_keys.empty()) return;  // plaintext
  if (s.key_file.empty()) throw std::invalid_argument("curve.key_file must name the broker's key file (casebusctl keygen)");
  // Encryption without client authentication would admit anyone who has the broker's public key.
  if (s.authorized_keys.empty()) throw std::invalid_argument("curve.authorized_keys must name the file of admitted public keys");
}

void to_json(nlohmann::json& j, const CurveServerSettings& s) {
  j = nlohmann::json{{"key_file", s.key_file}, {"authorized_keys", s.authorized_keys}};
}

CurveOptions client_curve_options(const CurveClientSettings& s) {
  CurveOptions o;
  if (!s.enabled()) return o;
  require_curve();
  const auto keys = read_key_file(s.key_file);
  o.public_key = keys.public_key;
  o.secret_key = keys.secret_key;
  o.server_key = s.server_public_key;
  return o;
}

AuthorizedKeys AuthorizedKeys::parse(std::string_view text, const std::string& source) {
  AuthorizedKeys a;
  std::size_t line_no = 0;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    std::istringstream words(line);
    std::string role, key;
    if (!(words >> role) || role.front() == '#') continue;
    auto where = [&] { return source + " line " + std::to_string(line_no); };
    if (!(words >> key)) throw std::invalid_argument(where() + ": expected \"<agent|client> <public-key> [comment]\"");
    const auto binary = decode_key(key);
    if (binary.empty()) throw std::invalid_argument(where() + ": the key is not a 40-character Z85 CURVE public key");
    if (role == "agent") {
      a.agents.insert(binary);
    } else if (role == "client") {
      a.clients.insert(binary);
    } else {
      throw std::invalid_argument(where() + ": the role must be agent or client");
    }
  }
  return a;
}

AuthorizedKeys AuthorizedKeys::read(const fs::path& path) {
  return parse(read_file(path, "authorized_keys file"), path.string());
}

Authenticator::Authenticator(zmq::context_t& ctx, fs::path authorized_keys, std::shared_ptr<spdlog::logger> log)
    : path_(std::move(authorized_keys)), log_(std::move(log)) {
  require_curve();
  current_ = AuthorizedKeys::read(path_);  // a bad file stops the start
  std::error_code ec;
  mtime_ = fs::last_write_time(path_, ec);
  size_ = fs::file_size(path_, ec);
  keys_ = current_.agents.size() + current_.clients.size();
  // The socket lives in the handler's thread; the constructor returns once it is bound, so that
  // no server socket can take a connection before the handler is there.
  std::promise<void> bound;
  auto ready = bound.get_future();
  thread_ = std::thread([this, &ctx, &bound] {
    try {
      socket_ = zmq::socket_t(ctx, zmq::socket_type::rep);
      socket_.set(zmq::sockopt::linger, 0);
      socket_.bind(kZapEndpoint);
    } catch (...) {
      bound.set_exception(std::current_exception());
      return;
    }
    bound.set_value();
    run();
  });
  try {
    ready.get();
  } catch (const zmq::error_t& e) {
    thread_.join();
    throw std::runtime_error(std::string("cannot start the CURVE authenticator: ") + e.what());
  }
}

Authenticator::~Authenticator() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Authenticator::reload_if_changed() {
  std::error_code ec;
  const auto mtime = fs::last_write_time(path_, ec);
  const auto size = ec ? 0 : fs::file_size(path_, ec);
  if (ec) {
    log_->error("authorized_keys cannot be read, keeping the keys loaded before path={} keys={}", path_.string(), keys_.load());
    return;
  }
  if (mtime == mtime_ && size == size_) return;
  mtime_ = mtime;
  size_ = size;
  try {
    current_ = AuthorizedKeys::read(path_);
    keys_ = current_.agents.size() + current_.clients.size();
    log_->info("authorized_keys reloaded path={} agents={} clients={}", path_.string(), current_.agents.size(),
               current_.clients.size());
  } catch (const std::exception& e) {
    log_->error("authorized_keys not reloaded, keeping the keys loaded before err={} keys={}", e.what(), keys_.load());
  }
}

void Authenticator::run() {
  std::vector<zmq::message_t> request;
  while (!stop_) {
    zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0}};
    // Bounded so that the destructor's stop flag is seen.
    if (zmq::poll(items, 1, std::chrono::milliseconds(100)) == 0) continue;
    request.clear();
    if (!zmq::recv_multipart(socket_, std::back_inserter(request), zmq::recv_flags::dontwait)) continue;
    // RFC 27: version, request id, domain, address, identity, mechanism, credentials...
    std::string status = "400", text = "malformed ZAP request", user;
    std::string request_id;
    if (request.size() >= 6 && request[0].to_string_view() == "1.0") {
      request_id = request[1].to_string();
      const auto domain = request[2].to_string_view();
      const auto address = request[3].to_string();
      const auto mechanism = request[5].to_string_view();
      if (mechanism != "CURVE" || request.size() < 7 || request[6].size() != 32) {
        text = "CURVE required";
      } else {
        reload_if_changed();
        const std::string key = request[6].to_string();
        const auto& allowed = domain == "agent" ? current_.agents : current_.clients;
        if ((domain == "agent" || domain == "client") && allowed.count(key) > 0) {
          status = "200";
          text = "OK";
          user = fingerprint(key);
          ++allowed_;
          log_->debug("curve key admitted domain={} key={} address={}", domain, user, address);
        } else {
          text = "key not authorized";
          ++denied_;
          log_->warn("curve key refused: not in authorized_keys for this endpoint domain={} key={} address={}", domain,
                     fingerprint(key), address);
        }
      }
    }
    std::array<zmq::const_buffer, 6> reply = {zmq::str_buffer("1.0"), zmq::buffer(request_id), zmq::buffer(status),
                                              zmq::buffer(text),       zmq::buffer(user),       zmq::const_buffer()};
    zmq::send_multipart(socket_, reply, zmq::send_flags::dontwait);
  }
  socket_.close();
}

}  // namespace common::bus
