// The known bug classes (fuzz/harness/bug_classes.h): each input runs
// through its fuzz target's body -- all oracles on -- and the driver's
// state and counters afterwards must show the handling the class expects
// (a counted drop, a broken queue recovered, a refused attach). Exit 1 on
// the first class that is not handled as expected.
#include <stdio.h>

#include <string>

#include "fuzz/harness/bug_classes.h"
#include "fuzz/harness/world.h"

int main() {
  using namespace vnet::fuzz;
  int failed = 0;
  const auto classes = bug_classes();
  for (const BugClass& b : classes) {
    b.run(b.input.data(), b.input.size());
    const std::string problem = b.check(World::get().net());
    printf("%-30s %-15s %s%s\n", b.name, b.target, problem.empty() ? "handled: " : "NOT HANDLED: ",
           problem.empty() ? b.what : problem.c_str());
    if (!problem.empty()) ++failed;
  }
  printf("%zu bug classes, %d not handled\n", classes.size(), failed);
  return failed == 0 ? 0 : 1;
}
