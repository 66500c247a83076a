#include "common/bus/envelope.hpp"

#include "common/util/ids.hpp"
#include "common/util/json.hpp"

#include <simdjson.h>

#include <array>

namespace common::bus {
namespace {

bool id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '/' || c == '-';
}

Error field_error(std::string field, std::string message) {
  return make_error(Errc::kInvalidField, std::move(field), std::move(message));
}

Error syntax_error(simdjson::error_code ec) {
  return make_error(Errc::kMalformed, "", std::string("invalid JSON: ") + simdjson::error_message(ec));
}

// The envelope's fields, in the order encode() writes them; a bit each in `seen`.
enum Field : unsigned {
  kV, kType, kId, kCaseId, kTenant, kTo, kAttempt, kCreatedAt, kDeadline, kTrace,
  kIdempotencyKey, kPayload, kContext, kFieldCount
};
constexpr std::array<std::string_view, kFieldCount> kFieldNames{
    "v", "type", "id", "case_id", "tenant", "to", "attempt", "created_at", "deadline", "trace",
    "idempotency_key", "payload", "context"};

int field_index(std::string_view key) {
  for (unsigned i = 0; i < kFieldCount; ++i) {
    if (kFieldNames[i] == key) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

bool valid_id(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdLength) return false;
  for (char c : s) {
    if (!id_char(c)) return false;
  }
  return true;
}

bool valid_tenant(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9'))) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

bool valid_agent_kind(std::string_view s) {
  if (s.empty() || s.size() > 64 || s[0] < 'a' || s[0] > 'z') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

struct EnvelopeCodec::Impl {
  simdjson::dom::parser parser;
};

EnvelopeCodec::EnvelopeCodec() : impl_(std::make_unique<Impl>()) {}
EnvelopeCodec::~EnvelopeCodec() = default;

Result<Envelope> EnvelopeCodec::decode(std::string_view text) {
  simdjson::dom::element root;
  if (auto ec = impl_->parser.parse(text.data(), text.size()).get(root)) return syntax_error(ec);
  simdjson::dom::object obj;
  if (root.get(obj)) return make_error(Errc::kMalformed, "", "envelope must be a JSON object");

  Envelope env;
  unsigned seen = 0;
  std::optional<EnvelopeType> type;
  for (auto [key, value] : obj) {
    const int f = field_index(key);
    if (f < 0) return field_error(std::string(key), "unknown field");
    if (seen & (1u << f)) return field_error(std::string(key), "duplicate field");
    seen |= 1u << f;
    const std::string name(key);
    std::string_view s;
    int64_t n = 0;
    switch (f) {
      case kV:
        if (value.get(n)) return field_error(name, "must be an integer");
        if (n != kEnvelopeVersion) {
          return make_error(Errc::kUnsupportedVersion, name,
                            "unsupported envelope version " + std::to_string(n) + " (this build speaks 1)");
        }
        break;
      case kType:
        if (value.get(s)) return field_error(name, "must be a string");
        if (s == "case") {
          type = EnvelopeType::kCase;
        } else if (s == "task") {
          type = EnvelopeType::kTask;
        } else {
          return field_error(name, "must be \"case\" or \"task\"");
        }
        break;
      case kId:
      case kCaseId:
        if (value.get(s)) return field_error(name, "must be a string");
        if (!valid_id(s)) return field_error(name, "must be 1-128 characters of A-Z a-z 0-9 . _ : / -");
        (f == kId ? env.id : env.case_id) = s;
        break;
      case kTenant:
        if (value.get(s)) return field_error(name, "must be a string");
        if (!valid_tenant(s)) return field_error(name, "must be 1-64 characters of a-z 0-9 _ - starting with a letter or digit");
        env.tenant = s;
        break;
      case kTo:
        if (value.get(s)) return field_error(name, "must be a string");
        if (!valid_agent_kind(s)) return field_error(name, "must be an agent kind: 1-64 characters of a-z 0-9 _ starting with a letter");
        env.to = s;
        break;
      case kAttempt:
        if (value.get(n)) return field_error(name, "must be an integer");
        if (n < 1 || n > kMaxAttempt) return field_error(name, "must be between 1 and 1000");
        env.attempt = static_cast<int>(n);
        break;
      case kCreatedAt:
      case kDeadline: {
        if (value.get(s)) return field_error(name, "must be an RFC 3339 timestamp string");
        auto t = parse_rfc3339(s);
        if (!t) return field_error(name, "must be an RFC 3339 timestamp like 2026-11-21T08:45:00.000Z");
        (f == kCreatedAt ? env.created_at : env.deadline) = *t;
        break;
      }
      case kTrace:
        if (value.get(s)) return field_error(name, "must be a string");
        if (!valid_traceparent(s)) return field_error(name, "must be a W3C traceparent: 00-<32 hex>-<16 hex>-<2 hex>");
        env.trace = s;
        break;
      case kIdempotencyKey:
        if (value.get(s)) return field_error(name, "must be a string");
        if (s.size() > kMaxIdempotencyKeyLength) return field_error(name, "must be at most 256 bytes");
        for (char c : s) {
          if (static_cast<unsigned char>(c) < 0x20) return field_error(name, "must not contain control characters");
        }
        env.idempotency_key = s;
        break;
      case kPayload:
      case kContext:
        if (!value.is_object()) return field_error(name, "must be a JSON object");
        (f == kPayload ? env.payload : env.context) = simdjson::minify(value);
        break;
      default:
        break;
    }
  }
  if (!(seen & (1u << kV))) return field_error("v", "missing required field");
  if (!type) return field_error("type", "missing required field");
  env.type = *type;
  // A submission needs little: the broker fills in the rest. A task must be complete.
  const unsigned required = env.type == EnvelopeType::kCase
      ? (1u << kTenant) | (1u << kTo) | (1u << kPayload)
      : (1u << kFieldCount) - 1 - (1u << kIdempotencyKey);
  for (unsigned i = 0; i < kFieldCount; ++i) {
    if ((required & (1u << i)) && !(seen & (1u << i))) {
      return field_error(std::string(kFieldNames[i]), "missing required field");
    }
  }
  if (env.type == EnvelopeType::kCase && (seen & (1u << kCaseId))) {
    // Case ids are the broker's: random, unique, and never shared across tenants. A client's own
    // reference goes in "id" and comes back as "ref" on the final case.
    return field_error("case_id", "is assigned by the broker; put your own reference in \"id\"");
  }
  if (env.type == EnvelopeType::kCase && (seen & (1u << kAttempt)) && env.attempt != 1) {
    return field_error("attempt", "must be 1 on a submission");
  }
  if (env.created_at && env.deadline && env.deadline <= env.created_at) {
    return field_error("deadline", "must be later than created_at");
  }
  return env;
}

Result<AgentResult> EnvelopeCodec::decode_result(std::string_view text) {
  simdjson::dom::element root;
  if (auto ec = impl_->parser.parse(text.data(), text.size()).get(root)) {
    return make_error(Errc::kInvalidResult, "result", std::string("invalid JSON: ") + simdjson::error_message(ec));
  }
  if (!root.is_object()) return make_error(Errc::kInvalidResult, "result", "must be a JSON object");
  AgentResult out;
  simdjson::dom::element next;
  if (!root["next"].get(next) && !next.is_null()) {
    std::string_view s;
    if (next.get(s) || !valid_agent_kind(s)) {
      return make_error(Errc::kInvalidResult, "result.next", "must be an agent kind");
    }
    out.next = std::string(s);
  }
  out.json = simdjson::minify(root);
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> EnvelopeCodec::split_object(std::string_view text) {
  simdjson::dom::element root;
  if (auto ec = impl_->parser.parse(text.data(), text.size()).get(root)) return syntax_error(ec);
  simdjson::dom::object obj;
  if (root.get(obj)) return make_error(Errc::kMalformed, "", "must be a JSON object");
  std::vector<std::pair<std::string, std::string>> members;
  for (auto [key, value] : obj) members.emplace_back(std::string(key), simdjson::minify(value));
  return members;
}

void encode_into(std::string& out, const Envelope& e) {
  json::ObjectWriter w(out);
  w.integer("v", e.v).raw("type", e.type == EnvelopeType::kTask ? "\"task\"" : "\"case\"");
  if (!e.id.empty()) w.string("id", e.id);
  if (!e.case_id.empty()) w.string("case_id", e.case_id);
  w.string("tenant", e.tenant).string("to", e.to).integer("attempt", e.attempt);
  if (e.created_at) {
    append_rfc3339(w.key("created_at") += '"', e.created_at);
    out += '"';
  }
  if (e.deadline) {
    append_rfc3339(w.key("deadline") += '"', e.deadline);
    out += '"';
  }
  if (!e.trace.empty()) w.string("trace", e.trace);
  if (!e.idempotency_key.empty() || e.type == EnvelopeType::kTask) w.string("idempotency_key", e.idempotency_key);
  w.raw("payload", e.payload).raw("context", e.context);
  w.close();
}

std::string encode(const Envelope& e) {
  std::string out;
  out.reserve(256 + e.payload.size() + e.context.size());
  encode_into(out, e);
  return out;
}

}  // namespace common::bus
