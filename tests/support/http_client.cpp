#include "http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace testsupport {
namespace {

using Clock = std::chrono::steady_clock;

int connect_to(const std::string& endpoint) {
  const auto colon = endpoint.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(endpoint.substr(colon + 1))));
  if (inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &addr.sin_addr) != 1) throw std::invalid_argument("bad endpoint " + endpoint);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads what is available within the deadline; false on timeout, true on data or EOF (eof set).
bool read_some(int fd, std::string& out, Clock::time_point deadline, bool& eof) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return false;
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
  char buf[16384];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n <= 0) {
    eof = true;
    return true;
  }
  out.append(buf, static_cast<std::size_t>(n));
  return true;
}

}  // namespace

HttpResponse http_request(const std::string& endpoint, const std::string& method, const std::string& target,
                          const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body,
                          std::chrono::milliseconds timeout) {
  HttpResponse r;
  const int fd = connect_to(endpoint);
  if (fd < 0) return r;
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + endpoint + "\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  std::size_t sent = 0;
  while (sent < req.size()) {
    const ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer (413) and close before reading everything
    sent += static_cast<std::size_t>(n);
  }
  const auto deadline = Clock::now() + timeout;
  std::string in;
  bool eof = false;
  while (!eof && read_some(fd, in, deadline, eof)) {
  }
  ::close(fd);
  const auto head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos || in.compare(0, 5, "HTTP/") != 0) return r;
  r.status = std::stoi(in.substr(9, 3));
  std::size_t pos = in.find("\r\n") + 2;
  while (pos < head_end) {
    const auto end = in.find("\r\n", pos);
    const auto line = in.substr(pos, end - pos);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
    }
    pos = end + 2;
  }
  r.body = in.substr(head_end + 4);
  return r;
}

RawConnection::RawConnection(const std::string& endpoint) : fd_(connect_to(endpoint)) {
  if (fd_ < 0) throw std::runtime_error("cannot connect to " + endpoint);
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::send(const std::string& bytes) {
  return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

bool RawConnection::closed_within(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  bool eof = false;
  while (!eof) {
    if (!read_some(fd_, received_, deadline, eof)) return false;
  }
  return true;
}

}  // namespace testsupport
