#include "common/llm/checked.hpp"

#include "common/redact/redact.hpp"
#include "common/util/json.hpp"

#include <fstream>
#include <memory>
#include <sstream>

namespace common::llm {

using nlohmann::json;

ModelMode read_model_mode(const json& settings, const std::filesystem::path& config_dir, std::initializer_list<std::string_view> modes) {
  ModelMode m;
  m.mode = std::string(*modes.begin());
  if (!settings.is_object()) return m;
  common::json::get_optional(settings, "mode", m.mode);
  if (std::find(modes.begin(), modes.end(), m.mode) == modes.end()) {
    std::string list;
    for (auto x : modes) list += (list.empty() ? "\"" : ", \"") + std::string(x) + "\"";
    throw std::invalid_argument("settings.mode must be one of " + list);
  }
  if (m.mode == *modes.begin()) {
    if (settings.contains("prompt_file") || settings.contains("provider")) {
      throw std::invalid_argument("settings.prompt_file and settings.provider apply to a language-model mode only");
    }
    return m;
  }
  std::string prompt_file;
  common::json::get_optional(settings, "prompt_file", prompt_file);
  if (prompt_file.empty()) throw std::invalid_argument("settings.prompt_file must be set for mode " + m.mode);
  std::filesystem::path path(prompt_file);
  if (path.is_relative()) path = config_dir / path;
  std::ifstream f(path);
  if (!f) throw std::invalid_argument("settings.prompt_file: cannot read " + path.string());
  std::stringstream ss;
  ss << f.rdbuf();
  m.prompt = ss.str();
  m.prompt_version = path.filename().string();
  if (!settings.contains("provider")) throw std::invalid_argument("settings.provider must be set for mode " + m.mode);
  try {
    settings.at("provider").get_to(m.provider);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("settings.provider: ") + e.what());
  }
  return m;
}

std::string free_text_problem(std::string_view text, std::size_t max_bytes, std::string_view field) {
  const std::string f(field);
  if (text.empty() || text.size() > max_bytes) return f + ": must be 1 to " + std::to_string(max_bytes) + " bytes";
  if (common::redact::redact(text).total() > 0) return f + ": holds a personal number or address";
  std::size_t run = 0;
  for (unsigned char c : text) {
    if (c < 0x20 && c != '\n') return f + ": control character";
    run = (c >= '0' && c <= '9') ? run + 1 : (c == ' ' || c == '-' ? run : 0);
    if (run >= 6) return f + ": a run of 6 or more digits";
  }
  return {};
}

std::string Checked::meta_json(const std::string& model) const {
  return json{{"model", model}, {"model_calls", calls}, {"input_tokens", usage.input_tokens}, {"output_tokens", usage.output_tokens},
              {"model_ms", ms.count()}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

struct State {
  Provider* provider;
  CompletionRequest request;
  MonoTime deadline, started;
  AnswerCheck check;
  std::function<void(Checked)> done;
  Checked result;
  bool repaired = false;
};

void ask(const std::shared_ptr<State>& s) {
  s->provider->complete(s->request, s->deadline, [s](CallResult<Completion> r, const CallStats& st) {
    s->result.calls += st.attempts;
    const auto finish = [&] {
      s->result.ms = std::chrono::duration_cast<std::chrono::milliseconds>(MonoClock::now() - s->started);
      auto done = std::move(s->done);
      done(std::move(s->result));
    };
    if (!r) {
      s->result.unavailable = std::move(r.error());
      finish();
      return;
    }
    s->result.usage.input_tokens += r->usage.input_tokens;
    s->result.usage.output_tokens += r->usage.output_tokens;
    std::string why = s->check(*r);
    if (why.empty()) {
      s->result.refused.clear();
      s->result.completion = std::move(*r);
      finish();
      return;
    }
    s->result.refused = why;
    if (s->repaired) {
      finish();
      return;
    }
    // One repair request, naming what was wrong.
    s->repaired = true;
    s->request.user += "\n\nYour previous answer was not acceptable (" + why +
                       "). Answer again, following every rule, with one JSON object that follows the schema and nothing else.";
    ask(s);
  });
}

}  // namespace

MonoTime call_deadline(WallMs task_deadline) {
  const auto now = Now::current();
  const auto left = std::chrono::milliseconds(task_deadline - now.wall) - std::chrono::milliseconds(100);
  return now.mono + std::max(left, std::chrono::milliseconds(0));
}

bool fail_without_answer(const Checked& r, agent::Responder& responder, spdlog::logger& log, std::string_view agent,
                         std::string_view case_id) {
  if (r.unavailable) {
    log.warn("model call failed case_id={} agent={} calls={} status={} err={}", case_id, agent, r.calls, r.unavailable->http_status,
             r.unavailable->error.field);
    responder.fail("model_unavailable", r.unavailable->error.describe(), r.unavailable->retryable);
    return true;
  }
  if (!r.completion) {
    responder.fail("model_invalid_output", "the language model's answer was refused twice: " + r.refused, false);
    return true;
  }
  return false;
}

void ask_checked(Provider& provider, CompletionRequest request, MonoTime deadline, AnswerCheck check, std::function<void(Checked)> done) {
  auto s = std::make_shared<State>();
  s->provider = &provider;
  s->request = std::move(request);
  s->deadline = deadline;
  s->started = MonoClock::now();
  s->check = std::move(check);
  s->done = std::move(done);
  ask(s);
}

}  // namespace common::llm
