#include "mapping.hpp"

#include "common/bus/envelope.hpp"
#include "common/cases/payload.hpp"
#include "common/redact/redact.hpp"

namespace ingest {

using nlohmann::json;

namespace {

Source source_from_json(const json& v, const std::string& where) {
  Source s;
  if (v.is_string()) {
    s.pointer = v.get<std::string>();
  } else if (v.is_object()) {
    common::json::reject_unknown_keys(v, {"field", "optional", "const"});
    if (auto it = v.find("const"); it != v.end()) {
      if (v.contains("field")) throw std::invalid_argument(where + ": give either field or const");
      s.constant = *it;
      return s;
    }
    common::json::get_optional(v, "field", s.pointer);
    common::json::get_optional(v, "optional", s.optional);
  } else {
    throw std::invalid_argument(where + " must be a JSON pointer (\"/customer/ref\") or {\"field\": ..., \"optional\": true} or {\"const\": ...}");
  }
  if (s.pointer.empty() || s.pointer.front() != '/') throw std::invalid_argument(where + ": a field must be a JSON pointer starting with /");
  try {
    (void)json::json_pointer(s.pointer);
  } catch (const json::exception&) {
    throw std::invalid_argument(where + ": \"" + s.pointer + "\" is not a JSON pointer");
  }
  return s;
}

json source_to_json(const Source& s) {
  if (s.pointer.empty()) return {{"const", s.constant}};
  if (s.optional) return {{"field", s.pointer}, {"optional", true}};
  return s.pointer;
}

// The value of a source in the event: the constant, the field, or nullptr when an optional field
// is absent. Throws Refusal when a required one is.
const json* resolve(const Source& s, const json& event, const std::string& name) {
  if (s.pointer.empty()) return &s.constant;
  const json::json_pointer p(s.pointer);
  if (!event.contains(p) || event.at(p).is_null()) {
    if (s.optional) return nullptr;
    throw Refusal{"missing_field", name, "the event has no " + s.pointer + " (mapped to " + name + ")"};
  }
  return &event.at(p);
}

std::string text_of(const json& v, const std::string& name, std::size_t max) {
  if (v.is_string()) {
    auto s = v.get<std::string>();
    if (s.empty() || s.size() > max) throw Refusal{"invalid_field", name, name + " must be 1-" + std::to_string(max) + " bytes"};
    return s;
  }
  if (v.is_number_integer()) return v.dump();
  throw Refusal{"invalid_field", name, name + " must be a string"};
}

}  // namespace

Mapping mapping_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw std::invalid_argument(where + " must be an object");
  common::json::reject_unknown_keys(j, {"tenant", "idempotency_key", "payload"});
  Mapping m;
  if (!j.contains("tenant")) throw std::invalid_argument(where + ".tenant is required");
  m.tenant = source_from_json(j.at("tenant"), where + ".tenant");
  if (auto it = j.find("idempotency_key"); it != j.end() && !(it->is_string() && *it == "offset")) {
    m.idempotency_key = source_from_json(*it, where + ".idempotency_key");
  }
  const auto p = j.find("payload");
  if (p == j.end() || !p->is_object()) throw std::invalid_argument(where + ".payload must be an object of payload fields");
  for (auto it = p->begin(); it != p->end(); ++it) {
    m.payload.emplace_back(it.key(), source_from_json(*it, where + ".payload." + it.key()));
  }
  const bool has_kind = std::any_of(m.payload.begin(), m.payload.end(), [](const auto& kv) { return kv.first == "kind"; });
  if (!has_kind) throw std::invalid_argument(where + ".payload.kind is required (e.g. {\"const\": \"transaction_alert\"})");
  return m;
}

json to_json(const Mapping& m) {
  json payload = json::object();
  for (const auto& [k, s] : m.payload) payload[k] = source_to_json(s);
  return {{"tenant", source_to_json(m.tenant)},
          {"idempotency_key", m.idempotency_key ? source_to_json(*m.idempotency_key) : json("offset")},
          {"payload", payload}};
}

std::variant<Mapped, Refusal> map_event(const Mapping& m, std::string_view value, const Coordinates& at,
                                        const MapOptions& options) {
  if (value.size() > options.max_event_bytes) {
    return Refusal{"too_large", "", "the event is " + std::to_string(value.size()) + " bytes, over the " +
                                        std::to_string(options.max_event_bytes) + " byte limit"};
  }
  json event;
  try {
    event = json::parse(value);
  } catch (const json::exception&) {
    return Refusal{"not_json", "", "the event is not JSON"};
  }
  if (!event.is_object()) return Refusal{"not_json", "", "the event is not a JSON object"};
  try {
    Mapped out;
    out.tenant = text_of(*resolve(m.tenant, event, "tenant"), "tenant", 128);
    if (m.idempotency_key) {
      out.idempotency_key = "event:" + text_of(*resolve(*m.idempotency_key, event, "idempotency_key"), "idempotency_key", 120);
    } else {
      out.idempotency_key = "kafka:" + at.topic + "/" + std::to_string(at.partition) + "/" + std::to_string(at.offset);
    }
    if (common::redact::redact(out.idempotency_key).total() > 0) {
      return Refusal{"personal_reference", "idempotency_key", "the event id looks like a personal number"};
    }
    json payload = json::object();
    for (const auto& [key, source] : m.payload) {
      if (const json* v = resolve(source, event, "payload." + key)) payload[key] = *v;
    }
    // Unless mapped, a case from the event bus says so.
    if (!payload.contains("channel")) payload["channel"] = "event_bus";
    auto parsed = common::cases::parse_payload(payload);
    if (!parsed) return Refusal{"invalid_field", parsed.error().field, parsed.error().message};
    // A reference that is really a card number would reach the bus unredacted.
    if (common::redact::redact(parsed->customer_ref).total() > 0) {
      return Refusal{"personal_reference", "payload.customer_ref",
                     "looks like a card, account or other personal number; map a pseudonymous reference"};
    }
    out.redactions = common::cases::redact_payload(payload);
    if (out.redactions > 0) {
      if (auto again = common::cases::parse_payload(payload); !again) {
        return Refusal{"invalid_field", again.error().field, again.error().message + " (after redaction)"};
      }
    }
    json envelope{{"v", 1},
                  {"type", "case"},
                  {"tenant", out.tenant},
                  {"to", options.workflow},
                  {"idempotency_key", out.idempotency_key},
                  {"payload", std::move(payload)}};
    // The record it came from, returned as "ref" in the final case and the outcome message.
    const std::string ref = "kafka:" + at.topic + "/" + std::to_string(at.partition) + "/" + std::to_string(at.offset);
    if (ref.size() <= 128) envelope["id"] = ref;
    out.envelope = envelope.dump();
    // The envelope's own rules (tenant and key characters, sizes), as the broker will apply them.
    common::bus::EnvelopeCodec codec;
    if (auto e = codec.decode(out.envelope); !e) return Refusal{"invalid_field", e.error().field, e.error().message};
    return out;
  } catch (const Refusal& r) {
    return r;
  }
}

}  // namespace ingest
