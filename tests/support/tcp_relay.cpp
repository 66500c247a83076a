#include "tcp_relay.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace testsupport {

struct TcpRelay::Impl {
  int listener = -1;
  std::uint16_t port = 0;
  std::uint16_t target = 0;
  std::atomic<bool> stop{false};
  mutable std::mutex mutex;
  std::string captured;
  std::size_t connections = 0;
  std::thread thread;

  struct Pair {
    int a = -1, b = -1;  // accepted side, target side
  };
  std::vector<Pair> pairs;

  int connect_target() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(target);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  // Forwards what is readable on from to to; false when the connection is over.
  bool pump(int from, int to) {
    char buf[65536];
    const auto n = ::read(from, buf, sizeof buf);
    if (n <= 0) return false;
    {
      std::lock_guard lock(mutex);
      captured.append(buf, static_cast<std::size_t>(n));
    }
    for (ssize_t off = 0; off < n;) {
      const auto w = ::write(to, buf + off, static_cast<std::size_t>(n - off));
      if (w <= 0) return false;
      off += w;
    }
    return true;
  }

  void run() {
    while (!stop) {
      std::vector<pollfd> fds{{listener, POLLIN, 0}};
      for (const auto& p : pairs) {
        fds.push_back({p.a, POLLIN, 0});
        fds.push_back({p.b, POLLIN, 0});
      }
      // Bounded so that the destructor's stop flag is seen.
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int a = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (a >= 0) {
          const int b = connect_target();
          if (b < 0) {
            ::close(a);
          } else {
            pairs.push_back({a, b});
            std::lock_guard lock(mutex);
            ++connections;
          }
        }
      }
      std::vector<Pair> alive;
      for (std::size_t i = 0; i < pairs.size(); ++i) {
        const auto& ra = fds[1 + 2 * i];
        const auto& rb = fds[2 + 2 * i];
        bool ok = true;
        if (ra.revents & (POLLIN | POLLHUP | POLLERR)) ok = pump(pairs[i].a, pairs[i].b);
        if (ok && (rb.revents & (POLLIN | POLLHUP | POLLERR))) ok = pump(pairs[i].b, pairs[i].a);
        if (ok) {
          alive.push_back(pairs[i]);
        } else {
          ::close(pairs[i].a);
          ::close(pairs[i].b);
        }
      }
      pairs = std::move(alive);
    }
    for (const auto& p : pairs) {
      ::close(p.a);
      ::close(p.b);
    }
  }
};

TcpRelay::TcpRelay(std::uint16_t target_port) : impl_(std::make_unique<Impl>()) {
  impl_->target = target_port;
  impl_->listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(impl_->listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(impl_->listener, 16) != 0) {
    throw std::runtime_error("relay: cannot listen on loopback");
  }
  socklen_t len = sizeof addr;
  ::getsockname(impl_->listener, reinterpret_cast<sockaddr*>(&addr), &len);
  impl_->port = ntohs(addr.sin_port);
  impl_->thread = std::thread([this] { impl_->run(); });
}

TcpRelay::~TcpRelay() {
  impl_->stop = true;
  impl_->thread.join();
  ::close(impl_->listener);
}

std::uint16_t TcpRelay::port() const {
  return impl_->port;
}

std::string TcpRelay::captured() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->captured;
}

std::size_t TcpRelay::connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->connections;
}

std::uint16_t port_of(const std::string& endpoint) {
  const auto colon = endpoint.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("no port in " + endpoint);
  return static_cast<std::uint16_t>(std::stoi(endpoint.substr(colon + 1)));
}

}  // namespace testsupport
