// casebus-test-agent: a misbehaving agent for process tests. It registers as the kind in
// CASEBUS_TEST_KIND and answers every task with the JSON text in CASEBUS_TEST_RESULT, whatever
// the task says: what a buggy or manipulated model behind a real agent could return.
#include "common/agent/app.hpp"

#include <cstdlib>
#include <stdexcept>

int main(int argc, char** argv) {
  const char* kind = std::getenv("CASEBUS_TEST_KIND");
  const char* result = std::getenv("CASEBUS_TEST_RESULT");
  if (!kind || !result) {
    std::fputs("casebus-test-agent: set CASEBUS_TEST_KIND and CASEBUS_TEST_RESULT\n", stderr);
    return 1;
  }
  return common::agent::run_agent(argc, argv, kind, "answers every task with a fixed result (tests only)",
                                  [answer = std::string(result)](common::agent::AgentContext&) {
                                    return [answer](common::agent::Task, common::agent::Responder r) { r.done(answer); };
                                  });
}
