#include "process.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace testsupport {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "casebus-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path TempDir::write(const std::string& name, const std::string& content) const {
  const auto p = path_ / name;
  std::ofstream(p) << content;
  return p;
}

NotifySocket::NotifySocket(const fs::path& path) : path_(path.string()) {
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("notify socket failed");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof addr.sun_path) throw std::runtime_error("notify socket path too long: " + path_);
  std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("notify bind failed");
}

NotifySocket::~NotifySocket() {
  ::close(fd_);
  ::unlink(path_.c_str());
}

std::optional<std::map<std::string, std::string>> NotifySocket::wait_for(const std::string& key,
                                                                         std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) continue;
    std::map<std::string, std::string> kv;
    std::istringstream in(std::string(buf, static_cast<std::size_t>(n)));
    std::string line;
    while (std::getline(in, line)) {
      const auto eq = line.find('=');
      if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
    }
    if (kv.count(key)) return kv;
  }
}

Process::Process(const std::string& name, const std::string& binary, std::vector<std::string> args, const TempDir& dir,
                 std::vector<std::string> extra_env)
    : name_(name) {
  static std::atomic<int> counter{0};
  const int n = counter++;
  stderr_path_ = dir.path() / (name + "." + std::to_string(n) + ".stderr");
  notify_ = std::make_unique<NotifySocket>(dir.path() / (name + "." + std::to_string(n) + ".notify"));

  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    if (!std::string_view(*e).starts_with("NOTIFY_SOCKET=")) env_strings.emplace_back(*e);
  }
  env_strings.push_back("NOTIFY_SOCKET=" + notify_->path());
  for (auto& e : extra_env) env_strings.push_back(std::move(e));
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  args.insert(args.begin(), binary);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int fd = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 2);
      ::dup2(fd, 1);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
}

Process::~Process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait_exit(5s);
  }
}

std::map<std::string, std::string> Process::wait_ready(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto kv = notify_->wait_for("READY", 100ms)) return *kv;
    if (!running()) throw std::runtime_error(name_ + " exited before READY:\n" + stderr_text());
  }
  throw std::runtime_error(name_ + " not READY in time:\n" + stderr_text());
}

std::optional<std::map<std::string, std::string>> Process::wait_notify(const std::string& key,
                                                                       std::chrono::milliseconds timeout) {
  return notify_->wait_for(key, timeout);
}

void Process::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

bool Process::running() {
  if (status_) return false;
  int st = 0;
  const auto r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return r == 0;
}

std::optional<int> Process::wait_exit(std::chrono::milliseconds timeout) {
  if (eventually([&] { return !running(); }, timeout)) return status_;
  return std::nullopt;
}

int Process::stop(std::chrono::milliseconds grace) {
  signal(SIGTERM);
  if (auto st = wait_exit(grace)) return *st;
  signal(SIGKILL);
  return wait_exit(5s).value_or(-1);
}

std::string Process::stderr_text() const {
  std::ifstream f(stderr_path_);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = 1ms;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    // Polling interval of a bounded wait, not synchronization: the predicate decides.
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::milliseconds>(pause * 2, 50ms);
  }
}

void dump_on_failure(const std::vector<const Process*>& processes) {
  if (!::testing::Test::HasFailure()) return;
  for (const auto* p : processes) {
    std::fprintf(stderr, "----- stderr of %s (pid %d) -----\n%s\n", p->name().c_str(), p->pid(), p->stderr_text().c_str());
  }
}

}  // namespace testsupport
