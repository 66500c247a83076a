// fake_model: the tests' scripted Messages API server (tests/support/fake_llm.hpp) as a program,
// for bench/llm_classifier.sh: every request is answered after --delay-ms with a tool_use naming
// an intent. Prints "URL=<base url>" on stdout once listening; stops on SIGTERM or SIGINT.
#include "fake_llm.hpp"

#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  int delay_ms = 500;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--delay-ms")) delay_ms = std::stoi(argv[i + 1]);
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the server's thread starts: it inherits the mask
  testsupport::FakeLlmServer server;
  server.script({{200, testsupport::FakeLlmServer::anthropic_tool_use(nlohmann::json{{"intent", "fraud"}, {"confidence", 0.9}}), {},
                  std::chrono::milliseconds(delay_ms)}});
  std::printf("URL=%s\n", server.base_url().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  std::fprintf(stderr, "fake_model: %zu requests over %zu connections\n", server.request_count(), server.connections_accepted());
  return 0;
}
