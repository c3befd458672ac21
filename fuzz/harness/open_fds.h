// count_open_fds(): the file descriptors this process has open now (from
// /proc/self/fd, the directory's own descriptor not counted), or -1 when
// they cannot be listed. The fd-leak oracle of the vhost-user fuzz targets
// and the leak checks of the vhost tests: a count before, a count after.
#pragma once

#include <dirent.h>

namespace vnet::fuzz {

inline int count_open_fds() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;  // the directory's own descriptor
}

}  // namespace vnet::fuzz
