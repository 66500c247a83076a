#pragma once
// Process-level test support: start the real binaries, learn readiness and bound endpoints from
// their sd_notify READY=1 datagram on a NOTIFY_SOCKET the test owns, stop them with SIGTERM then
// SIGKILL, and dump their stderr when a test fails. Every wait has a deadline.
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace testsupport {

using namespace std::chrono_literals;

// A temporary directory removed at destruction.
class TempDir final {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

// An AF_UNIX datagram socket in the sd_notify style.
class NotifySocket final {
 public:
  explicit NotifySocket(const std::filesystem::path& path);
  ~NotifySocket();
  const std::string& path() const { return path_; }
  // Waits for a datagram containing "key=value" lines with the given key; returns all its pairs.
  std::optional<std::map<std::string, std::string>> wait_for(const std::string& key, std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  std::string path_;
};

class Process final {
 public:
  // Starts binary with args; stderr goes to a file in dir. The child dies with the test
  // (PR_SET_PDEATHSIG) and gets its own NOTIFY_SOCKET.
  Process(const std::string& name, const std::string& binary, std::vector<std::string> args, const TempDir& dir,
          std::vector<std::string> extra_env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Waits for READY=1; returns the datagram's pairs (CASEBUS_CLIENT_ENDPOINT, ...). Throws with the
  // child's stderr on timeout or early exit.
  std::map<std::string, std::string> wait_ready(std::chrono::milliseconds timeout = 10s);
  // Waits for another notify message with the given key (STOPPING=1, ...).
  std::optional<std::map<std::string, std::string>> wait_notify(const std::string& key, std::chrono::milliseconds timeout);

  void signal(int sig);
  // Waits for exit; returns the exit status (or 128+signal), nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL after grace. Returns the exit status.
  int stop(std::chrono::milliseconds grace = 5s);
  bool running();
  int pid() const { return pid_; }
  std::string stderr_text() const;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  int pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path stderr_path_;
  std::unique_ptr<NotifySocket> notify_;
};

// Polls pred until it is true or the timeout passes. Returns the last value of pred.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s);

// Prints the stderr of every process registered here when the current test has failed.
void dump_on_failure(const std::vector<const Process*>& processes);

}  // namespace testsupport
