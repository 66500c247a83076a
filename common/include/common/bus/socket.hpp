#pragma once
// The only place sockets are created: every socket gets a bounded linger, a maximum message size
// and bounded high-water marks; the broker's ROUTERs also get router_mandatory, so a message to a
// peer that is gone fails loudly (EHOSTUNREACH) instead of vanishing.
#include "common/bus/protocol.hpp"

#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace common::bus {

// CURVE (curve.hpp, docs/security.md#curve). Empty keys: plaintext.
struct CurveOptions {
  bool server = false;
  std::string public_key, secret_key;  // this end's pair (Z85)
  std::string server_key;              // client side: the broker's public key (Z85)
  std::string zap_domain;              // server side: "agent" or "client", the role a key must have
  bool enabled() const { return !secret_key.empty(); }
};

struct SocketOptions {
  std::chrono::milliseconds linger{500};
  std::int64_t max_message_bytes = 1 << 20;
  int send_hwm = 100000;
  int recv_hwm = 100000;
  bool router_mandatory = false;
  // ROUTER: a peer reconnecting with a routing id already known takes the old connection's place.
  bool router_handover = false;
  // DEALER: a stable routing id, so that a broker restarted from its store can still answer this
  // socket after it reconnects (empty: ZeroMQ assigns one per connection).
  std::string routing_id;
  CurveOptions curve;
};

zmq::socket_t make_socket(zmq::context_t& ctx, zmq::socket_type type, const SocketOptions& options = {});

enum class SendResult { kSent, kWouldBlock, kUnreachable };

// Sends frames as one multipart message without blocking. With a routing id, the id frame goes
// first (ROUTER sockets). kUnreachable: ROUTER with router_mandatory and no such peer.
SendResult send_frames(zmq::socket_t& socket, const Frames& frames);
SendResult send_frames(zmq::socket_t& socket, std::string_view routing_id, const Frames& frames);

// Routing ids are bytes; logs show them as hex.
std::string hex(std::string_view bytes);

}  // namespace common::bus
