#include "common/bus/socket.hpp"

namespace common::bus {

zmq::socket_t make_socket(zmq::context_t& ctx, zmq::socket_type type, const SocketOptions& o) {
  zmq::socket_t s(ctx, type);
  s.set(zmq::sockopt::linger, static_cast<int>(o.linger.count()));
  s.set(zmq::sockopt::maxmsgsize, o.max_message_bytes);
  s.set(zmq::sockopt::sndhwm, o.send_hwm);
  s.set(zmq::sockopt::rcvhwm, o.recv_hwm);
  if (o.router_mandatory && type == zmq::socket_type::router) s.set(zmq::sockopt::router_mandatory, 1);
  if (o.router_handover && type == zmq::socket_type::router) s.set(zmq::sockopt::router_handover, 1);
  if (!o.routing_id.empty()) s.set(zmq::sockopt::routing_id, zmq::buffer(o.routing_id));
  if (o.curve.enabled()) {
    // Keys as Z85 text: libzmq reads a 40-byte value as Z85 (and a 32-byte one as binary).
    if (o.curve.server) {
      s.set(zmq::sockopt::curve_server, 1);
      s.set(zmq::sockopt::zap_domain, o.curve.zap_domain);
    } else {
      s.set(zmq::sockopt::curve_serverkey, o.curve.server_key);
      s.set(zmq::sockopt::curve_publickey, o.curve.public_key);
    }
    s.set(zmq::sockopt::curve_secretkey, o.curve.secret_key);
  }
  return s;
}

namespace {

SendResult send_parts(zmq::socket_t& socket, std::string_view routing_id, bool has_id, const Frames& frames) {
  try {
    std::size_t i = 0;
    const std::size_t n = frames.size() + (has_id ? 1 : 0);
    auto flags = [&](std::size_t k) {
      return k + 1 < n ? zmq::send_flags::dontwait | zmq::send_flags::sndmore : zmq::send_flags::dontwait;
    };
    if (has_id) {
      if (!socket.send(zmq::buffer(routing_id), flags(i++))) return SendResult::kWouldBlock;
    }
    for (const auto& f : frames) {
      // After the first frame of a multipart message, ZeroMQ queues the rest atomically.
      if (!socket.send(zmq::buffer(f), flags(i++))) return SendResult::kWouldBlock;
    }
    return SendResult::kSent;
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) return SendResult::kUnreachable;
    throw;
  }
}

}  // namespace

SendResult send_frames(zmq::socket_t& socket, const Frames& frames) {
  return send_parts(socket, {}, false, frames);
}

SendResult send_frames(zmq::socket_t& socket, std::string_view routing_id, const Frames& frames) {
  return send_parts(socket, routing_id, true, frames);
}

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    s.push_back(kHex[c >> 4]);
    s.push_back(kHex[c & 0xf]);
  }
  return s;
}

}  // namespace common::bus
