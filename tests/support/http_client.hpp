#pragma once
// A small HTTP/1.1 client for process tests, on plain POSIX sockets (no Beast: it keeps the test
// build light). One request per connection ("Connection: close"), every step with a deadline.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace testsupport {

struct HttpResponse {
  int status = 0;  // 0: no response (connection refused, closed or timed out)
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// endpoint: "127.0.0.1:8080".
HttpResponse http_request(const std::string& endpoint, const std::string& method, const std::string& target,
                          const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body,
                          std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A raw connection for misbehaving clients (slow senders): connect, send bytes, see whether the
// server has closed the connection.
class RawConnection final {
 public:
  explicit RawConnection(const std::string& endpoint);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  // False when the peer has closed the connection (or the send failed).
  bool send(const std::string& bytes);
  // Waits up to timeout for the server to close the connection (reading and discarding whatever
  // it sends); true when it did.
  bool closed_within(std::chrono::milliseconds timeout);
  // Everything received so far.
  const std::string& received() const { return received_; }

 private:
  int fd_ = -1;
  std::string received_;
};

}  // namespace testsupport
