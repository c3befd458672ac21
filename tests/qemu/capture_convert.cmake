# cmake -DVNET_QEMU=.. -DVNET_GUEST=.. -DTRACE2JSON=.. -DDIR=capture-dir
#       "-DARGS=-M;pc;-t;legacy;..." -P capture_convert.cmake
#
# One run of the guest seen two ways (issue 6, cross-check): vnet-qemu
# --qemu-trace DIR records it in the guest (DIR/guest.jsonl) and captures
# QEMU's own trace log and pcap (DIR/qemu.log, DIR/frames.pcap, with
# ioeventfd=off). trace2json converts the capture and cross-checks it
# against the recording: every register access after the driver started,
# every rx and tx frame, must agree.
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
