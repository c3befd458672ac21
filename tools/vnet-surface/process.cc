#include "tools/vnet-surface/process.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace vnet::surface_tool {

int run(const Command& cmd) {
  if (cmd.argv.empty()) return -1;
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    auto redirect = [](const std::string& path, int fd, int flags) {
      const int f = open(path.empty() ? "/dev/null" : path.c_str(), flags, 0644);
      if (f < 0) _exit(126);
      dup2(f, fd);
      close(f);
    };
    redirect(cmd.stdin_path, 0, O_RDONLY);
    redirect(cmd.stdout_path, 1, O_WRONLY | O_CREAT | O_TRUNC);
    if (cmd.stderr_path.empty()) {
      dup2(1, 2);
    } else {
      redirect(cmd.stderr_path, 2, O_WRONLY | O_CREAT | O_TRUNC);
    }
    for (const std::string& e : cmd.env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv;
    for (const std::string& a : cmd.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string find_program(const std::vector<std::string>& names) {
  const char* path = std::getenv("PATH");
  for (const std::string& n : names) {
    if (n.find('/') != std::string::npos) {
      if (access(n.c_str(), X_OK) == 0) return n;
      continue;
    }
    std::string dirs = path ? path : "/usr/bin:/bin";
    size_t start = 0;
    while (start <= dirs.size()) {
      size_t end = dirs.find(':', start);
      if (end == std::string::npos) end = dirs.size();
      const std::string candidate = dirs.substr(start, end - start) + "/" + n;
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
      start = end + 1;
    }
  }
  return "";
}

}  // namespace vnet::surface_tool
