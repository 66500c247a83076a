#include "common/bus/asio_zmq.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <iterator>
#include <zmq_addon.hpp>

namespace common::bus {

namespace asio = boost::asio;

struct AsioZmqSocket::Impl : std::enable_shared_from_this<AsioZmqSocket::Impl> {
  // Messages handled before yielding to other handlers on the io_context.
  static constexpr int kBatch = 256;

  asio::io_context& io;
  zmq::socket_t socket;
  asio::posix::stream_descriptor fd;
  MessageHandler on_message;
  std::vector<zmq::message_t> parts;
  bool waiting = false;
  bool check_posted = false;
  bool closed = false;

  Impl(asio::io_context& io_, zmq::socket_t s, MessageHandler h)
      : io(io_), socket(std::move(s)), fd(io_), on_message(std::move(h)) {
    fd.assign(socket.get(zmq::sockopt::fd));
  }

  void arm() {
    if (waiting || closed) return;
    waiting = true;
    fd.async_wait(asio::posix::stream_descriptor::wait_read,
                  [self = shared_from_this()](const boost::system::error_code& ec) {
                    self->waiting = false;
                    if (ec || self->closed) return;
                    self->drain();
                  });
  }

  void post_check() {
    if (check_posted || closed) return;
    check_posted = true;
    asio::post(io, [self = shared_from_this()] {
      self->check_posted = false;
      if (!self->closed) self->drain();
    });
  }

  void drain() {
    for (int i = 0; i < kBatch; ++i) {
      if (closed) return;
      if (!(socket.get(zmq::sockopt::events) & ZMQ_POLLIN)) {
        arm();
        return;
      }
      parts.clear();
      if (!zmq::recv_multipart(socket, std::back_inserter(parts), zmq::recv_flags::dontwait)) {
        arm();
        return;
      }
      on_message(parts);
    }
    post_check();  // more may be waiting: continue after other handlers had their turn
  }

  void close() {
    if (closed) return;
    closed = true;
    boost::system::error_code ignored;
    fd.cancel(ignored);
    fd.release();  // the descriptor belongs to ZeroMQ: never close it ourselves
    socket.close();
  }
};

AsioZmqSocket::AsioZmqSocket(asio::io_context& io, zmq::socket_t socket, MessageHandler on_message)
    : impl_(std::make_shared<Impl>(io, std::move(socket), std::move(on_message))) {
  impl_->post_check();
}

AsioZmqSocket::~AsioZmqSocket() {
  impl_->close();
}

SendResult AsioZmqSocket::send(const Frames& frames) {
  if (impl_->closed) return SendResult::kWouldBlock;
  const auto r = send_frames(impl_->socket, frames);
  impl_->post_check();
  return r;
}

void AsioZmqSocket::close() {
  impl_->close();
}

zmq::socket_t& AsioZmqSocket::socket() {
  return impl_->socket;
}

}  // namespace common::bus
