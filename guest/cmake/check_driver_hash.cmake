# cmake -DARCHIVE=<libvnet_driver.a> -DRECORDS=<a.driver-sha256>;<b.driver-sha256> -P check_driver_hash.cmake
# Fails unless every record names the same archive hash, and that hash is
# the archive on disk now: proof that the guest image and the host tools
# link one and the same driver archive, not two compilations of it.
if(NOT DEFINED ARCHIVE OR NOT DEFINED RECORDS)
  message(FATAL_ERROR "ARCHIVE and RECORDS are required")
endif()
file(SHA256 "${ARCHIVE}" current)
list(LENGTH RECORDS n)
if(n LESS 2)
  message(FATAL_ERROR "need at least two binaries' records, got ${n}")
endif()
foreach(record IN LISTS RECORDS)
  if(NOT EXISTS "${record}")
    message(FATAL_ERROR "missing ${record}: the binary was not linked in this build tree")
  endif()
  file(READ "${record}" text)
  string(REGEX MATCH "^[0-9a-f]+" hash "${text}")
  if(NOT hash STREQUAL current)
    message(FATAL_ERROR "${record} records driver archive ${hash}, archive on disk is ${current}")
  endif()
  message(STATUS "${record}: ${hash}")
endforeach()
message(STATUS "all ${n} binaries link driver archive ${current}")
