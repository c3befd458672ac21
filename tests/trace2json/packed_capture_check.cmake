# cmake -DTRACE2JSON=.. -DVNET_REPLAY=.. -DCAPTURE=dir -DOUT=file.jsonl
#       -P packed_capture_check.cmake
#
# A committed QEMU -trace capture of our guest with packed=on (issue 14):
# CAPTURE/qemu.log.gz (QEMU 7.2's log, the lines of other devices' noisy
# regions left out) and CAPTURE/frames.pcap. trace2json converts it with
# nothing unattributed -- QEMU logs no flush on a packed ring, so every
# dev_flush is derived (capture.stats.packed_flushes_derived) -- and the
# conversion replays PASS strictly (the driver's register accesses, used
# descriptors written into its packed ring, every tx frame byte-exact)
# and in device mode (every rx frame delivered).
file(REMOVE ${OUT})
execute_process(COMMAND ${TRACE2JSON} ${CAPTURE}/qemu.log.gz --pcap ${CAPTURE}/frames.pcap -q
                        -o ${OUT}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "trace2json of the packed capture failed (${rc}):\n${out}\n${err}")
endif()
file(READ ${OUT} header LIMIT 16384)
string(REGEX MATCH "^[^\n]*" header "${header}")
foreach(want "\"ring\":\"packed\"" "\"packed_flushes_derived\":[1-9]" "\"packed_fill_gaps\":0"
             "\"negotiated\":\"0x5[0-9a-f]*\"")
  if(NOT header MATCHES "${want}")
    message(FATAL_ERROR "the converted packed capture's header lacks ${want}:\n${header}")
  endif()
endforeach()
foreach(mode strict device)
  execute_process(COMMAND ${VNET_REPLAY} --no-progress --mode ${mode} ${OUT}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "PASS ")
    message(FATAL_ERROR "vnet-replay --mode ${mode} of the packed capture failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endforeach()
