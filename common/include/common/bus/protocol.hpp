#pragma once
// The casebus wire protocol over ZeroMQ (docs/protocol.md): frame layouts, command codes and
// their codecs. Every message starts with the protocol id frame "CB01" and a one-byte command.
// Decoders take the frames as views (no copy) and return a typed message or an Error that names
// the frame at fault; encoders return the frames to send, routing id excluded.
#include "common/util/error.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace common::bus {

inline constexpr std::string_view kProtocolId = "CB01";
inline constexpr std::size_t kMaxCorrelationBytes = 64;

enum class Command : std::uint8_t {
  // client -> broker
  kSubmit = 0x01,
  kStats = 0x02,
  kControl = 0x03,  // operator requests: case lookup, dead letters (docs/protocol.md#control)
  // broker -> client
  kAccepted = 0x11,
  kResult = 0x12,
  kRejected = 0x13,
  kStatsReply = 0x14,
  kControlReply = 0x15,
  kClientError = 0x1f,
  // agent -> broker
  kReady = 0x21,
  kDone = 0x22,
  kFail = 0x23,
  kHeartbeat = 0x24,
  kDrain = 0x25,
  kDisconnect = 0x26,
  kDoneMeta = 0x27,  // DONE plus what the answer cost (model calls, tokens, time): recorded in the trail
  // broker -> agent
  kWelcome = 0x30,
  kTask = 0x31,
  kBrokerHeartbeat = 0x32,
  kBrokerDisconnect = 0x33,
  kCancel = 0x34,
  kAgentError = 0x3f,
};

std::string_view command_name(Command c) noexcept;

using Frames = std::vector<std::string>;
using FrameViews = std::span<const std::string_view>;

// ---- client -> broker
struct SubmitMsg {
  std::string_view corr;      // opaque, 1..64 bytes, echoed on every answer
  std::string_view envelope;  // JSON envelope of type "case"
};
struct StatsMsg {
  std::string_view corr;
};
struct ControlMsg {
  std::string_view corr;
  std::string_view request;  // JSON object {"op": ..., ...}
};
using ClientMessage = std::variant<SubmitMsg, StatsMsg, ControlMsg>;

// ---- broker -> client
struct AcceptedMsg {
  std::string_view corr, case_id;
};
struct ResultMsg {
  std::string_view corr, case_json;  // the final case (docs/protocol.md "Final case")
};
struct RejectedMsg {
  std::string_view corr, error_json;  // {"code","message","field"?}
};
struct StatsReplyMsg {
  std::string_view corr, stats_json;
};
struct ControlReplyMsg {
  std::string_view corr, reply_json;
};
struct ClientErrorMsg {
  std::string_view error_json;
};
using BrokerToClient = std::variant<AcceptedMsg, ResultMsg, RejectedMsg, StatsReplyMsg, ControlReplyMsg, ClientErrorMsg>;

// ---- agent -> broker
struct ReadyMsg {
  std::string kind;
  std::string worker;  // instance name for logs and stats, e.g. "host:pid"
  int capacity = 1;    // tasks the agent may hold at once
};
struct DoneMsg {
  std::string_view task_id, result_json;
  std::string_view meta_json;  // DONE_META only: a JSON object (docs/protocol.md)
};
struct FailMsg {
  std::string_view task_id;
  std::string code;     // the agent's own error code, e.g. "upstream_timeout" (1..64 bytes)
  std::string message;
  bool retryable = false;
};
struct HeartbeatMsg {};
struct DrainMsg {};
struct DisconnectMsg {};
using AgentMessage = std::variant<ReadyMsg, DoneMsg, FailMsg, HeartbeatMsg, DrainMsg, DisconnectMsg>;

// ---- broker -> agent
struct WelcomeMsg {
  int heartbeat_ms = 1000;
  int liveness = 3;
};
struct TaskMsg {
  std::string_view envelope;
};
struct BrokerHeartbeatMsg {};
struct BrokerDisconnectMsg {
  std::string_view reason;
};
struct CancelMsg {
  std::string_view task_id;
};
struct AgentErrorMsg {
  std::string_view error_json;
};
using BrokerToAgent =
    std::variant<WelcomeMsg, TaskMsg, BrokerHeartbeatMsg, BrokerDisconnectMsg, CancelMsg, AgentErrorMsg>;

inline constexpr int kMaxCapacity = 100000;

Result<ClientMessage> decode_client_message(FrameViews frames);
Result<BrokerToClient> decode_broker_to_client(FrameViews frames);
Result<AgentMessage> decode_agent_message(FrameViews frames);
Result<BrokerToAgent> decode_broker_to_agent(FrameViews frames);

// The correlation frame of a client message, when the frames carry a plausible one, so that even
// an undecodable submission can be answered REJECTED rather than with an uncorrelated error.
std::string_view correlation_of(FrameViews frames) noexcept;

// Encoders. Each returns [protocol id][command][fields...].
Frames encode_submit(std::string_view corr, std::string_view envelope);
Frames encode_stats(std::string_view corr);
Frames encode_control(std::string_view corr, std::string_view request_json);
Frames encode_control_reply(std::string_view corr, std::string_view reply_json);
Frames encode_accepted(std::string_view corr, std::string_view case_id);
Frames encode_result(std::string_view corr, std::string_view case_json);
Frames encode_rejected(std::string_view corr, const Error& error);
Frames encode_stats_reply(std::string_view corr, std::string_view stats_json);
Frames encode_client_error(const Error& error);
Frames encode_ready(const ReadyMsg& m);
Frames encode_done(std::string_view task_id, std::string_view result_json);
Frames encode_done_meta(std::string_view task_id, std::string_view result_json, std::string_view meta_json);
Frames encode_fail(std::string_view task_id, std::string_view code, std::string_view message, bool retryable);
Frames encode_heartbeat();
Frames encode_drain();
Frames encode_disconnect();
Frames encode_welcome(const WelcomeMsg& m);
Frames encode_task(std::string_view envelope);
Frames encode_broker_heartbeat();
Frames encode_broker_disconnect(std::string_view reason);
Frames encode_cancel(std::string_view task_id);
Frames encode_agent_error(const Error& error);

}  // namespace common::bus
