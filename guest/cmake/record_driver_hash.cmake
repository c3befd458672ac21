# cmake -DARCHIVE=<libvnet_driver.a> -DOUTPUT=<binary>.driver-sha256 -P record_driver_hash.cmake
# Writes "<sha256>  <archive file name>" for the archive a binary was just
# linked from (run as a POST_BUILD step, right after the link).
if(NOT DEFINED ARCHIVE OR NOT DEFINED OUTPUT)
  message(FATAL_ERROR "ARCHIVE and OUTPUT are required")
endif()
file(SHA256 "${ARCHIVE}" hash)
get_filename_component(name "${ARCHIVE}" NAME)
file(WRITE "${OUTPUT}" "${hash}  ${name}\n")
