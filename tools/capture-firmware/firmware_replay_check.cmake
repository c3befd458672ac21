# cmake -DVNET_REPLAY=.. -DTRACE=corpus/traces/firmware/NAME.jsonl -P firmware_replay_check.cmake
#
# A committed capture of a firmware's virtio-net driver (iPXE, EDK2's
# VirtioNetDxe; capture-firmware.sh) converted with nothing of the NIC left
# unattributed, and replayed in device mode against this build of our
# driver: PASS, every captured rx frame delivered byte-exact and in order,
# at least one. No QEMU, no firmware: only the committed trace.
if(NOT EXISTS ${TRACE})
  message(FATAL_ERROR "no trace ${TRACE}")
endif()
file(STRINGS ${TRACE} header LIMIT_COUNT 1)
if(NOT header MATCHES "\"by\":\"trace2json\"" OR NOT header MATCHES "\"replay\":\"device\"")
  message(FATAL_ERROR "${TRACE} is not a trace2json conversion that asks for device mode:\n${header}")
endif()
# The conversion attributed every NIC event: no pop, fill or frame left over.
foreach(counter unattributed_pops unmatched_fills frames_missing frames_unused frame_len_mismatch
        offset_guessed)
  if(NOT header MATCHES "\"${counter}\":0[,}]")
    message(FATAL_ERROR "${TRACE}: capture.stats.${counter} is not 0:\n${header}")
  endif()
endforeach()
if(header MATCHES "\"nic_registers\":0[,}]" OR NOT header MATCHES "\"nic_registers\":[1-9]")
  message(FATAL_ERROR "${TRACE}: no register access of the NIC was attributed:\n${header}")
endif()
get_filename_component(name ${TRACE} NAME)
execute_process(COMMAND ${VNET_REPLAY} --no-progress ${TRACE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
if(NOT rc EQUAL 0 OR NOT out MATCHES "PASS [^\n]*${name} \\([0-9]+ events, device mode\\)")
  message(FATAL_ERROR "vnet-replay (device mode) ${name} failed (${rc}):\n${out}\n${err}")
endif()
if(NOT out MATCHES "rx: ([0-9]+) frames captured, ([0-9]+) delivered byte-exact in order")
  message(FATAL_ERROR "device mode did not report its rx frames:\n${out}")
endif()
if(NOT CMAKE_MATCH_1 EQUAL CMAKE_MATCH_2 OR CMAKE_MATCH_1 EQUAL 0)
  message(FATAL_ERROR "device mode delivered ${CMAKE_MATCH_2} of ${CMAKE_MATCH_1} rx frames:\n${out}")
endif()
message(STATUS "${out}")
