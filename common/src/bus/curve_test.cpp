#include "common/bus/curve.hpp"

#include "common/util/log.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <zmq_addon.hpp>

namespace common::bus {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "casebus-curve-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::trunc) << text;
}

std::string what_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(CurveKeys, GeneratedPairsAreValidAndMatch) {
  const auto a = generate_key_pair();
  const auto b = generate_key_pair();
  EXPECT_EQ(a.public_key.size(), 40u);
  EXPECT_TRUE(valid_key(a.public_key));
  EXPECT_TRUE(valid_key(a.secret_key));
  EXPECT_NE(a.secret_key, b.secret_key);
  EXPECT_EQ(public_key_of(a.secret_key), a.public_key);
  EXPECT_FALSE(valid_key("short"));
  EXPECT_FALSE(valid_key(std::string(40, ' ')));  // not Z85
}

TEST(CurveKeys, KeyFilesRoundTripWithASecretOnlyTheOwnerReads) {
  TempDir dir;
  const auto keys = generate_key_pair();
  const auto [key_path, pub_path] = write_key_files(dir.path(), "classifier-1", keys);
  struct stat st{};
  ASSERT_EQ(::stat(key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const auto back = read_key_file(key_path);
  EXPECT_EQ(back.public_key, keys.public_key);
  EXPECT_EQ(back.secret_key, keys.secret_key);
  std::ifstream pub(pub_path);
  std::string line;
  std::getline(pub, line);
  EXPECT_EQ(line, keys.public_key);
  // Never overwritten: a second keygen with the same name is refused.
  EXPECT_NE(what_of([&] { write_key_files(dir.path(), "classifier-1", generate_key_pair()); }).find("exists already"),
            std::string::npos);
  EXPECT_NE(what_of([&] { write_key_files(dir.path(), "../escape", keys); }).find("key name"), std::string::npos);
}

TEST(CurveKeys, BadKeyFilesAreRefusedWithTheReasonAndWithoutTheSecret) {
  TempDir dir;
  const auto keys = generate_key_pair();
  const auto other = generate_key_pair();
  const auto path = dir.path() / "x.key";
  struct Row {
    std::string text;
    mode_t mode;
    std::string expected;
  } rows[] = {
      {nlohmann::json{{"public_key", keys.public_key}, {"secret_key", keys.secret_key}}.dump(), 0604, "readable by everyone"},
      {"not json " + keys.secret_key, 0600, "not a casebusctl keygen key file"},
      {nlohmann::json{{"public_key", keys.public_key}}.dump(), 0600, "not a casebusctl keygen key file"},
      {nlohmann::json{{"public_key", keys.public_key}, {"secret_key", "abc"}}.dump(), 0600, "secret_key is not a Z85"},
      {nlohmann::json{{"public_key", other.public_key}, {"secret_key", keys.secret_key}}.dump(), 0600, "does not belong"},
  };
  for (const auto& r : rows) {
    write(path, r.text);
    fs::permissions(path, static_cast<fs::perms>(r.mode), fs::perm_options::replace);
    const auto err = what_of([&] { read_key_file(path); });
    EXPECT_NE(err.find(r.expected), std::string::npos) << r.text << " -> " << err;
    EXPECT_EQ(err.find(keys.secret_key), std::string::npos) << "the error quotes the secret";
  }
  EXPECT_NE(what_of([&] { read_key_file(dir.path() / "missing.key"); }).find("cannot be read"), std::string::npos);
  // Group-readable is fine: systemd units read keys as the casebus group (root:casebus 0640).
  write(path, nlohmann::json{{"public_key", keys.public_key}, {"secret_key", keys.secret_key}}.dump());
  fs::permissions(path, static_cast<fs::perms>(0640), fs::perm_options::replace);
  EXPECT_EQ(read_key_file(path).public_key, keys.public_key);
}

TEST(CurveSettings, ClientAndServerSettingsAreStrict) {
  const auto keys = generate_key_pair();
  CurveClientSettings c;
  from_json(nlohmann::json::object(), c);
  EXPECT_FALSE(c.enabled());
  EXPECT_NE(what_of([&] { CurveClientSettings x; from_json({{"server_public_key", "nope"}, {"key_file", "/k"}}, x); })
                .find("curve.server_public_key"),
            std::string::npos);
  EXPECT_NE(what_of([&] { CurveClientSettings x; from_json({{"server_public_key", keys.public_key}}, x); }).find("curve.key_file"),
            std::string::npos);
  EXPECT_NE(what_of([&] { CurveClientSettings x; from_json({{"server_key", keys.public_key}}, x); }).find("server_key"),
            std::string::npos);
  from_json({{"server_public_key", keys.public_key}, {"key_file", "/etc/casebus/keys/a.key"}}, c);
  EXPECT_TRUE(c.enabled());

  CurveServerSettings s;
  EXPECT_NE(what_of([&] { CurveServerSettings x; from_json({{"key_file", "/k"}}, x); }).find("curve.authorized_keys"),
            std::string::npos);
  EXPECT_NE(what_of([&] { CurveServerSettings x; from_json({{"authorized_keys", "/a"}}, x); }).find("curve.key_file"),
            std::string::npos);
  from_json({{"key_file", "/k"}, {"authorized_keys", "/a"}}, s);
  EXPECT_TRUE(s.enabled());
}

TEST(CurveAuthorizedKeys, ParsesRolesCommentsAndNamesTheBadLine) {
  const auto a = generate_key_pair();
  const auto b = generate_key_pair();
  const auto keys = AuthorizedKeys::parse("# fleet keys\n\nagent " + a.public_key + " classifier@host1\nclient " +
                                              b.public_key + "\n",
                                          "authorized_keys");
  EXPECT_EQ(keys.agents.size(), 1u);
  EXPECT_EQ(keys.clients.size(), 1u);
  EXPECT_NE(what_of([&] { AuthorizedKeys::parse("agent " + a.public_key + "\nadmin " + b.public_key + "\n", "ak"); })
                .find("ak line 2: the role must be agent or client"),
            std::string::npos);
  EXPECT_NE(what_of([&] { AuthorizedKeys::parse("agent tooshort\n", "ak"); }).find("ak line 1: the key is not"),
            std::string::npos);
  EXPECT_NE(what_of([&] { AuthorizedKeys::parse("agent\n", "ak"); }).find("ak line 1: expected"), std::string::npos);
}

// The ZAP handler against real CURVE handshakes over loopback: an authorized agent key gets
// through; an unknown key, and a key authorized for the other endpoint's role, do not; a key added
// to the file later is admitted without a restart.
TEST(CurveAuthenticator, AdmitsOnlyKeysAuthorizedForTheEndpointsRole) {
  TempDir dir;
  const auto server = generate_key_pair();
  const auto agent = generate_key_pair();
  const auto client = generate_key_pair();
  const auto stranger = generate_key_pair();
  const auto file = dir.path() / "authorized_keys";
  write(file, "agent " + agent.public_key + "\nclient " + client.public_key + "\n");
  zmq::context_t ctx(1);
  auto log = common::log::get("curve_test");
  Authenticator auth(ctx, file, log);
  EXPECT_EQ(auth.keys(), 2u);

  SocketOptions so;
  so.linger = 0ms;
  so.curve.server = true;
  so.curve.public_key = server.public_key;
  so.curve.secret_key = server.secret_key;
  so.curve.zap_domain = "agent";
  auto router = make_socket(ctx, zmq::socket_type::router, so);
  router.bind("tcp://127.0.0.1:*");
  const auto endpoint = router.get(zmq::sockopt::last_endpoint);

  // Sends one message as keys; true when the server received it within the time bound.
  auto gets_through = [&](const KeyPair& keys) {
    SocketOptions co;
    co.linger = 0ms;
    co.curve.public_key = keys.public_key;
    co.curve.secret_key = keys.secret_key;
    co.curve.server_key = server.public_key;
    auto dealer = make_socket(ctx, zmq::socket_type::dealer, co);
    dealer.connect(endpoint);
    dealer.send(zmq::str_buffer("hello"), zmq::send_flags::dontwait);
    zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0}};
    if (zmq::poll(items, 1, 1500ms) == 0) return false;
    std::vector<zmq::message_t> parts;
    (void)zmq::recv_multipart(router, std::back_inserter(parts));
    return parts.size() == 2 && parts[1].to_string_view() == "hello";
  };

  EXPECT_TRUE(gets_through(agent));
  EXPECT_FALSE(gets_through(stranger));
  EXPECT_FALSE(gets_through(client));  // a client key may not register as an agent
  EXPECT_GE(auth.allowed(), 1u);
  EXPECT_GE(auth.denied(), 2u);

  // Authorize the stranger: re-read on the next handshake (size changes, so mtime granularity
  // does not matter).
  write(file, "agent " + agent.public_key + "\nclient " + client.public_key + "\nagent " + stranger.public_key + " new\n");
  EXPECT_TRUE(gets_through(stranger));
  EXPECT_EQ(auth.keys(), 3u);

  // A broken file keeps the keys loaded before.
  write(file, "agent garbage garbage-and-more\n");
  EXPECT_TRUE(gets_through(agent));
}

}  // namespace
}  // namespace common::bus
