#include "common/bus/protocol.hpp"

#include "common/bus/envelope.hpp"
#include "common/util/json.hpp"

namespace common::bus {
namespace {

Error frame_error(std::string field, std::string message) {
  return make_error(Errc::kMalformed, std::move(field), std::move(message));
}

Frames head(Command c, std::size_t extra) {
  Frames f;
  f.reserve(2 + extra);
  f.emplace_back(kProtocolId);
  f.emplace_back(1, static_cast<char>(c));
  return f;
}

// Checks the protocol id and command frames; returns the command byte.
Result<Command> check_head(FrameViews frames) {
  if (frames.size() < 2) return frame_error("frames", "expected at least 2 frames (protocol id, command)");
  if (frames[0] != kProtocolId) {
    if (frames[0].size() == 4 && frames[0].starts_with("CB")) {
      return make_error(Errc::kUnsupportedVersion, "protocol", "unsupported protocol version (this build speaks CB01)");
    }
    return frame_error("protocol", "first frame must be the protocol id CB01");
  }
  if (frames[1].size() != 1) return frame_error("command", "command frame must be one byte");
  return static_cast<Command>(static_cast<unsigned char>(frames[1][0]));
}

Result<void> expect_frames(FrameViews frames, std::size_t n, Command c) {
  if (frames.size() != n) {
    return frame_error("frames", std::string(command_name(c)) + " takes " + std::to_string(n) +
                                     " frames, got " + std::to_string(frames.size()));
  }
  return {};
}

Result<void> check_corr(std::string_view corr) {
  if (corr.empty() || corr.size() > kMaxCorrelationBytes) {
    return frame_error("correlation", "correlation id must be 1-64 bytes");
  }
  return {};
}

Result<void> check_task_id(std::string_view id) {
  if (!valid_id(id)) return frame_error("task_id", "task id must be 1-128 characters of A-Z a-z 0-9 . _ : / -");
  return {};
}

Error unknown_command(Command c) {
  return make_error(Errc::kUnknownCommand, "command",
                    "unknown command 0x" + fmt::format("{:02x}", static_cast<unsigned>(c)));
}

}  // namespace

std::string_view command_name(Command c) noexcept {
  switch (c) {
    case Command::kSubmit: return "SUBMIT";
    case Command::kStats: return "STATS";
    case Command::kControl: return "CONTROL";
    case Command::kControlReply: return "CONTROL_REPLY";
    case Command::kAccepted: return "ACCEPTED";
    case Command::kResult: return "RESULT";
    case Command::kRejected: return "REJECTED";
    case Command::kStatsReply: return "STATS_REPLY";
    case Command::kClientError: return "ERROR";
    case Command::kReady: return "READY";
    case Command::kDone: return "DONE";
    case Command::kDoneMeta: return "DONE_META";
    case Command::kFail: return "FAIL";
    case Command::kHeartbeat: return "HEARTBEAT";
    case Command::kDrain: return "DRAIN";
    case Command::kDisconnect: return "DISCONNECT";
    case Command::kWelcome: return "WELCOME";
    case Command::kTask: return "TASK";
    case Command::kBrokerHeartbeat: return "HEARTBEAT";
    case Command::kBrokerDisconnect: return "DISCONNECT";
    case Command::kCancel: return "CANCEL";
    case Command::kAgentError: return "ERROR";
  }
  return "UNKNOWN";
}

std::string_view correlation_of(FrameViews frames) noexcept {
  if (frames.size() >= 3 && frames[0] == kProtocolId && !frames[2].empty() &&
      frames[2].size() <= kMaxCorrelationBytes) {
    return frames[2];
  }
  return {};
}

Result<ClientMessage> decode_client_message(FrameViews frames) {
  auto cmd = check_head(frames);
  if (!cmd) return cmd.error();
  switch (*cmd) {
    case Command::kSubmit: {
      if (auto r = expect_frames(frames, 4, *cmd); !r) return r.error();
      if (auto r = check_corr(frames[2]); !r) return r.error();
      return ClientMessage{SubmitMsg{frames[2], frames[3]}};
    }
    case Command::kStats: {
      if (auto r = expect_frames(frames, 3, *cmd); !r) return r.error();
      if (auto r = check_corr(frames[2]); !r) return r.error();
      return ClientMessage{StatsMsg{frames[2]}};
    }
    case Command::kControl: {
      if (auto r = expect_frames(frames, 4, *cmd); !r) return r.error();
      if (auto r = check_corr(frames[2]); !r) return r.error();
      if (frames[3].empty()) return make_error(Errc::kMalformed, "request", "empty control request");
      return ClientMessage{ControlMsg{frames[2], frames[3]}};
    }
    default:
      return unknown_command(*cmd);
  }
}

Result<BrokerToClient> decode_broker_to_client(FrameViews frames) {
  auto cmd = check_head(frames);
  if (!cmd) return cmd.error();
  switch (*cmd) {
    case Command::kAccepted:
      if (auto r = expect_frames(frames, 4, *cmd); !r) return r.error();
      return BrokerToClient{AcceptedMsg{frames[2], frames[3]}};
    case Command::kResult:
      if (auto r = expect_frames(frames, 4, *cmd); !r) return r.error();
      return BrokerToClient{ResultMsg{frames[2], frames[3]}};
    case Command::kRejected:
      if (auto r = expect_frames(frames, 4, *cmd); !r) return r.error();
      return BrokerToClient{RejectedMsg{frames[2], frames[3]}};
    case Command::kStatsReply:
      if (auto r = expect_frames(frames, 4, *cmd); !r) return r.error();
      return BrokerToClient{StatsReplyMsg{frames[2], frames[3]}};
    case Command::kControlReply:
      if (auto r = expect_frames(frames, 4, *cmd); !r) return r.error();
      return BrokerToClient{ControlReplyMsg{frames[2], frames[3]}};
    case Command::kClientError:
      if (auto r = expect_frames(frames, 3, *cmd); !r) return r.error();
      return BrokerToClient{ClientErrorMsg{frames[2]}};
    default:
      return unknown_command(*cmd);
  }
}

Result<AgentMessage> decode_agent_message(FrameViews frames) {
  auto cmd = check_head(frames);
  if (!cmd) return cmd.error();
  switch (*cmd) {
    case Command::kReady: {
      if (auto r = expect_frames(frames, 3, *cmd); !r) return r.error();
      // Registration is rare: a strict nlohmann parse is fine here.
      try {
        const auto j = json::json::parse(frames[2]);
        json::reject_unknown_keys(j, {"kind", "worker", "capacity"});
        ReadyMsg m;
        j.at("kind").get_to(m.kind);
        j.at("worker").get_to(m.worker);
        const auto& cap = j.at("capacity");
        if (!cap.is_number_integer() || cap.get<long long>() < 1 || cap.get<long long>() > kMaxCapacity) {
          return make_error(Errc::kInvalidField, "capacity", "must be an integer between 1 and 100000");
        }
        m.capacity = cap.get<int>();
        if (!valid_agent_kind(m.kind)) return make_error(Errc::kInvalidField, "kind", "must be an agent kind");
        if (m.worker.empty() || m.worker.size() > 128) return make_error(Errc::kInvalidField, "worker", "must be 1-128 bytes");
        return AgentMessage{std::move(m)};
      } catch (const nlohmann::json::parse_error& e) {
        return make_error(Errc::kMalformed, "ready", e.what());
      } catch (const nlohmann::json::exception& e) {
        return make_error(Errc::kInvalidField, "ready", e.what());
      }
    }
    case Command::kDone:
      if (auto r = expect_frames(frames, 4, *cmd); !r) return r.error();
      if (auto r = check_task_id(frames[2]); !r) return r.error();
      return AgentMessage{DoneMsg{frames[2], frames[3], {}}};
    case Command::kDoneMeta:
      if (auto r = expect_frames(frames, 5, *cmd); !r) return r.error();
      if (auto r = check_task_id(frames[2]); !r) return r.error();
      return AgentMessage{DoneMsg{frames[2], frames[3], frames[4]}};
    case Command::kFail: {
      if (auto r = expect_frames(frames, 4, *cmd); !r) return r.error();
      if (auto r = check_task_id(frames[2]); !r) return r.error();
      try {
        const auto j = json::json::parse(frames[3]);
        json::reject_unknown_keys(j, {"code", "message", "retryable"});
        FailMsg m;
        m.task_id = frames[2];
        j.at("code").get_to(m.code);
        j.at("message").get_to(m.message);
        j.at("retryable").get_to(m.retryable);
        if (m.code.empty() || m.code.size() > 64) return make_error(Errc::kInvalidField, "fail.code", "must be 1-64 bytes");
        if (m.message.size() > 4096) {
          // Cut at a UTF-8 character boundary: never hand on half a character.
          std::size_t n = 4096;
          while (n > 0 && (static_cast<unsigned char>(m.message[n]) & 0xC0) == 0x80) --n;
          m.message.resize(n);
        }
        return AgentMessage{std::move(m)};
      } catch (const nlohmann::json::parse_error& e) {
        return make_error(Errc::kMalformed, "fail", e.what());
      } catch (const nlohmann::json::exception& e) {
        return make_error(Errc::kInvalidField, "fail", e.what());
      }
    }
    case Command::kHeartbeat:
      if (auto r = expect_frames(frames, 2, *cmd); !r) return r.error();
      return AgentMessage{HeartbeatMsg{}};
    case Command::kDrain:
      if (auto r = expect_frames(frames, 2, *cmd); !r) return r.error();
      return AgentMessage{DrainMsg{}};
    case Command::kDisconnect:
      if (auto r = expect_frames(frames, 2, *cmd); !r) return r.error();
      return AgentMessage{DisconnectMsg{}};
    default:
      return unknown_command(*cmd);
  }
}

Result<BrokerToAgent> decode_broker_to_agent(FrameViews frames) {
  auto cmd = check_head(frames);
  if (!cmd) return cmd.error();
  switch (*cmd) {
    case Command::kWelcome: {
      if (auto r = expect_frames(frames, 3, *cmd); !r) return r.error();
      try {
        const auto j = json::json::parse(frames[2]);
        WelcomeMsg m;
        j.at("heartbeat_ms").get_to(m.heartbeat_ms);
        j.at("liveness").get_to(m.liveness);
        if (m.heartbeat_ms < 10 || m.liveness < 1) return make_error(Errc::kInvalidField, "welcome", "heartbeat out of range");
        return BrokerToAgent{m};
      } catch (const nlohmann::json::exception& e) {
        return make_error(Errc::kInvalidField, "welcome", e.what());
      }
    }
    case Command::kTask:
      if (auto r = expect_frames(frames, 3, *cmd); !r) return r.error();
      return BrokerToAgent{TaskMsg{frames[2]}};
    case Command::kBrokerHeartbeat:
      if (auto r = expect_frames(frames, 2, *cmd); !r) return r.error();
      return BrokerToAgent{BrokerHeartbeatMsg{}};
    case Command::kBrokerDisconnect:
      if (auto r = expect_frames(frames, 3, *cmd); !r) return r.error();
      return BrokerToAgent{BrokerDisconnectMsg{frames[2]}};
    case Command::kCancel:
      if (auto r = expect_frames(frames, 3, *cmd); !r) return r.error();
      return BrokerToAgent{CancelMsg{frames[2]}};
    case Command::kAgentError:
      if (auto r = expect_frames(frames, 3, *cmd); !r) return r.error();
      return BrokerToAgent{AgentErrorMsg{frames[2]}};
    default:
      return unknown_command(*cmd);
  }
}

Frames encode_submit(std::string_view corr, std::string_view envelope) {
  auto f = head(Command::kSubmit, 2);
  f.emplace_back(corr);
  f.emplace_back(envelope);
  return f;
}
Frames encode_stats(std::string_view corr) {
  auto f = head(Command::kStats, 1);
  f.emplace_back(corr);
  return f;
}
Frames encode_control(std::string_view corr, std::string_view request_json) {
  auto f = head(Command::kControl, 2);
  f.emplace_back(corr);
  f.emplace_back(request_json);
  return f;
}
Frames encode_control_reply(std::string_view corr, std::string_view reply_json) {
  auto f = head(Command::kControlReply, 2);
  f.emplace_back(corr);
  f.emplace_back(reply_json);
  return f;
}
Frames encode_accepted(std::string_view corr, std::string_view case_id) {
  auto f = head(Command::kAccepted, 2);
  f.emplace_back(corr);
  f.emplace_back(case_id);
  return f;
}
Frames encode_result(std::string_view corr, std::string_view case_json) {
  auto f = head(Command::kResult, 2);
  f.emplace_back(corr);
  f.emplace_back(case_json);
  return f;
}
Frames encode_rejected(std::string_view corr, const Error& error) {
  auto f = head(Command::kRejected, 2);
  f.emplace_back(corr);
  f.push_back(error.to_json());
  return f;
}
Frames encode_stats_reply(std::string_view corr, std::string_view stats_json) {
  auto f = head(Command::kStatsReply, 2);
  f.emplace_back(corr);
  f.emplace_back(stats_json);
  return f;
}
Frames encode_client_error(const Error& error) {
  auto f = head(Command::kClientError, 1);
  f.push_back(error.to_json());
  return f;
}
Frames encode_ready(const ReadyMsg& m) {
  auto f = head(Command::kReady, 1);
  f.push_back(json::json{{"kind", m.kind}, {"worker", m.worker}, {"capacity", m.capacity}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace));
  return f;
}
Frames encode_done(std::string_view task_id, std::string_view result_json) {
  auto f = head(Command::kDone, 2);
  f.emplace_back(task_id);
  f.emplace_back(result_json);
  return f;
}
Frames encode_done_meta(std::string_view task_id, std::string_view result_json, std::string_view meta_json) {
  auto f = head(Command::kDoneMeta, 3);
  f.emplace_back(task_id);
  f.emplace_back(result_json);
  f.emplace_back(meta_json);
  return f;
}
Frames encode_fail(std::string_view task_id, std::string_view code, std::string_view message, bool retryable) {
  auto f = head(Command::kFail, 2);
  f.emplace_back(task_id);
  // Invalid UTF-8 from an agent's message is replaced, not thrown on.
  f.push_back(json::json{{"code", code}, {"message", message}, {"retryable", retryable}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace));
  return f;
}
Frames encode_heartbeat() { return head(Command::kHeartbeat, 0); }
Frames encode_drain() { return head(Command::kDrain, 0); }
Frames encode_disconnect() { return head(Command::kDisconnect, 0); }
Frames encode_welcome(const WelcomeMsg& m) {
  auto f = head(Command::kWelcome, 1);
  f.push_back(json::json{{"heartbeat_ms", m.heartbeat_ms}, {"liveness", m.liveness}}.dump());
  return f;
}
Frames encode_task(std::string_view envelope) {
  auto f = head(Command::kTask, 1);
  f.emplace_back(envelope);
  return f;
}
Frames encode_broker_heartbeat() { return head(Command::kBrokerHeartbeat, 0); }
Frames encode_broker_disconnect(std::string_view reason) {
  auto f = head(Command::kBrokerDisconnect, 1);
  f.emplace_back(reason);
  return f;
}
Frames encode_cancel(std::string_view task_id) {
  auto f = head(Command::kCancel, 1);
  f.emplace_back(task_id);
  return f;
}
Frames encode_agent_error(const Error& error) {
  auto f = head(Command::kAgentError, 1);
  f.push_back(error.to_json());
  return f;
}

}  // namespace common::bus
