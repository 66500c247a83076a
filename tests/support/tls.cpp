#include "tls.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>

namespace testsupport {
namespace {

template <class T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Free<X509, X509_free>>;
using Ctx = std::unique_ptr<SSL_CTX, Free<SSL_CTX, SSL_CTX_free>>;
using Ssl = std::unique_ptr<SSL, Free<SSL, SSL_free>>;

std::string openssl_error() {
  char buf[256];
  ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
  return buf;
}

void write_pem(const std::filesystem::path& path, const std::function<int(FILE*)>& write) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path.string());
  const int ok = write(f);
  std::fclose(f);
  if (ok != 1) throw std::runtime_error("PEM write failed: " + openssl_error());
}

}  // namespace

CertificateFiles make_self_signed(const std::filesystem::path& dir) {
  Key key(EVP_EC_gen("P-256"));
  if (!key) throw std::runtime_error("key generation failed: " + openssl_error());
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1"}, std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    if (!ext) throw std::runtime_error("extension failed: " + openssl_error());
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) throw std::runtime_error("signing failed: " + openssl_error());
  CertificateFiles files{dir / "edge-cert.pem", dir / "edge-key.pem"};
  write_pem(files.certificate, [&](FILE* f) { return PEM_write_X509(f, cert.get()); });
  write_pem(files.private_key, [&](FILE* f) { return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr); });
  return files;
}

HttpResponse https_request(const std::string& endpoint, const std::filesystem::path& ca, const std::string& method,
                           const std::string& target, const std::vector<std::pair<std::string, std::string>>& headers,
                           const std::string& body, std::string* error) {
  HttpResponse r;
  auto fail = [&](const std::string& why) {
    if (error) *error = why;
    return r;
  };
  Ctx ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx.get(), ca.c_str(), nullptr) != 1) return fail("cannot load " + ca.string());
  const auto colon = endpoint.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(endpoint.substr(colon + 1))));
  inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &addr.sin_addr);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return fail("connect failed");
  }
  Ssl ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd);
  SSL_set1_host(ssl.get(), endpoint.substr(0, colon).c_str());
  if (SSL_connect(ssl.get()) != 1) {
    ::close(fd);
    return fail("handshake failed: " + openssl_error());
  }
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + endpoint + "\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  SSL_write(ssl.get(), req.data(), static_cast<int>(req.size()));
  std::string in;
  char buf[16384];
  for (int n; (n = SSL_read(ssl.get(), buf, sizeof buf)) > 0;) in.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  const auto head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos || in.compare(0, 5, "HTTP/") != 0) return fail("no HTTP response");
  r.status = std::stoi(in.substr(9, 3));
  r.body = in.substr(head_end + 4);
  return r;
}

}  // namespace testsupport
