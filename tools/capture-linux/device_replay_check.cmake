# cmake -DVNET_REPLAY=.. -DTRACE=corpus/traces/linux/NAME.jsonl -P device_replay_check.cmake
#
# A committed capture of Linux's virtio-net driver (capture-linux.sh)
# replays in device mode against this build of our driver: the capture's
# device side drives the mock device, and the verdict must be PASS with
# every captured rx frame delivered, byte-exact and in order, and at least
# one of them. No kernel, no QEMU: only the committed trace.
if(NOT EXISTS ${TRACE})
  message(FATAL_ERROR "no trace ${TRACE}")
endif()
file(STRINGS ${TRACE} header LIMIT_COUNT 1)
if(NOT header MATCHES "\"by\":\"trace2json\"" OR NOT header MATCHES "\"replay\":\"device\"")
  message(FATAL_ERROR "${TRACE} is not a trace2json conversion that asks for device mode:\n${header}")
endif()
get_filename_component(name ${TRACE} NAME)
# No --mode: the header's "replay":"device" chooses it, as it does for a
# replay of the whole corpus.
execute_process(COMMAND ${VNET_REPLAY} --no-progress ${TRACE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
if(NOT rc EQUAL 0 OR NOT out MATCHES "PASS [^\n]*${name} \\([0-9]+ events, device mode\\)")
  message(FATAL_ERROR "vnet-replay --mode device ${name} failed (${rc}):\n${out}\n${err}")
endif()
if(NOT out MATCHES "rx: ([0-9]+) frames captured, ([0-9]+) delivered byte-exact in order")
  message(FATAL_ERROR "device mode did not report its rx frames:\n${out}")
endif()
if(NOT CMAKE_MATCH_1 EQUAL CMAKE_MATCH_2 OR CMAKE_MATCH_1 EQUAL 0)
  message(FATAL_ERROR "device mode delivered ${CMAKE_MATCH_2} of ${CMAKE_MATCH_1} rx frames:\n${out}")
endif()
message(STATUS "${out}")
