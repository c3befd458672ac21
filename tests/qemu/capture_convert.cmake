# cmake -DVNET_QEMU=.. -DVNET_GUEST=.. -DTRACE2JSON=.. -DVNET_REPLAY=.. -DDIR=capture-dir
#       "-DARGS=-M;pc;-t;legacy;..." -P capture_convert.cmake
#
# One run of the guest seen two ways (issue 6, cross-check): vnet-qemu
# --qemu-trace DIR records it in the guest (DIR/guest.jsonl) and captures
# QEMU's own trace log and pcap (DIR/qemu.log, DIR/frames.pcap, with
# ioeventfd=off). trace2json converts the capture and cross-checks it
# against the recording: every register access after the driver started,
# every rx and tx frame, must agree. Then the converted capture replays
# with vnet-replay in both modes: strict (its register sequence and frames
# against this build of the driver) and device (its device side driving
# the mock device; every captured rx frame delivered).
#
# With -DPACKED=1 (ARGS has -p packed=on) the conversion must be of a
# packed ring (capture.ring "packed", every flush derived, no fill gap) and
# the strict replay drives the driver's packed ring (issue 14).
#
# With -DIRQ=msix|intx the guest ran interrupt-driven (ARGS has --irq): the
# conversion must hold the device's deliveries (dev_msi / dev_intx, counted
# in the header's capture.interrupts) and the strict replay must attach in
# that mode and deliver them.
file(REMOVE_RECURSE ${DIR})
execute_process(COMMAND ${VNET_QEMU} --kernel ${VNET_GUEST} -q --qemu-trace ${DIR} ${ARGS}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 180)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "vnet-qemu --qemu-trace failed (${rc}):\n${out}\n${err}")
endif()
foreach(f qemu.log frames.pcap guest.jsonl capture.json qemu-trace-events)
  if(NOT EXISTS ${DIR}/${f})
    message(FATAL_ERROR "capture lacks ${f}")
  endif()
endforeach()
execute_process(COMMAND ${TRACE2JSON} ${DIR}/qemu.log --pcap ${DIR}/frames.pcap
                        -o ${DIR}/converted.jsonl --cross-check ${DIR}/guest.jsonl
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "trace2json cross-check failed (${rc}):\n${out}\n${err}")
endif()
foreach(want "registers: [1-9][0-9]* accesses agree" "rx frames: [1-9][0-9]* frames agree"
             "tx frames: [1-9][0-9]* frames agree" "cross-check: AGREE")
  if(NOT out MATCHES "${want}")
    message(FATAL_ERROR "cross-check output lacks '${want}':\n${out}\n${err}")
  endif()
endforeach()
message(STATUS "${out}${err}")
if(DEFINED IRQ)
  file(READ ${DIR}/converted.jsonl header LIMIT 8192)
  string(REGEX MATCH "^[^\n]*" header "${header}")
  if(IRQ STREQUAL "msix")
    set(want "\"interrupts\":{\"msi\":[1-9]")
  else()
    set(want "\"intx\":[1-9][0-9]*,\"intx_gsi\":[0-9]")
  endif()
  if(NOT header MATCHES "${want}")
    message(FATAL_ERROR "the converted capture has no ${IRQ} deliveries (${want}):\n${header}")
  endif()
endif()
if(DEFINED PACKED)
  file(READ ${DIR}/converted.jsonl header LIMIT 16384)
  string(REGEX MATCH "^[^\n]*" header "${header}")
  foreach(want "\"ring\":\"packed\"" "\"packed_flushes_derived\":[1-9]" "\"packed_fill_gaps\":0")
    if(NOT header MATCHES "${want}")
      message(FATAL_ERROR "the converted capture is not a packed ring's (${want}):\n${header}")
    endif()
  endforeach()
endif()
foreach(mode strict device)
  execute_process(COMMAND ${VNET_REPLAY} --no-progress --mode ${mode} ${DIR}/converted.jsonl
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "PASS .*converted.jsonl")
    message(FATAL_ERROR "vnet-replay --mode ${mode} of the converted capture failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
  if(mode STREQUAL "strict" AND DEFINED IRQ AND NOT out MATCHES "interrupts: attached asking for ${IRQ}")
    message(FATAL_ERROR "the strict replay did not attach asking for ${IRQ}:\n${out}")
  endif()
endforeach()
if(NOT out MATCHES "rx: ([0-9]+) frames captured, ([0-9]+) delivered byte-exact in order")
  message(FATAL_ERROR "device mode did not report its rx frames:\n${out}")
endif()
if(NOT CMAKE_MATCH_1 EQUAL CMAKE_MATCH_2 OR CMAKE_MATCH_1 EQUAL 0)
  message(FATAL_ERROR "device mode delivered ${CMAKE_MATCH_2} of ${CMAKE_MATCH_1} rx frames:\n${out}")
endif()
