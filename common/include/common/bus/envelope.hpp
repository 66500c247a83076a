#pragma once
// The versioned JSON task envelope (docs/envelope.md). A case is submitted as an envelope of
// type "case"; the broker hands each hop to an agent as an envelope of type "task".
//
// Decoding is strict (unknown fields, wrong types, bad ranges and duplicate fields are errors that
// name the field) and runs on simdjson, because the broker decodes every submission and every
// agent result on its hot path: ~0.6 us per 1 KB envelope against ~7 us for a nlohmann DOM parse
// (docs/performance.md). payload and context stay compact JSON text, so the broker never builds
// a DOM for them; agents parse them with whatever they like.
#include "common/util/error.hpp"
#include "common/util/time.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace common::bus {

inline constexpr int kEnvelopeVersion = 1;
// Bounds that keep one envelope from exhausting anything downstream.
inline constexpr std::size_t kMaxIdLength = 128;
inline constexpr std::size_t kMaxIdempotencyKeyLength = 256;
inline constexpr int kMaxAttempt = 1000;

enum class EnvelopeType { kCase, kTask };

struct Envelope {
  int v = kEnvelopeVersion;
  EnvelopeType type = EnvelopeType::kCase;
  std::string id;               // task id; on a submission an optional client reference
  std::string case_id;          // empty on a submission: the broker assigns one
  std::string tenant;
  std::string to;               // agent kind of this hop (on a submission: the first hop)
  int attempt = 1;
  WallMs created_at = 0;        // 0 on a submission: "now"
  WallMs deadline = 0;          // 0 on a submission: the broker's default deadline
  std::string trace;            // W3C traceparent; empty on a submission: created
  std::string idempotency_key;  // may be empty
  std::string payload = "{}";   // JSON object, compact text
  std::string context = "{}";   // JSON object, compact text: results of earlier hops by agent kind
};

// An agent's DONE result, validated.
struct AgentResult {
  std::string json;                 // compact JSON object text
  std::optional<std::string> next;  // agent kind of the next hop, when the result names one
};

// Field syntax shared by the envelope and the protocol.
bool valid_id(std::string_view s);           // 1..128 of [A-Za-z0-9._:/-]
bool valid_tenant(std::string_view s);       // 1..64 of [a-z0-9_-], starting alphanumeric
bool valid_agent_kind(std::string_view s);   // 1..64 of [a-z0-9_], starting with a letter

// Owns a reusable simdjson parser: one codec per thread, not thread-safe.
class EnvelopeCodec final {
 public:
  EnvelopeCodec();
  ~EnvelopeCodec();
  EnvelopeCodec(const EnvelopeCodec&) = delete;
  EnvelopeCodec& operator=(const EnvelopeCodec&) = delete;

  // Decodes a submission ("case") or task envelope. A submission needs v, type, tenant, to and
  // payload; a task needs every field.
  Result<Envelope> decode(std::string_view text);

  // Validates an agent result: a JSON object; an optional "next" must be a valid agent kind.
  Result<AgentResult> decode_result(std::string_view text);

  // Splits a JSON object into (key, compact value) members, in document order.
  Result<std::vector<std::pair<std::string, std::string>>> split_object(std::string_view text);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string encode(const Envelope& e);
void encode_into(std::string& out, const Envelope& e);

}  // namespace common::bus
