// Running a program: argv, extra environment, stdin/stdout/stderr files.
#pragma once

#include <string>
#include <vector>

namespace vnet::surface_tool {

struct Command {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // NAME=value, added to this process's environment
  std::string stdin_path;        // empty: /dev/null
  std::string stdout_path;       // empty: /dev/null
  std::string stderr_path;       // empty: same as stdout
};

// Runs cmd to completion. Returns its exit status, 128 + signal when it was
// killed, or -1 when it could not be started.
int run(const Command& cmd);

// The first of names found on PATH (or as a path), else empty.
std::string find_program(const std::vector<std::string>& names);

}  // namespace vnet::surface_tool
