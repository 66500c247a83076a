// bench/bus_roundtrip: one client process keeps C cases in flight through the broker to echo
// agents (or, with --envelope and --expect, through any workflow: bench/pipeline.sh), each a 1 KB
// envelope whose result the agent adds; closed loop, warm-up then a timed
// window, the same bookkeeping as ../shared/peers (completions inside the window / window; p50
// and p99 nearest-rank over the window). Prints one RUN line; bench/run.sh takes medians.
#include "common/bus/client.hpp"
#include "common/bus/curve.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/program_options.hpp>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::string broker, envelope_path, name, expect, curve_server_key, key_file;
  int concurrency = 1;
  double warmup = 1, duration = 5;
  int rep = 1;
  po::options_description desc("bus_roundtrip");
  desc.add_options()("broker", po::value(&broker)->default_value("tcp://127.0.0.1:7101"))(
      "envelope", po::value(&envelope_path)->required())("concurrency,c", po::value(&concurrency)->default_value(1))(
      "warmup", po::value(&warmup)->default_value(1))("duration", po::value(&duration)->default_value(5))(
      "rep", po::value(&rep)->default_value(1))("name", po::value(&name)->default_value("bus_roundtrip"))(
      "expect", po::value(&expect)->default_value("\"result\":{"), "text every final case must contain")(
      "curve-server-key", po::value(&curve_server_key), "the broker's CURVE public key (with --key-file)")(
      "key-file", po::value(&key_file), "this client's CURVE key file");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, desc), vm);
  po::notify(vm);

  std::ifstream f(envelope_path);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string tmpl = ss.str();
  const auto pos = tmpl.find("__ID__");
  if (pos == std::string::npos) {
    std::fprintf(stderr, "no __ID__ in %s\n", envelope_path.c_str());
    return 1;
  }
  const std::string prefix = tmpl.substr(0, pos), suffix = tmpl.substr(pos + 6);

  zmq::context_t ctx(1);
  boost::asio::io_context io(1);
  common::bus::SocketOptions options;
  options.curve = common::bus::client_curve_options({curve_server_key, key_file});
  common::bus::BusClient client(io, ctx, broker, options);

  const auto t0 = Clock::now();
  const auto start = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration));
  std::vector<std::int64_t> latencies;
  latencies.reserve(1 << 20);
  std::uint64_t seq = 0, errors = 0, in_flight = 0;
  std::string body;

  std::function<void()> send_one = [&] {
    char id[16];
    std::snprintf(id, sizeof id, "%012" PRIu64, ++seq);
    body.assign(prefix).append(id).append(suffix);
    const auto sent = Clock::now();
    ++in_flight;
    client.submit(body, std::chrono::seconds(30), [&, sent](common::bus::Outcome o) {
      --in_flight;
      const auto now = Clock::now();
      if (o.status != common::bus::Outcome::Status::kCompleted || o.body.find(expect) == std::string::npos) {
        ++errors;
      } else if (now >= start && now <= end) {
        latencies.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(now - sent).count());
      }
      if (now < end) send_one();
    });
  };
  for (int i = 0; i < concurrency; ++i) send_one();
  while (in_flight > 0 && Clock::now() < end + std::chrono::seconds(10)) io.run_one_for(std::chrono::milliseconds(100));

  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double q) {
    if (latencies.empty()) return static_cast<double>(NAN);
    auto k = static_cast<long>(std::ceil(q / 100.0 * latencies.size())) - 1;
    k = std::clamp<long>(k, 0, static_cast<long>(latencies.size()) - 1);
    return latencies[static_cast<std::size_t>(k)] / 1e6;
  };
  std::printf("RUN name=%s C=%d rep=%d rps=%.0f p50_ms=%.3f p99_ms=%.3f n=%zu errors=%" PRIu64 "\n", name.c_str(),
              concurrency, rep, latencies.size() / duration, pct(50), pct(99), latencies.size(), errors);
  return errors == 0 && !latencies.empty() ? 0 : 2;
}
