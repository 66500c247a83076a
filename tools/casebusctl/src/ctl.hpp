#pragma once
// casebusctl: the operator's command line for a running broker (docs/casebusctl.md).
//   casebusctl submit FILE|-          submit a case envelope, wait, print the final case
//   casebusctl stats                  queues per kind, workers with load, counters
//   casebusctl case show ID           a case's trail, attempts and errors (active or ended)
//   casebusctl dlq list [--limit N]   dead letters, newest first
//   casebusctl dlq show|retry|discard ID
//   casebusctl action approve|reject ID TYPE --by NAME
//   casebusctl keygen NAME [--out DIR]  a CURVE key pair for a broker, agent or client
#include "common/bus/curve.hpp"

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace ctl {

// The commands, for --help.
inline constexpr char kCommands[] =
    "Commands:\n"
    "  submit FILE|-          submit a case envelope and print the final case\n"
    "  stats                  queues, workers and counters\n"
    "  case show ID           a case's trail, attempts and errors (active or ended)\n"
    "  dlq list [--limit N]   dead letters, newest first (N 1..1000, default 100)\n"
    "  dlq show ID            one dead letter: its error and its final case\n"
    "  dlq retry ID           run a dead letter again from the hop that failed\n"
    "  dlq discard ID         mark a dead letter discarded (pruned after retention)\n"
    "  action approve|reject ID TYPE --by NAME   a person's decision on a pending action of an ended case\n"
    "  keygen NAME [--out DIR]  a CURVE key pair: DIR/NAME.key (secret, 0600) and DIR/NAME.pub";

struct Options {
  std::string broker = "tcp://127.0.0.1:7101";
  long timeout_ms = 30000;
  bool json = false;          // raw JSON instead of the readable summary
  std::optional<long> limit;  // dlq list only; the broker's default (100) when unset
  common::bus::CurveClientSettings curve;  // CURVE to the broker (docs/security.md#curve)
  std::string out_dir;                     // keygen only; default the current directory
  std::string by;                          // action approve|reject: who decides
};

// Exit codes: 0 ok (case completed, or the broker answered), 1 usage or I/O error, 2 rejected by
// the broker, 3 timed out, 4 the case ended failed (submit only).
int run(const Options& options, const std::vector<std::string>& args, std::istream& in, std::ostream& out,
        std::ostream& err);

// The readable renderings of the broker's answers (also used by tests). Each takes the JSON text
// the broker sent and throws nlohmann::json::exception when it does not have the expected shape.
std::string render_case(const std::string& case_json);
std::string render_stats(const std::string& stats_json);
// A case.show / dlq.show reply: where the case stands, then render_case() of its case.
std::string render_case_view(const std::string& view_json);
// A dlq.list reply: one row per dead letter, then the total.
std::string render_dead_letters(const std::string& list_json);

}  // namespace ctl
