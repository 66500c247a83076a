#pragma once
// From a core banking event to a case (docs/event-bus.md#event-mapping): which fields of the
// event's JSON give the tenant, the idempotency key and each payload field, configured per topic.
// Pure: no Kafka, no I/O, so every rule is unit-tested.
#include "common/util/error.hpp"
#include "common/util/json.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ingest {

// One value of the case: a field of the event (a JSON pointer, "/customer/ref"), optional or
// not, or a constant.
struct Source {
  std::string pointer;             // empty: constant
  nlohmann::json constant;         // when pointer is empty
  bool optional = false;
};

struct Mapping {
  Source tenant;
  // "offset": kafka:<topic>/<partition>/<offset> (redelivery of the same record maps to the same
  // case); or a field of the event, its own id (a republished event maps to the same case too).
  std::optional<Source> idempotency_key;  // empty: offset
  std::vector<std::pair<std::string, Source>> payload;  // payload key -> source
};

// Strict: unknown keys, pointers that do not start with "/", a payload without "kind" throw
// std::invalid_argument naming the key.
Mapping mapping_from_json(const nlohmann::json& j, const std::string& where);
nlohmann::json to_json(const Mapping& m);

struct Coordinates {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
};

struct Mapped {
  std::string envelope;  // a case envelope (docs/envelope.md) for the broker
  std::string tenant, idempotency_key;
  int redactions = 0;
};

// Why an event cannot become a case: a stable reason code for the dead-letter topic's header, and
// a message naming the field. Never quotes the event's values.
struct Refusal {
  std::string reason;  // not_json, too_large, missing_field, invalid_field, personal_reference
  std::string field;
  std::string message;
};

struct MapOptions {
  std::string workflow = "banking";
  std::size_t max_event_bytes = 64 * 1024;
};

// Maps one event; the payload is checked as the broker will check it (common::cases), and its
// free text redacted (common::cases::redact_payload) before it goes anywhere.
std::variant<Mapped, Refusal> map_event(const Mapping& m, std::string_view value, const Coordinates& at,
                                        const MapOptions& options);

}  // namespace ingest
