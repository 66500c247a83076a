#include "common/bus/client.hpp"

#include "common/util/ids.hpp"
#include "common/util/json.hpp"
#include "common/util/log.hpp"

#include <cstring>

namespace common::bus {

namespace {

std::string corr_bytes(std::uint64_t c) {
  return std::string(reinterpret_cast<const char*>(&c), sizeof c);
}

// The broker's {"code","message","field"?} error JSON back into an Error.
Error parse_error(std::string_view text) {
  Error e = make_error(Errc::kInternal, "", std::string(text));
  try {
    const auto j = nlohmann::json::parse(text);
    e.code = errc_from_string(j.at("code").get<std::string>());
    e.message = j.at("message").get<std::string>();
    json::get_optional(j, "field", e.field);
  } catch (const nlohmann::json::exception&) {
    // keep the raw text as the message
  }
  return e;
}

bool corr_value(std::string_view s, std::uint64_t& out) {
  if (s.size() != sizeof out) return false;
  std::memcpy(&out, s.data(), sizeof out);
  return true;
}

}  // namespace

namespace {

// A routing id of its own for the client's lifetime (not per connection): a broker that restarts
// from its store answers the cases this client submitted before the restart once it reconnects.
SocketOptions with_stable_id(SocketOptions o) {
  if (o.routing_id.empty()) o.routing_id = "bc-" + random_hex128();
  return o;
}

}  // namespace

BusClient::BusClient(boost::asio::io_context& io, zmq::context_t& ctx, const std::string& endpoint,
                     const SocketOptions& options)
    : io_(io),
      socket_(io, make_socket(ctx, zmq::socket_type::dealer, with_stable_id(options)),
              [this](std::vector<zmq::message_t>& parts) { on_message(parts); }),
      timer_(io) {
  socket_.socket().connect(endpoint);
}

BusClient::~BusClient() {
  *alive_ = false;
  socket_.close();
}

std::uint64_t BusClient::add(std::chrono::milliseconds timeout, Callback done, AcceptedCallback accepted) {
  const auto corr = next_corr_++;
  const auto deadline = MonoClock::now() + timeout;
  pending_.emplace(corr, Pending{std::move(done), std::move(accepted), deadline, {}});
  deadlines_.emplace(deadline, corr);
  if (deadline < timer_expiry_) arm_timer();
  return corr;
}

void BusClient::submit(std::string_view envelope_json, std::chrono::milliseconds timeout, Callback done,
                       AcceptedCallback accepted) {
  const auto corr = add(timeout, std::move(done), std::move(accepted));
  if (socket_.send(encode_submit(corr_bytes(corr), envelope_json)) != SendResult::kSent) {
    finish(corr, Outcome{Outcome::Status::kRejected, {}, {},
                         make_error(Errc::kBusy, "", "client send queue full")});
  }
}

void BusClient::stats(std::chrono::milliseconds timeout, Callback done) {
  const auto corr = add(timeout, std::move(done), {});
  if (socket_.send(encode_stats(corr_bytes(corr))) != SendResult::kSent) {
    finish(corr, Outcome{Outcome::Status::kRejected, {}, {},
                         make_error(Errc::kBusy, "", "client send queue full")});
  }
}

void BusClient::control(std::string_view request_json, std::chrono::milliseconds timeout, Callback done) {
  const auto corr = add(timeout, std::move(done), {});
  if (socket_.send(encode_control(corr_bytes(corr), request_json)) != SendResult::kSent) {
    finish(corr, Outcome{Outcome::Status::kRejected, {}, {},
                         make_error(Errc::kBusy, "", "client send queue full")});
  }
}

void BusClient::finish(std::uint64_t corr, Outcome outcome) {
  auto it = pending_.find(corr);
  if (it == pending_.end()) return;
  auto done = std::move(it->second.done);
  if (outcome.case_id.empty()) outcome.case_id = std::move(it->second.case_id);
  deadlines_.erase({it->second.deadline, corr});
  pending_.erase(it);
  done(std::move(outcome));
}

void BusClient::on_message(std::vector<zmq::message_t>& parts) {
  std::string_view views[8];
  if (parts.size() > std::size(views)) {
    ++unmatched_;
    return;
  }
  for (std::size_t i = 0; i < parts.size(); ++i) views[i] = parts[i].to_string_view();
  auto msg = decode_broker_to_client(FrameViews(views, parts.size()));
  if (!msg) {
    ++unmatched_;
    log::get("bus")->warn("undecodable broker message err={}", msg.error().describe());
    return;
  }
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        std::uint64_t corr = 0;
        if constexpr (std::is_same_v<T, ClientErrorMsg>) {
          ++unmatched_;
          log::get("bus")->warn("broker reported an error err={}", m.error_json);
          return;
        } else {
          if (!corr_value(m.corr, corr) || !pending_.count(corr)) {
            ++unmatched_;
            return;
          }
          if constexpr (std::is_same_v<T, AcceptedMsg>) {
            auto& p = pending_.at(corr);
            p.case_id = std::string(m.case_id);
            if (p.accepted) p.accepted(p.case_id);
          } else if constexpr (std::is_same_v<T, ResultMsg>) {
            finish(corr, Outcome{Outcome::Status::kCompleted, {}, std::string(m.case_json), {}});
          } else if constexpr (std::is_same_v<T, RejectedMsg>) {
            finish(corr, Outcome{Outcome::Status::kRejected, {}, std::string(m.error_json), parse_error(m.error_json)});
          } else if constexpr (std::is_same_v<T, StatsReplyMsg>) {
            finish(corr, Outcome{Outcome::Status::kReply, {}, std::string(m.stats_json), {}});
          } else if constexpr (std::is_same_v<T, ControlReplyMsg>) {
            finish(corr, Outcome{Outcome::Status::kReply, {}, std::string(m.reply_json), {}});
          }
        }
      },
      *msg);
}

