#pragma once
// TLS for process tests, with OpenSSL: a throwaway self-signed certificate, and one HTTPS request
// that verifies the server against it.
#include "http_client.hpp"

#include <filesystem>
#include <string>

namespace testsupport {

struct CertificateFiles {
  std::filesystem::path certificate, private_key;
};

// An EC P-256 key and a self-signed certificate for 127.0.0.1, valid for a day, written as PEM.
CertificateFiles make_self_signed(const std::filesystem::path& dir);

// One request over TLS 1.2+, verifying the peer against ca (the self-signed certificate).
// status 0 when the handshake or the request failed; error says why.
HttpResponse https_request(const std::string& endpoint, const std::filesystem::path& ca, const std::string& method,
                           const std::string& target, const std::vector<std::pair<std::string, std::string>>& headers,
                           const std::string& body, std::string* error = nullptr);

}  // namespace testsupport
