#pragma once
// casebusctl: the operator's command line for a running broker (docs/casebusctl.md).
//   casebusctl submit FILE|-   submit a case envelope, wait, print the final case
//   casebusctl stats           queues per kind, workers with load, counters
#include <iosfwd>
#include <string>
#include <vector>

namespace ctl {

struct Options {
  std::string broker = "tcp://127.0.0.1:7101";
  long timeout_ms = 30000;
  bool json = false;  // raw JSON instead of the readable summary
};

// Exit codes: 0 ok (case completed), 1 usage or I/O error, 2 rejected by the broker, 3 timed out,
// 4 the case ended failed.
int run(const Options& options, const std::vector<std::string>& args, std::istream& in, std::ostream& out,
        std::ostream& err);

// The readable rendering of a final case and of stats (also used by tests).
std::string render_case(const std::string& case_json);
std::string render_stats(const std::string& stats_json);

}  // namespace ctl