void BusClient::arm_timer() {
  if (deadlines_.empty()) {
    timer_expiry_ = MonoTime::max();
    timer_.cancel();
    return;
  }
  timer_expiry_ = deadlines_.begin()->first;
  timer_.expires_at(timer_expiry_);
  timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec) {
    auto a = alive.lock();
    if (!ec && a && *a) on_timer();
  });
}

void BusClient::on_timer() {
  const auto now = MonoClock::now();
  const auto alive = alive_;  // a callback may destroy this client
  while (*alive && !deadlines_.empty() && deadlines_.begin()->first <= now) {
    const auto corr = deadlines_.begin()->second;
    finish(corr, Outcome{Outcome::Status::kTimeout, {}, {},
                         make_error(Errc::kTimeout, "", "no final answer from the broker in time")});
  }
  if (*alive) arm_timer();
}

SyncBusClient::SyncBusClient(const std::string& endpoint, const SocketOptions& options)
    : ctx_(1), client_(std::make_unique<BusClient>(io_, ctx_, endpoint, options)) {}

SyncBusClient::~SyncBusClient() {
  client_.reset();
}

Outcome SyncBusClient::wait(const std::function<void(BusClient::Callback)>& start) {
  std::optional<Outcome> result;
  start([&](Outcome o) { result = std::move(o); });
  io_.restart();
  while (!result) io_.run_one();  // the request's own timer bounds this loop
  return std::move(*result);
}

Outcome SyncBusClient::submit(std::string_view envelope_json, std::chrono::milliseconds timeout) {
  return wait([&](BusClient::Callback cb) { client_->submit(envelope_json, timeout, std::move(cb)); });
}

Outcome SyncBusClient::control(std::string_view request_json, std::chrono::milliseconds timeout) {
  return wait([&](BusClient::Callback cb) { client_->control(request_json, timeout, std::move(cb)); });
}

Outcome SyncBusClient::stats(std::chrono::milliseconds timeout) {
  return wait([&](BusClient::Callback cb) { client_->stats(timeout, std::move(cb)); });
}

}  // namespace common::bus
